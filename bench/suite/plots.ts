// The report's plots, as SVG text keyed by file name: W3 throughput by write share, W4 write
// throughput as observers or voters are added, W1 latency, W5 reads, W9 fan-out delay, W10
// failover and the resident memory at the preload. Pure: aggregates in, SVG out.

import { TARGET_NAME as NAME, ENSEMBLE_TARGETS as TARGETS, topology } from '../cluster.ts';
import { PALETTE, renderBarChart, renderLineChart } from '../svg.ts';
import { type Aggregate, find } from './aggregate.ts';
import { OWN_CORES, type WorkloadId } from './types.ts';

const TARGET_COLORS = ['#1f77b4', '#d62728'];
/** Lighter shades of TARGET_COLORS. */
const OWN_CORES_COLORS = ['#9ecae1', '#fc9272'];

export type PlotKey = WorkloadId | 'rss';

function w3(aggs: Aggregate[]): string | null {
  const w = aggs.filter((a) => a.workload === 'W3' && a.rounds > 0);
  if (!w.length) return null;
  const topos = [...new Set(w.map((a) => a.topology))].sort();
  const series = topos.flatMap((t, i) =>
    TARGETS.map((target) => ({
      name: `${NAME[target]} ${t}`,
      color: PALETTE[i % PALETTE.length],
      dashed: target === 'zookeeper',
      points: w
        .filter((a) => a.topology === t && a.target === target && a.values.opsPerSec !== null)
        .map((a) => [Number(a.variant.slice(1)), a.values.opsPerSec!] as [number, number]),
    })),
  );
  return renderLineChart({
    title: 'W3: throughput by write share (solid: peer, dashed: ZooKeeper)',
    xLabel: 'writes, % of requests',
    yLabel: 'ops/s',
    series: series.filter((s) => s.points.length > 0),
  });
}

type Point = [number, number];

/** A line per target for each spec, of the aggregates it keeps, in the targets' colours. */
function targetLines(
  w: Aggregate[],
  specs: Array<{
    name: (target: string) => string;
    dashed?: boolean;
    /** Colours by target, instead of TARGET_COLORS. */
    colors?: string[];
    keep?: (a: Aggregate) => boolean;
    point: (a: Aggregate) => Point;
  }>,
) {
  return TARGETS.flatMap((target, i) =>
    specs.map((s) => ({
      name: s.name(NAME[target]),
      color: (s.colors ?? TARGET_COLORS)[i],
      dashed: s.dashed,
      points: w.filter((a) => a.target === target && (s.keep?.(a) ?? true)).map(s.point),
    })),
  );
}

function w4(aggs: Aggregate[]): string | null {
  const w = aggs.filter((a) => a.workload === 'W4' && a.rounds > 0);
  if (!w.length) return null;
  const point = (a: Aggregate): Point => {
    const t = topology(a.topology);
    return [t.voters + t.observers, a.values.opsPerSec ?? 0];
  };
  const shared = (a: Aggregate) => a.variant === 'writes';
  const series = targetLines(w, [
    {
      name: (t) => `${t}, 3 voters + observers`,
      keep: (a) => shared(a) && a.topology.startsWith('3+'),
      point,
    },
    {
      name: (t) => `${t}, voters only`,
      dashed: true,
      keep: (a) => shared(a) && a.topology.endsWith('+0'),
      point,
    },
    {
      name: (t) => `${t}, 3 voters + observers, each role on its own cores`,
      colors: OWN_CORES_COLORS,
      keep: (a) => a.variant === OWN_CORES,
      point,
    },
  ]);
  return renderLineChart({
    title: 'W4: write throughput as members are added',
    xLabel: 'members (3 voters + observers, or voters only)',
    yLabel: 'writes/s',
    series: series.filter((s) => s.points.length > 0),
  });
}

