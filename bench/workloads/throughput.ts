// The closed-loop saturation workloads: W3 (read/write sweep, clients on the servers that do not
// lead), W4 (100% writes, clients on the voters only, so observers add only their replication
// cost) and W5 (100% reads, the same number of sessions on every server, observers included).

import type { Ensemble } from '../../e2e/lib/ensemble.ts';
import { type LoadEndpoint, prepare, runLoadSampled } from '../loadgen.ts';
import { ownCores, pin, threadsNotPinned } from '../pinning.ts';
import {
  type CellContext,
  type ClosedLoadParams,
  HALF_RATE,
  HALF_RATE_AGAIN,
  HALF_RATE_STOPPED,
  OBSERVERS_STOPPED,
  OWN_CORES,
  OWN_CORES_AGAIN,
  type WorkloadId,
} from '../suite/types.ts';
import { rssValues, throughputValues } from './common.ts';

/** How many of `connections` go to each server: as even as possible, lowest sids first. */
export function spreadConnections(sids: number[], connections: number): Map<number, number> {
  const out = new Map<number, number>();
  sids.forEach((sid, i) => {
    const n = Math.floor(connections / sids.length) + (i < connections % sids.length ? 1 : 0);
    if (n > 0) out.set(sid, n);
  });
  return out;
}

/** The load's share of each member in `spread` (sid → connections), its znodes under /PREFIX-SID. */
export function endpointsFor(e: Ensemble, spread: Map<number, number>, prefix: string): LoadEndpoint[] {
  return [...spread].map(([sid, n]) => ({
    host: e.members.get(sid)!.host,
    port: e.members.get(sid)!.clientPort,
    connections: n,
    root: `/${prefix}-${sid}`,
  }));
}

/** Cores stolen by the hypervisor above which a window is measured again (this VM has two). */
export const STEAL_LIMIT_CORES = 0.15;
const STEAL_RETRIES = 2;

/**
 * Runs `measure` and, while the hypervisor took more than STEAL_LIMIT_CORES from the window (a window
 * that lost CPU to other machines measures them as much as the server), runs it again, up to
 * STEAL_RETRIES times; keeps the attempt with the least stolen, and says how many retries it took.
 */
export async function leastStolen<T extends object>(
  measure: () => Promise<T>,
  stolen: (t: T) => number | null,
  onRetry: (stolen: number) => void,
): Promise<T & { stealRetries: number }> {
  let best = await measure();
  let stealRetries = 0;
  while ((stolen(best) ?? 0) > STEAL_LIMIT_CORES && stealRetries < STEAL_RETRIES) {
    stealRetries++;
    onRetry(stolen(best)!);
    const again = await measure();
    if ((stolen(again) ?? 0) < (stolen(best) ?? 0)) best = again;
  }
  return { ...best, stealRetries };
}

