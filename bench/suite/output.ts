// Writes a suite report: DIR/benchmarks.md, and beside it DIR/benchmarks/report.json and the plots
// DIR/benchmarks/*.svg, linked from the Markdown. Also re-renders an existing JSON report.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aggregate, aggregateKeyOf, judgeTargets, ratios } from './aggregate.ts';
import { type PlotKey, renderPlots } from './plots.ts';
import { renderSuiteMarkdown } from './report.ts';
import type { SuiteReport } from './runner.ts';

const PLOT_FILES: Record<PlotKey, string> = {
  W1: 'w1-latency.svg',
  W3: 'w3-throughput.svg',
  W4: 'w4-members.svg',
  W5: 'w5-reads.svg',
  W6: 'w6-lag.svg',
  W7: 'w7-resync.svg',
  W9: 'w9-fanout.svg',
  W10: 'w10-failover.svg',
  rss: 'rss-preload.svg',
};

export interface WrittenReport {
  markdown: string;
  files: string[];
}

/** Renders the Markdown (and, with outDir, writes it, the JSON and the plots); returns what it wrote. */
export function writeSuiteReport(
  report: SuiteReport,
  outDir: string | undefined,
  notes?: string,
): WrittenReport {
  const plots = renderPlots(report.aggregates);
  const links: Partial<Record<PlotKey, string>> = {};
  for (const k of Object.keys(plots) as PlotKey[]) links[k] = `benchmarks/${PLOT_FILES[k]}`;
  const markdown = renderSuiteMarkdown(report, { plots: outDir ? links : {}, notes });
  if (!outDir) return { markdown, files: [] };
  const sub = join(outDir, 'benchmarks');
  mkdirSync(sub, { recursive: true });
  const files: string[] = [];
  const write = (path: string, text: string) => {
    writeFileSync(path, text);
    files.push(path);
  };
  write(join(outDir, 'benchmarks.md'), markdown);
  // Five significant digits are plenty for measurements, and halve the file.
  const round = (_k: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(5)) : v;
  write(join(sub, 'report.json'), `${JSON.stringify(report, round)}\n`);
  for (const [k, svg] of Object.entries(plots)) write(join(sub, PLOT_FILES[k as PlotKey]), svg!);
  return { markdown, files };
}

/** A report read back from its JSON, with the derived parts recomputed by the current code. */
export function readSuiteReport(path: string): SuiteReport {
  const r = JSON.parse(readFileSync(path, 'utf8')) as SuiteReport;
  // Histograms are not in the JSON: keep the stored latency summaries, recompute the rest.
  const stored = new Map(r.aggregates.map((a) => [aggregateKeyOf(a), a]));
  const aggs = aggregate(r.measurements.map((m) => ({ ...m })));
  for (const a of aggs) {
    const s = stored.get(aggregateKeyOf(a));
    if (s?.latency) {
      a.latency = s.latency;
      for (const k of ['p50', 'p99', 'p999', 'max'] as const)
        if (k in a.values) a.values[k] = s.values[k] ?? null;
    }
  }
  return { ...r, aggregates: aggs, ratios: ratios(aggs), targets: judgeTargets(aggs) };
}