function w1(aggs: Aggregate[]): string | null {
  const w = aggs.filter((a) => a.workload === 'W1' && a.rounds > 0 && a.target === 'peer');
  if (!w.length) return null;
  // The largest value size, every placement and request type.
  const sizes = w.map((a) => (a.detail as { size?: number } | null)?.size ?? 0);
  const size = Math.max(...sizes);
  const groups = w
    .filter((a) => (a.detail as { size?: number } | null)?.size === size)
    .map((a) => {
      const z = find(aggs, 'W1', a.topology, a.variant, 'zookeeper');
      const d = a.detail as { placement: string; phase: string };
      return {
        label: `${a.topology === '1+0' ? 'S1' : a.topology} ${d.placement === 'standalone' ? '' : d.placement}\n${d.phase}`,
        values: [a.values.p50 ?? null, z?.values.p50 ?? null, a.values.p99 ?? null, z?.values.p99 ?? null],
      };
    });
  return renderBarChart({
    title: `W1: one synchronous client, ${size}-byte values`,
    yLabel: 'latency, ms',
    seriesNames: ['peer p50', 'ZooKeeper p50', 'peer p99', 'ZooKeeper p99'],
    colors: ['#1f77b4', '#d62728', '#aec7e8', '#ff9896'],
    groups,
    width: Math.max(720, groups.length * 95),
  });
}

function bars(
  aggs: Aggregate[],
  workload: WorkloadId,
  key: string,
  title: string,
  yLabel: string,
  label: (a: Aggregate) => string,
): string | null {
  const w = aggs.filter(
    (a) => a.workload === workload && a.rounds > 0 && a.target === 'peer' && a.values[key] != null,
  );
  if (!w.length) return null;
  return renderBarChart({
    title,
    yLabel,
    seriesNames: TARGETS.map((t) => NAME[t]),
    colors: TARGET_COLORS,
    groups: w.map((a) => ({
      label: label(a),
      values: [
        a.values[key] ?? null,
        find(aggs, workload, a.topology, a.variant, 'zookeeper')?.values[key] ?? null,
      ],
    })),
  });
}

function w9(aggs: Aggregate[]): string | null {
  const w = aggs.filter((a) => a.workload === 'W9' && a.variant.startsWith('fan-out') && a.rounds > 0);
  if (!w.length) return null;
  const series = targetLines(w, [
    {
      name: (t) => `${t} last watcher (median)`,
      point: (a) => [a.values.watchers ?? 0, a.values.lastP50 ?? 0],
    },
    {
      name: (t) => `${t} all watchers p50`,
      dashed: true,
      point: (a) => [a.values.watchers ?? 0, a.values.p50 ?? 0],
    },
  ]);
  return renderLineChart({
    title: 'W9: one write, N watchers: delay to the events',
    xLabel: 'watchers (sessions)',
    yLabel: 'ms from the write',
    series: series.filter((s) => s.points.length > 0),
  });
}

/** SVG text per plot key, for the plots the aggregates have data for. */
export function renderPlots(aggs: Aggregate[]): Partial<Record<PlotKey, string>> {
  const out: Partial<Record<PlotKey, string>> = {};
  const put = (k: PlotKey, svg: string | null) => {
    if (svg) out[k] = svg;
  };
  put('W1', w1(aggs));
  put('W3', w3(aggs));
  put('W4', w4(aggs));
  put(
    'W5',
    bars(aggs, 'W5', 'opsPerSec', 'W5: reads/s with sessions on every server', 'reads/s', (a) => a.topology),
  );
  put(
    'W6',
    bars(aggs, 'W6', 'p99', 'W6: observer visibility lag p99', 'ms', () => 'lag p99 at half load'),
  );
  put('W9', w9(aggs));
  put(
    'W10',
    bars(aggs, 'W10', 'firstWriteMs', 'W10: first write after kill -9 of the leader', 'ms', (a) => a.variant),
  );
  put(
    'rss',
    bars(
      aggs,
      'W7',
      'rssTotalMiB',
      'Resident memory of all members after the preload',
      'MiB',
      (a) => `${a.values.znodes} znodes`,
    ),
  );
  return out;
}
