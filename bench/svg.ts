// A small pure SVG renderer for the benchmark report: line charts and grouped bar charts with axes,
// ticks and a legend. Text in, text out; no DOM, no fonts measured (labels are sized by character
// count), so the same data always gives the same bytes.

export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Tick positions on the x axis (default: every x in the data). */
  xTicks?: number[];
  width?: number;
  height?: number;
}

export interface BarChart {
  title: string;
  yLabel: string;
  /** One name per bar within a group (the legend). */
  seriesNames: string[];
  /** A label may have two lines, separated by a newline. */
  groups: Array<{ label: string; values: Array<number | null> }>;
  colors?: string[];
  width?: number;
  height?: number;
}

export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#17becf',
  '#7f7f7f',
];

const MARGIN = { left: 70, right: 20, top: 40, bottom: 50 };
const LEGEND_ROW = 16;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About five round tick values from 0 (or below) up to at least max. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(min / step) * step; v < max + step * 0.999; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** 1234 → "1234", 12345 → "12.3k", 0.25 → "0.25". */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return `${Number(v.toPrecision(3))}`;
}

function num(n: number): string {
  return Number(n.toFixed(1)).toString();
}

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

interface Axes {
  x0: number;
  y0: number;
  w: number;
  h: number;
  y: (v: number) => number;
  lines: string[];
}

/** The plot area, y grid lines and labels; legend rows take room at the bottom. */
function yAxis(width: number, height: number, legendRows: number, yMax: number, yLabel: string): Axes {
  const ticks = niceTicks(0, yMax);
  const top = ticks[ticks.length - 1]!;
  const x0 = MARGIN.left;
  const y0 = MARGIN.top;
  const w = width - MARGIN.left - MARGIN.right;
  const h = height - MARGIN.top - MARGIN.bottom - legendRows * LEGEND_ROW;
  const y = (v: number) => y0 + h - (v / top) * h;
  const lines: string[] = [];
  for (const t of ticks) {
    lines.push(`<line x1="${x0}" x2="${x0 + w}" y1="${num(y(t))}" y2="${num(y(t))}" stroke="#e0e0e0"/>`);
    lines.push(`<text x="${x0 - 6}" y="${num(y(t) + 4)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  lines.push(`<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y0 + h}" stroke="#333"/>`);
  lines.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y0 + h}" y2="${y0 + h}" stroke="#333"/>`);
  lines.push(
    `<text transform="translate(16 ${num(y0 + h / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  return { x0, y0, w, h, y, lines };
}

/** Legend entries laid out left to right, wrapping; returns the SVG and the number of rows. */
function legend(
  width: number,
  top: number,
  entries: Array<{ name: string; color: string; dashed?: boolean; bar?: boolean }>,
): { svg: string[]; rows: number } {
  const svg: string[] = [];
  let x = MARGIN.left;
  let row = 0;
  for (const e of entries) {
    const wEntry = 34 + e.name.length * 7;
    if (x + wEntry > width - MARGIN.right && x > MARGIN.left) {
      x = MARGIN.left;
      row++;
    }
    const y = top + row * LEGEND_ROW;
    svg.push(
      e.bar
        ? `<rect x="${x}" y="${y - 9}" width="20" height="10" fill="${e.color}"/>`
        : `<line x1="${x}" x2="${x + 20}" y1="${y - 4}" y2="${y - 4}" stroke="${e.color}" stroke-width="2"${e.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
    );
    svg.push(`<text x="${x + 25}" y="${y}">${escapeXml(e.name)}</text>`);
    x += wEntry;
  }
  return { svg, rows: entries.length ? row + 1 : 0 };
}

export function renderLineChart(c: LineChart): string {
  const width = c.width ?? 720;
  const height = c.height ?? 400;
  const entries = c.series.map((s, i) => ({
    name: s.name,
    color: s.color ?? PALETTE[i % PALETTE.length]!,
    dashed: s.dashed,
  }));
  const rows = legend(width, 0, entries).rows;
  const ys = c.series.flatMap((s) => s.points.map((p) => p[1]));
  const xs =
    c.xTicks ?? [...new Set(c.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const ax = yAxis(width, height, rows, ys.length ? Math.max(...ys) : 1, c.yLabel);
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  const x = (v: number) => ax.x0 + (xMax === xMin ? ax.w / 2 : ((v - xMin) / (xMax - xMin)) * ax.w);
  const body = [...ax.lines];
  for (const t of xs) {
    body.push(
      `<line x1="${num(x(t))}" x2="${num(x(t))}" y1="${ax.y0 + ax.h}" y2="${ax.y0 + ax.h + 4}" stroke="#333"/>`,
    );
    body.push(`<text x="${num(x(t))}" y="${ax.y0 + ax.h + 17}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  body.push(
    `<text x="${num(ax.x0 + ax.w / 2)}" y="${ax.y0 + ax.h + 34}" text-anchor="middle">${escapeXml(c.xLabel)}</text>`,
  );
  c.series.forEach((s, i) => {
    const color = entries[i]!.color;
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    if (pts.length > 1)
      body.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${pts
          .map((p) => `${num(x(p[0]))},${num(ax.y(p[1]))}`)
          .join(' ')}"/>`,
      );
    for (const p of pts)
      body.push(`<circle cx="${num(x(p[0]))}" cy="${num(ax.y(p[1]))}" r="3" fill="${color}"/>`);
  });
  body.push(...legend(width, ax.y0 + ax.h + 52, entries).svg);
  return frame(width, height + 0, c.title, body);
}

export function renderBarChart(c: BarChart): string {
  const width = c.width ?? 720;
  const height = c.height ?? 400;
  const colors = c.seriesNames.map((_, i) => c.colors?.[i] ?? PALETTE[i % PALETTE.length]!);
  const entries = c.seriesNames.map((name, i) => ({ name, color: colors[i]!, bar: true }));
  const rows = legend(width, 0, entries).rows;
  const vals = c.groups.flatMap((g) => g.values.filter((v): v is number => v !== null));
  const ax = yAxis(width, height, rows, vals.length ? Math.max(...vals) : 1, c.yLabel);
  const body = [...ax.lines];
  const gw = ax.w / Math.max(1, c.groups.length);
  const bw = (gw * 0.8) / Math.max(1, c.seriesNames.length);
  c.groups.forEach((g, gi) => {
    const gx = ax.x0 + gi * gw + gw * 0.1;
    g.values.forEach((v, si) => {
      if (v === null) return;
      const top = ax.y(v);
      body.push(
        `<rect x="${num(gx + si * bw)}" y="${num(top)}" width="${num(bw * 0.92)}" height="${num(ax.y0 + ax.h - top)}" fill="${colors[si]}"><title>${escapeXml(`${g.label.replace('\n', ' ')} ${c.seriesNames[si]}: ${formatTick(v)}`)}</title></rect>`,
      );
    });
    g.label.split('\n').forEach((line, i) => {
      body.push(
        `<text x="${num(gx + gw * 0.4)}" y="${ax.y0 + ax.h + 15 + i * 13}" text-anchor="middle">${escapeXml(line)}</text>`,
      );
    });
  });
  body.push(...legend(width, ax.y0 + ax.h + 44, entries).svg);
  return frame(width, height, c.title, body);
}
