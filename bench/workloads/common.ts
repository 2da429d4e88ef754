// Building blocks the workloads share: pipelined bulk requests on one connection, many sessions
// opened and closed in bounded batches, mntr/srvr readings, and the standard numbers of a
// closed-loop throughput window.

import { fourLetterWord } from '../../e2e/lib/servers.ts';
import type { Request } from '../../peer/jute/records.ts';
import { Err, errorName } from '../../peer/protocol/constants.ts';
import type { LoadResult } from '../loadgen.ts';
import { OPEN_ACL } from '../loadgen.ts';
import type { CpuWindow } from '../procstat.ts';
import type { CellContext } from '../suite/types.ts';
import { encodeBody, ZkConnection } from '../zkconn.ts';

export { OPEN_ACL };

export interface BulkResult {
  ok: number;
  /** Error name → count (NODEEXISTS and the like, when the caller allows them). */
  errors: Record<string, number>;
  seconds: number;
}

/**
 * Sends `count` requests made by `make(i)` on one connection, keeping `inflight` of them
 * outstanding; resolves once every reply is in. Errors named in `allow` are counted, others thrown.
 */
export async function bulk(
  conn: ZkConnection,
  count: number,
  make: (i: number) => Request,
  inflight: number,
  allow: readonly number[] = [],
): Promise<BulkResult> {
  const t0 = performance.now();
  const errors: Record<string, number> = {};
  let ok = 0;
  let next = 0;
  let done = 0;
  let failure: Error | null = null;
  await new Promise<void>((resolve) => {
    if (count === 0) return resolve();
    const sendOne = () => {
      const i = next++;
      const q = make(i);
      const body = encodeBody(q);
      conn.send(q.type, body.length ? body : null, (err) => {
        if (err === Err.OK) ok++;
        else {
          errors[errorName(err)] = (errors[errorName(err)] ?? 0) + 1;
          if (!allow.includes(err) && !failure)
            failure = new Error(`request ${i} (type ${q.type}) failed: ${errorName(err)}`);
        }
        if (++done === count) resolve();
        else if (next < count && !failure) sendOne();
        else if (failure && done === next) resolve();
      });
    };
    for (let k = 0; k < Math.min(inflight, count); k++) sendOne();
  });
  if (failure) throw failure;
  return { ok, errors, seconds: (performance.now() - t0) / 1000 };
}

/** Creates path (and nothing else) if it is not there yet. */
export async function ensureNode(
  conn: ZkConnection,
  path: string,
  data: Buffer | null = null,
): Promise<void> {
  const r = await conn.call({ type: 1, path, data, acl: OPEN_ACL, flags: 0 });
  if (r.err !== Err.OK && r.err !== Err.NODEEXISTS) throw new Error(`create ${path}: ${errorName(r.err)}`);
}

/** Runs fn over items with at most `limit` running at once; results in order. */
export async function inBatches<T, R>(
  items: readonly T[],
  limit: number,
  fn: (x: T, i: number) => Promise<R>,
) {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** Opens n sessions, round-robin over the endpoints, a bounded number of handshakes at a time. */
export async function openSessions(
  endpoints: ReadonlyArray<{ host: string; port: number }>,
  n: number,
  opts: { sessionTimeout?: number; concurrency?: number } = {},
): Promise<ZkConnection[]> {
  const conns: ZkConnection[] = [];
  try {
    await inBatches(
      Array.from({ length: n }, (_, i) => endpoints[i % endpoints.length]!),
      opts.concurrency ?? 100,
      async (ep, i) => {
        conns[i] = await ZkConnection.connectRetry(
          { ...ep, sessionTimeout: opts.sessionTimeout ?? 30_000, connectTimeout: 20_000 },
          20_000,
        );
      },
    );
  } catch (err) {
    for (const c of conns) c?.destroy();
    throw err;
  }
  return conns;
}

/** Ends every session (closeSession), a bounded number at a time. */
export async function closeSessions(conns: readonly ZkConnection[], concurrency = 200): Promise<void> {
  await inBatches(conns, concurrency, (c) => c.close(5000));
}

/** mntr as a map without the zk_ prefix (numbers where they parse). */
export async function mntr(host: string, port: number): Promise<Record<string, number | string>> {
  const text = await fourLetterWord(host, port, 'mntr', 5000);
  const out: Record<string, number | string> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.split('\t');
    if (!k || v === undefined) continue;
    const n = Number(v);
    out[k.replace(/^zk_/, '')] = Number.isFinite(n) ? n : v;
  }
  return out;
}