/** One measured window of closed-loop load over the endpoints; records it and returns the record. */
async function window(
  ctx: CellContext,
  workload: WorkloadId,
  variant: string,
  endpoints: LoadEndpoint[],
  sids: number[],
  p: ClosedLoadParams,
  writePercent: number,
  warmupMs = ctx.warmupFor(p),
  ratePerSec?: number,
) {
  const pids = ctx.pids();
  const measureOnce = async () => {
    const { r, start, end } = await runLoadSampled(
      {
        host: '',
        port: 0,
        connections: 0,
        endpoints,
        workload: writePercent === 100 ? 'setData' : 'getData',
        writePercent,
        inflight: p.inflight,
        valueSize: p.valueSize,
        warmupMs,
        durationMs: p.durationMs,
        ratePerSec,
      },
      () => ctx.sample(),
    );
    return { r, cpu: ctx.between(start, end) };
  };
  const { r, cpu, stealRetries } = await leastStolen(
    measureOnce,
    (x) => x.cpu.byRole.steal,
    (stolen) =>
      ctx.log(
        `    ${workload} ${variant}: ${stolen.toFixed(2)} cores stolen by the hypervisor, measured again`,
      ),
  );
  const perServer: Record<string, number> = {};
  sids.forEach((sid, i) => {
    perServer[sid] = Math.round(r.opsByEndpoint[i]! / r.seconds);
  });
  const m = ctx.record({
    workload,
    variant,
    values: { ...throughputValues(r, cpu), ...rssValues(ctx) },
    histogram: r.histogram,
    detail: {
      writePercent,
      ...(ratePerSec ? { ratePerSec } : {}),
      stealRetries,
      connectionsBySid: Object.fromEntries(sids.map((sid, i) => [sid, endpoints[i]!.connections])),
      opsPerSecBySid: perServer,
      rolesBySid: ctx.roles,
      memberCores: cpu.members,
      busiestOthers: cpu.busiestOthers,
      errorCodes: r.errorCodes,
      loadgenEventLoopUtilization: r.loadgenEventLoopUtilization,
      pids: Object.fromEntries(pids),
    },
  });
  ctx.log(
    `    ${workload} ${variant}: ${Math.round(r.opsPerSec)} ops/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, ` +
      `errors ${r.errors}; cores: members ${cpu.membersTotal?.toFixed(2)}, loadgen ${cpu.byRole.loadgen.toFixed(2)}, ` +
      `others ${cpu.byRole.others?.toFixed(2)}`,
  );
  return m;
}

/** The endpoints of `spread`, each prepared with one znode per connection. */
async function prepared(ctx: CellContext, spread: Map<number, number>, prefix: string, p: ClosedLoadParams) {
  const endpoints = endpointsFor(ctx.e, spread, prefix);
  await Promise.all(
    endpoints.map((ep) =>
      prepare({
        ...ep,
        workload: 'setData',
        inflight: 1,
        valueSize: p.valueSize,
        warmupMs: 0,
        durationMs: 0,
      }),
    ),
  );
  return endpoints;
}

/** W3: the servers that do not lead (the standalone server alone), every write share in turn. */
export async function runW3(ctx: CellContext): Promise<void> {
  const p = ctx.params.w3;
  const nonLeaders = [...ctx.e.members.keys()].filter((sid) => sid !== ctx.leaderSid);
  const sids = nonLeaders.length ? nonLeaders : [ctx.leaderSid];
  const spread = spreadConnections(sids, p.connections);
  const endpoints = await prepared(ctx, spread, 'w3', p);
  for (const w of p.writePercents) await window(ctx, 'W3', `w${w}`, endpoints, [...spread.keys()], p, w);
}

/**
 * W4: 100% writes from clients on the voters (leader included), none on observers. Then, with three
 * voters, with the voters pinned to some cores and the observers to the others, as if each role had
 * its own machine: an observer's own work then no longer takes CPU from the voters, and what is left
 * is what feeding it costs them. The load generator (this process) is pinned with the observers, so
 * the voters' cores run only voters. In the same ensemble: a window at saturation, one at half that
 * rate; the same two with the observers stopped; the same two with them started again (synced and
 * given a full warm-up). Each pair is compared as the mean of the two with observers against the one
 * between (a steady drift such as JIT warm-up cancels out). At saturation three voters share one core
 * and the throughput of identical windows moved by up to 40% (3+0, seven windows in a row, nothing
 * changed), more than the 5% to be resolved; at half rate the voters' CPU per write stayed within 1.5%
 * over fourteen such windows (3+0, 3+1), so that is what the target is judged by. With four observers
 * sharing the load generator's core it is less steady: the three windows of a round were 5-20%
 * apart at 3+4 in the full run at 0e0da8a.
 */
