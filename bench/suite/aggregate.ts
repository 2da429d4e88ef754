// From measurements to results: per workload variant, topology and target, the median of every
// number over the rounds (latency percentiles instead over every sample of every round, from the
// merged histograms), then peer ÷ ZooKeeper ratios, and the issue's targets judged from them.

import { type EnsembleTarget, topology } from '../cluster.ts';
import { Histogram, type HistogramSummary } from '../histogram.ts';
import { HALF_RATE, type Measurement, OWN_CORES, type WorkloadId } from './types.ts';

export interface Aggregate {
  workload: WorkloadId;
  topology: string;
  variant: string;
  target: EnsembleTarget;
  /** Rounds that succeeded, and that failed. */
  rounds: number;
  failures: number;
  /** Medians over the successful rounds (p50/p99/p999/max: from the merged histogram when there is one). */
  values: Record<string, number | null>;
  /** Each successful round's value of every number. */
  byRound: Record<string, Array<number | null>>;
  latency: HistogramSummary | null;
  /** The first successful round's details. */
  detail: Record<string, unknown> | null;
}

export interface Ratio {
  workload: WorkloadId;
  topology: string;
  variant: string;
  /** peer ÷ ZooKeeper for every number both have (and ZooKeeper's is not 0). */
  values: Record<string, number>;
}

export function median(v: number[]): number {
  if (v.length === 0) return 0;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const keyOf = (m: { workload: string; topology: string; variant: string }) =>
  `${m.workload}|${m.topology}|${m.variant}`;

/** keyOf() and the target: the measurements that make one aggregate share it. */
export const aggregateKeyOf = (m: Parameters<typeof keyOf>[0] & { target: string }) =>
  `${keyOf(m)}|${m.target}`;

export function aggregate(measurements: Measurement[]): Aggregate[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of measurements) {
    const k = aggregateKeyOf(m);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(m);
  }
  const out: Aggregate[] = [];
  for (const ms of groups.values()) {
    const ok = ms.filter((m) => m.ok).sort((a, b) => a.round - b.round);
    const first = ms[0]!;
    const keys = [...new Set(ok.flatMap((m) => Object.keys(m.values)))];
    const values: Record<string, number | null> = {};
    const byRound: Record<string, Array<number | null>> = {};
    for (const k of keys) {
      const v = ok.map((m) => m.values[k] ?? null);
      byRound[k] = v;
      const nums = v.filter((x): x is number => x !== null && Number.isFinite(x));
      values[k] = nums.length ? Number(median(nums).toPrecision(6)) : null;
    }
    const hs = ok.filter((m) => m.histogram).map((m) => m.histogram!);
    let latency: HistogramSummary | null = null;
    if (hs.length) {
      const h = new Histogram();
      for (const x of hs) h.merge(x);
      latency = h.summary();
      if ('p50' in values) values.p50 = latency.p50;
      if ('p99' in values) values.p99 = latency.p99;
      if ('p999' in values) values.p999 = latency.p999;
      if ('max' in values) values.max = latency.max;
    }
    out.push({
      workload: first.workload,
      topology: first.topology,
      variant: first.variant,
      target: first.target,
      rounds: ok.length,
      failures: ms.length - ok.length,
      values,
      byRound,
      latency,
      detail: ok[0]?.detail ?? null,
    });
  }
  return out;
}

export function ratios(aggs: Aggregate[]): Ratio[] {
  const out: Ratio[] = [];
  for (const p of aggs) {
    if (p.target !== 'peer' || p.rounds === 0) continue;
    const z = aggs.find((a) => a.target === 'zookeeper' && keyOf(a) === keyOf(p) && a.rounds > 0);
    if (!z) continue;
    const values: Record<string, number> = {};
    for (const [k, v] of Object.entries(p.values)) {
      const w = z.values[k];
      if (v !== null && w !== null && w !== undefined && w !== 0) values[k] = Number((v / w).toPrecision(4));
    }
    out.push({ workload: p.workload, topology: p.topology, variant: p.variant, values });
  }
  return out;
}