/** The `Zxid:` line of srvr, as a number; null when the server does not answer it. */
export async function serverZxid(host: string, port: number): Promise<number | null> {
  try {
    const m = /Zxid: 0x([0-9a-f]+)/i.exec(await fourLetterWord(host, port, 'srvr', 2000));
    return m ? Number.parseInt(m[1]!, 16) : null;
  } catch {
    return null;
  }
}

/** Total watches a server reports in wchs ("Total watches:N"). */
export async function totalWatches(host: string, port: number): Promise<number | null> {
  try {
    const m = /Total watches:\s*(\d+)/.exec(await fourLetterWord(host, port, 'wchs', 5000));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The numbers every closed-loop throughput window reports. */
export function throughputValues(r: LoadResult, cpu: CpuWindow): Record<string, number | null> {
  const perOp = (cores: number | null) =>
    cores === null || r.opsPerSec <= 0 ? null : Math.round((cores / r.opsPerSec) * 1e7) / 10;
  const members = cpu.membersTotal;
  return {
    opsPerSec: Math.round(r.opsPerSec),
    writesPerSec: r.seconds > 0 ? Math.round(r.writes / r.seconds) : 0,
    p50: r.latencyMs.p50,
    p99: r.latencyMs.p99,
    p999: r.latencyMs.p999,
    errors: r.errors,
    connectionsLost: r.connectionsLost,
    /** CPU-seconds of all members per 1,000 ops. */
    cpuSecPer1kOps: members === null || r.opsPerSec <= 0 ? null : (members / r.opsPerSec) * 1000,
    memberCpuUsPerOp: perOp(members),
    leaderCpuUsPerOp: perOp(cpu.byRole.leader),
    votersCpuUsPerOp: perOp(
      cpu.byRole.leader === null || cpu.byRole.followers === null
        ? null
        : cpu.byRole.leader + cpu.byRole.followers,
    ),
    leaderCores: cpu.byRole.leader,
    followersCores: cpu.byRole.followers,
    observersCores: cpu.byRole.observers,
    membersCores: members,
    loadgenCores: cpu.byRole.loadgen,
    kernelCores: cpu.byRole.kernel,
    othersCores: cpu.byRole.others,
    stealCores: cpu.byRole.steal,
    loopbackBytesPerOp:
      cpu.loopbackBytes === null || r.ops <= 0
        ? null
        : Math.round(cpu.loopbackBytes / (r.opsPerSec * cpu.seconds)),
  };
}

/** Resident memory of the members: total, and per role's largest member (MiB). */
export function rssValues(ctx: CellContext, prefix = 'rss'): Record<string, number | null> {
  const rss = ctx.rssMiB(prefix === 'anon');
  const of = (role: string) =>
    Object.entries(rss)
      .filter(([sid]) => ctx.roles[sid] === role)
      .map(([, v]) => v);
  const max = (v: Array<number | null>) =>
    v.length === 0 || v.some((x) => x === null) ? null : Math.max(...(v as number[]));
  const all = Object.values(rss);
  return {
    [`${prefix}TotalMiB`]: all.some((x) => x === null) ? null : all.reduce<number>((s, x) => s + x!, 0),
    [`${prefix}LeaderMiB`]: max([...of('leader'), ...of('standalone')]),
    [`${prefix}FollowerMiB`]: max(of('follower')),
    [`${prefix}ObserverMiB`]: max(of('observer')),
  };
}