export async function runW4(ctx: CellContext): Promise<void> {
  const p = ctx.params.w4;
  const voters = [...ctx.e.members.keys()].filter((sid) => !ctx.e.members.get(sid)!.observer);
  const observers = [...ctx.e.members.keys()].filter((sid) => ctx.e.members.get(sid)!.observer);
  const spread = spreadConnections(voters, p.connections);
  const endpoints = await prepared(ctx, spread, 'w4', p);
  const measure = (variant: string, warmupMs?: number, ratePerSec?: number) =>
    window(ctx, 'W4', variant, endpoints, [...spread.keys()], p, 100, warmupMs, ratePerSec);
  await measure('writes');
  const cores = ownCores();
  if (!cores || ctx.topology.voters !== 3) return;
  const cpusOf = (sid: number) => (ctx.e.members.get(sid)!.observer ? cores.observers : cores.voters);
  const pinAll = async () => {
    for (const [sid, pid] of ctx.pids()) await pin(pid, cpusOf(sid));
    await pin(process.pid, cores.observers);
  };
  /** A window with every running member pinned; failed if a thread escaped its cores meanwhile. */
  const pinned = async (variant: string, warmupMs?: number, ratePerSec?: number) => {
    const m = await measure(variant, warmupMs, ratePerSec);
    // A thread started by one not yet pinned would run anywhere.
    const loose = Object.fromEntries(
      [...ctx.pids()].map(([sid, pid]) => [sid, threadsNotPinned(pid, cpusOf(sid))]),
    );
    const loadgenLoose = threadsNotPinned(process.pid, cores.observers);
    m.detail = { ...m.detail, cores, threadsNotPinned: loose };
    if (Object.values(loose).some((n) => n > 0) || loadgenLoose > 0) {
      m.ok = false;
      m.error = `threads not pinned after the window: ${JSON.stringify({ ...loose, loadgen: loadgenLoose })}`;
    }
    return m;
  };
  const all = [...cores.voters, ...cores.observers];
  try {
    await pinAll();
    const before = await pinned(OWN_CORES);
    const rate = Math.round((before.values.opsPerSec ?? 0) / 2);
    if (!before.ok || rate < 1) return;
    const beforeHalf = await pinned(HALF_RATE, undefined, rate);
    if (!observers.length) return;
    for (const sid of observers) await ctx.e.stop(sid);
    const without = await pinned(OBSERVERS_STOPPED);
    const withoutHalf = await pinned(HALF_RATE_STOPPED, undefined, rate);
    // Restarted and synced on every core, as they started the cell.
    await pin(process.pid, all);
    for (const sid of observers) ctx.e.start(sid);
    await ctx.e.waitFormed(ctx.params.formTimeoutMs);
    await pinAll();
    const after = await pinned(OWN_CORES_AGAIN, p.warmupMs);
    const afterHalf = await pinned(HALF_RATE_AGAIN, undefined, rate);
    /** The mean of the windows with observers against the one between, if all three are good. */
    const vsStopped = (ws: Array<typeof before>, key: string) => {
      const [a, b, c] = ws.map((w) => w.values[key]);
      return a && b && c && ws.every((w) => w.ok) ? (a + c) / 2 / b - 1 : null;
    };
    before.values.vsObserversStopped = vsStopped([before, without, after], 'opsPerSec');
    // Paced windows compare only at the same rate: one that fell more than 5% short of it (a busy
    // machine, too few requests in flight for its latency) leaves the comparison out.
    const half = [beforeHalf, withoutHalf, afterHalf];
    const keptRate = half.every((w) => (w.values.opsPerSec ?? 0) >= rate * 0.95);
    beforeHalf.values.votersCpuVsObserversStopped = keptRate ? vsStopped(half, 'votersCpuUsPerOp') : null;
  } finally {
    for (const [, pid] of ctx.pids()) await pin(pid, all).catch(() => {});
    await pin(process.pid, all).catch(() => {});
  }
}

/** W5: 100% reads, p.connections sessions on every server (observers included). */
export async function runW5(ctx: CellContext): Promise<void> {
  const p = ctx.params.w5;
  const sids = [...ctx.e.members.keys()];
  const spread = new Map(sids.map((sid) => [sid, p.connections]));
  const endpoints = await prepared(ctx, spread, 'w5', p);
  await window(ctx, 'W5', 'reads', endpoints, sids, p, 0);
}