export function find(
  aggs: Aggregate[],
  workload: WorkloadId,
  topology: string,
  variant: string,
  target: EnsembleTarget,
): Aggregate | undefined {
  return aggs.find(
    (a) =>
      a.workload === workload &&
      a.topology === topology &&
      a.variant === variant &&
      a.target === target &&
      a.rounds > 0,
  );
}

export interface TargetVerdict {
  /** The issue's wording. */
  target: string;
  /** true: met, false: not met, null: not measured. */
  met: boolean | null;
  /** The numbers behind the verdict. */
  evidence: string;
}

/** A relative change as "+4.0%" / "−12.9%". */
export const pctChange = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}%`;
const x2 = (x: number) => `${x.toFixed(2)}×`;

/** The targets of issue 8, judged from the aggregates. */
export function judgeTargets(aggs: Aggregate[]): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  const ratioOf = (w: WorkloadId, topo: string, variant: string, key: string) => {
    const p = find(aggs, w, topo, variant, 'peer')?.values[key];
    const z = find(aggs, w, topo, variant, 'zookeeper')?.values[key];
    return p != null && z != null && z !== 0 ? p / z : null;
  };
  const w3Topos = [...new Set(aggs.filter((a) => a.workload === 'W3').map((a) => a.topology))];
  for (const [variant, what] of [
    ['w100', 'write'],
    ['w0', 'read'],
  ] as const) {
    const rs = w3Topos
      .map((t) => [t, ratioOf('W3', t, variant, 'opsPerSec')] as const)
      .filter(([, r]) => r !== null);
    out.push({
      target: `W3 ${what} throughput (${variant === 'w100' ? '100% writes' : '100% reads'}) at least 1.0× ZooKeeper`,
      met: rs.length ? rs.every(([, r]) => r! >= 1) : null,
      evidence: rs.map(([t, r]) => `${t}: ${x2(r!)}`).join(', ') || 'not measured',
    });
  }
  // W4: each observer costs at most 5% of write throughput (peer). On shared cores against 3+0's
  // ensembles; on own cores against the same ensemble with its observers stopped: at saturation
  // (vsObserversStopped, reported) and, judged, by the voters' CPU per write at half rate
  // (votersCpuVsObserversStopped), read as the throughput the voters' cores would lose: 1/(1 + x) - 1.
  // On shared cores an observer's own work comes out of the voters' CPU, which on separate machines
  // it does not; at saturation identical windows differ by more than the 5% to be resolved.
  const w4Costs = (variant: string) => {
    const obs = [
      ...new Set(
        aggs
          .filter((a) => a.workload === 'W4' && a.variant === variant && /^3\+[1-9]/.test(a.topology))
          .map((a) => a.topology),
      ),
    ];
    return obs
      .map((t) => {
        const k = topology(t).observers;
        const values = (target: EnsembleTarget) => find(aggs, 'W4', t, variant, target)?.values;
        const vs3 = (key: string, target: EnsembleTarget) => {
          const a = values(target)?.[key];
          const b = find(aggs, 'W4', '3+0', variant, target)?.values[key];
          return a && b ? (a / b - 1) / k : null;
        };
        const writes = (target: EnsembleTarget) => {
          if (variant === HALF_RATE) {
            const x = values(target)?.votersCpuVsObserversStopped;
            return x == null ? null : (1 / (1 + x) - 1) / k;
          }
          if (variant !== OWN_CORES) return vs3('opsPerSec', target);
          const x = values(target)?.vsObserversStopped;
          return x == null ? null : x / k;
        };
        return {
          t,
          per: writes('peer'),
          zk: writes('zookeeper'),
          leaderCpu: variant === HALF_RATE ? null : vs3('leaderCpuUsPerOp', 'peer'),
        };
      })
      .filter((c) => c.per !== null);
  };
  const describe = (costs: ReturnType<typeof w4Costs>) =>
    costs
      .map(
        (c) =>
          `${c.t}: ${pctChange(c.per!)} per observer${c.zk !== null ? ` (ZooKeeper ${pctChange(c.zk)})` : ''}` +
          (c.leaderCpu !== null ? `, leader CPU per write ${pctChange(c.leaderCpu)} per observer` : ''),
      )
      .join('; ');
  const half = w4Costs(HALF_RATE);
  const own = w4Costs(OWN_CORES);
  const shared = w4Costs('writes');
  const judged = half.length ? half : own.length ? own : shared;
  const voters5 = (t: 'peer' | 'zookeeper') => {
    const a = find(aggs, 'W4', '5+0', 'writes', t)?.values.opsPerSec;
    const b = find(aggs, 'W4', '3+0', 'writes', t)?.values.opsPerSec;
    return a && b ? (a / b - 1) / 2 : null;
  };
  const v5 = voters5('peer');
  const v5z = voters5('zookeeper');
  out.push({
    target: 'W4: each observer costs at most 5% of write throughput',
    met: judged.length ? judged.every((c) => c.per! >= -0.05) : null,
    evidence:
      [
        half.length
          ? "each role on its own cores, the voters' CPU per write at half rate against the same ensemble with its " +
            `observers stopped, as the throughput it would cost them (judged): ${describe(half)}`
          : '',
        own.length
          ? `each role on its own cores, throughput at saturation against the same ensemble with its observers stopped${judged === own ? ' (judged)' : ''}: ${describe(own)}`
          : '',
        shared.length ? `all on shared cores: ${describe(shared)}` : '',
        v5 !== null
          ? `3 → 5 voters, shared cores: ${pctChange(v5)} per voter${v5z !== null ? ` (ZooKeeper ${pctChange(v5z)})` : ''}`
          : '',
      ]
        .filter(Boolean)
        .join(' — ') || 'not measured',
  });
  const w6 = find(aggs, 'W6', '3+1', 'lag', 'peer');
  const w6z = find(aggs, 'W6', '3+1', 'lag', 'zookeeper');
  out.push({
    target: 'W6: observer lag p99 under 5 ms at half load',
    met: w6?.values.p99 != null ? w6.values.p99 < 5 : null,
    evidence: w6
      ? `peer p99 ${w6.values.p99} ms at ${w6.values.writesPerSec} writes/s${w6z ? `; ZooKeeper p99 ${w6z.values.p99} ms at ${w6z.values.writesPerSec} writes/s` : ''}`
      : 'not measured',
  });
  const rp = find(aggs, 'W7', '3+1', 'preload', 'peer');
  const rz = find(aggs, 'W7', '3+1', 'preload', 'zookeeper');
  const rr =
    rp?.values.rssTotalMiB && rz?.values.rssTotalMiB ? rp.values.rssTotalMiB / rz.values.rssTotalMiB : null;
  out.push({
    target: `RSS at most 0.5× ZooKeeper's at ${rp?.values.znodes ?? '100k'} znodes`,
    met: rr === null ? null : rr <= 0.5,
    evidence:
      rr === null
        ? 'not measured'
        : `all members at rest: peer ${rp!.values.rssTotalMiB} MiB, ZooKeeper ${rz!.values.rssTotalMiB} MiB (${x2(rr)}); ` +
          `right after the preload: ${rp!.values.endTotalMiB ?? '?'} vs ${rz!.values.endTotalMiB ?? '?'} MiB; ` +
          `leader ${rp!.values.rssLeaderMiB} vs ${rz!.values.rssLeaderMiB} MiB; anonymous RSS of all members ` +
          `${rp!.values.anonTotalMiB} vs ${rz!.values.anonTotalMiB} MiB`,
  });
  const w10 = aggs.filter((a) => a.workload === 'W10' && a.target === 'peer' && a.rounds > 0);
  out.push({
    target: 'W10: first write within 2 s of a leader kill, no session expired',
    met: w10.length
      ? w10.every(
          (a) => a.values.firstWriteMs != null && a.values.firstWriteMs <= 2000 && a.values.expired === 0,
        )
      : null,
    evidence:
      w10
        .map((a) => {
          const z = find(aggs, 'W10', a.topology, a.variant, 'zookeeper');
          return (
            `${a.variant}: first write ${a.values.firstWriteMs ?? 'never'} ms, ${a.values.expired} expired` +
            (z ? ` (ZooKeeper ${z.values.firstWriteMs ?? 'never'} ms, ${z.values.expired} expired)` : '')
          );
        })
        .join('; ') || 'not measured',
  });
  return out;
}
