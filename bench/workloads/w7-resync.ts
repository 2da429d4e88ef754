// W7 observer-resync: preload znodes through the leader (and record every member's resident memory
// at that size, right after the preload and after resting: the RSS comparison), then twice: stop the observer, write through the leader, and
// restart it under a light background write load on the voters. Measured: time from the restart to
// the observer serving (srvr answers with Mode: observer) and to its having every txn the leader
// had at the restart; the leader's CPU meanwhile; the voters' throughput dip. Which sync the leader
// chose (DIFF or SNAP) comes from its mntr diff_count/snap_count.

import { until } from '../../e2e/lib/wait.ts';
import type { Request } from '../../peer/jute/records.ts';
import { Err, OpCode } from '../../peer/protocol/constants.ts';
import { isUp, sleep } from '../cluster.ts';
import { valueOfSize } from '../loadgen.ts';
import type { CellContext } from '../suite/types.ts';
import { encodeBody, ZkConnection } from '../zkconn.ts';
import { bulk, ensureNode, mntr, OPEN_ACL, rssValues, serverZxid } from './common.ts';

const PRELOAD_CONNECTIONS = 4;
const PIPELINE = 128;
const BUCKET_MS = 200;

/**
 * Sends requests make(0) … make(count − 1) through the leader, split over PRELOAD_CONNECTIONS
 * sessions, pipelined; returns the seconds they took.
 */
async function throughLeader(ctx: CellContext, count: number, make: (i: number) => Request) {
  const conns = await Promise.all(
    Array.from({ length: PRELOAD_CONNECTIONS }, () => ZkConnection.connect(ctx.endpoint(ctx.leaderSid))),
  );
  try {
    const per = Math.ceil(count / conns.length);
    const t0 = performance.now();
    await Promise.all(
      conns.map((c, k) =>
        bulk(c, Math.max(0, Math.min(per, count - k * per)), (i) => make(k * per + i), PIPELINE),
      ),
    );
    return (performance.now() - t0) / 1000;
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
}

/** A closed-loop setData load on the voters that counts replies in BUCKET_MS buckets. */
async function backgroundLoad(ctx: CellContext) {
  const p = ctx.params.w7;
  const voters = [...ctx.e.members.keys()].filter((sid) => !ctx.e.members.get(sid)!.observer);
  const conns = await Promise.all(
    Array.from({ length: p.bgConnections }, (_, i) =>
      ZkConnection.connect(ctx.endpoint(voters[i % voters.length]!)),
    ),
  );
  const setup = conns[0]!;
  await ensureNode(setup, '/w7bg');
  const data = valueOfSize(p.valueSize);
  for (let i = 0; i < conns.length; i++) await ensureNode(setup, `/w7bg/n${i}`, data);
  const t0 = performance.now();
  const buckets: number[] = [];
  let errors = 0;
  let stopped = false;
  conns.forEach((c, i) => {
    const body = encodeBody({ type: OpCode.setData, path: `/w7bg/n${i}`, data, version: -1 });
    const onReply = (err: number) => {
      if (err !== Err.OK) errors++;
      else {
        const b = Math.floor((performance.now() - t0) / BUCKET_MS);
        buckets[b] = (buckets[b] ?? 0) + 1;
      }
      if (!stopped && !c.closed) c.send(OpCode.setData, body, onReply);
    };
    for (let k = 0; k < p.bgInflight; k++) c.send(OpCode.setData, body, onReply);
  });
  return {
    /** ms since the load started. */
    at: () => performance.now() - t0,
    async stop() {
      stopped = true;
      await sleep(200);
      await Promise.all(conns.map((c) => c.close()));
      return { buckets: Array.from(buckets, (x) => x ?? 0), errors };
    },
  };
}

/** ops/s in the buckets covering [fromMs, toMs). */
function rates(buckets: number[], fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  for (let b = Math.floor(fromMs / BUCKET_MS); b < Math.ceil(toMs / BUCKET_MS); b++)
    out.push(((buckets[b] ?? 0) * 1000) / BUCKET_MS);
  return out;
}

/** Waits until probe() holds (within ms); returns performance.now() at that moment. */
async function waitUntil(what: string, ms: number, probe: () => Promise<boolean>): Promise<number> {
  await until(`W7: ${what}`, ms, probe, { everyMs: 20 });
  return performance.now();
}

async function restartObserver(ctx: CellContext, observer: number, writes: number, label: string) {
  const p = ctx.params.w7;
  const data = valueOfSize(p.valueSize);
  const leader = ctx.endpoint(ctx.leaderSid);
  const obs = ctx.endpoint(observer);
  await ctx.e.stop(observer);
  const writeSeconds = await throughLeader(ctx, writes, (i) => ({
    type: OpCode.setData,
    path: `/w7/n${i % p.preload}`,
    data,
    version: -1,
  }));
  const before = await mntr(leader.host, leader.port);
  const bg = await backgroundLoad(ctx);
  await sleep(p.settleMs);
  const leaderZxid = (await serverZxid(leader.host, leader.port)) ?? 0;
  const restartAt = bg.at();
  const s0 = ctx.sample();
  const t0 = performance.now();
  ctx.e.start(observer);
  const tServing = await waitUntil('the observer serving', p.syncTimeoutMs, async () =>
    ctx.e.mode(observer).then((m) => m === 'observer'),
  );
  const s1 = ctx.sample();
  const tCaughtUp = await waitUntil('the observer catching up', p.syncTimeoutMs, async () => {
    const z = await serverZxid(obs.host, obs.port);
    return z !== null && z >= leaderZxid;
  });
  const servingAt = restartAt + (tServing - t0);
  await sleep(p.settleMs);
  const { buckets, errors } = await bg.stop();
  const after = await mntr(leader.host, leader.port);
  const diffs = Number(after.diff_count ?? 0) - Number(before.diff_count ?? 0);
  const snaps = Number(after.snap_count ?? 0) - Number(before.snap_count ?? 0);
  const path = snaps > 0 ? 'SNAP' : diffs > 0 ? 'DIFF' : 'unknown';
  const baseline = rates(buckets, restartAt - p.settleMs, restartAt);
  const during = rates(buckets, restartAt, Math.max(servingAt, restartAt + BUCKET_MS));
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  const cpu = ctx.between(s0, s1);
  const leaderCores = cpu.byRole.leader;
  const values = {
    writes,
    writesPerSec: Math.round(writes / writeSeconds),
    timeToServingMs: Math.round(tServing - t0),
    timeToCaughtUpMs: Math.round(tCaughtUp - t0),
    leaderCpuSeconds: leaderCores === null ? null : leaderCores * cpu.seconds,
    leaderCores,
    voterOpsPerSecBefore: Math.round(mean(baseline)),
    voterOpsPerSecMinDuring: during.length ? Math.round(Math.min(...during)) : null,
    voterOpsPerSecMeanDuring: Math.round(mean(during)),
    dipPercent:
      mean(baseline) > 0 && during.length
        ? Math.round((1 - Math.min(...during) / mean(baseline)) * 100)
        : null,
    snapSyncs: snaps,
    diffSyncs: diffs,
    bgErrors: errors,
  };
  ctx.record({
    workload: 'W7',
    variant: label,
    values,
    detail: {
      path,
      observer,
      bucketMs: BUCKET_MS,
      restartAtMs: Math.round(restartAt),
      bgOpsPerBucket: buckets,
    },
  });
  ctx.log(
    `    W7 ${label}: ${writes} writes missed; leader chose ${path}; serving after ${values.timeToServingMs} ms, ` +
      `caught up after ${values.timeToCaughtUpMs} ms; voters ${values.voterOpsPerSecBefore} → min ${values.voterOpsPerSecMinDuring} ops/s`,
  );
  if (!isUp(ctx.e, observer)) throw new Error('W7: the observer exited');
}

export async function runW7(ctx: CellContext): Promise<void> {
  const p = ctx.params.w7;
  const observer = ctx.sidsByRole('observer')[0];
  if (observer === undefined) throw new Error('W7 needs an observer');
  const data = valueOfSize(p.valueSize);
  const setup = await ZkConnection.connectRetry(ctx.endpoint(ctx.leaderSid));
  await ensureNode(setup, '/w7');
  await setup.close();
  const preloadSeconds = await throughLeader(ctx, p.preload, (i) => ({
    type: OpCode.create,
    path: `/w7/n${i}`,
    data,
    acl: OPEN_ACL,
    flags: 0,
  }));
  // Every member has the preload once its zxid reaches the leader's.
  const leader = ctx.endpoint(ctx.leaderSid);
  const target = (await serverZxid(leader.host, leader.port)) ?? 0;
  for (const sid of ctx.e.members.keys()) {
    const ep = ctx.endpoint(sid);
    await waitUntil(
      `member ${sid} to have the preload`,
      p.syncTimeoutMs,
      async () => ((await serverZxid(ep.host, ep.port)) ?? 0) >= target,
    );
  }
  await sleep(p.settleMs);
  const atEnd = rssValues(ctx);
  const rssAtEnd = ctx.rssMiB();
  // Memory a member keeps, apart from garbage of the preload it may not have collected yet.
  await sleep(p.restMs);
  const rss = ctx.rssMiB();
  ctx.record({
    workload: 'W7',
    variant: 'preload',
    values: {
      znodes: p.preload,
      createsPerSec: Math.round(p.preload / preloadSeconds),
      ...rssValues(ctx),
      ...rssValues(ctx, 'anon'),
      endLeaderMiB: atEnd.rssLeaderMiB ?? null,
      endTotalMiB: atEnd.rssTotalMiB ?? null,
    },
    detail: {
      rssMiBBySid: rss,
      rssAtEndMiBBySid: rssAtEnd,
      anonMiBBySid: ctx.rssMiB(true),
      roles: ctx.roles,
    },
  });
  ctx.log(
    `    W7 preload: ${p.preload} znodes at ${Math.round(p.preload / preloadSeconds)}/s; RSS MiB right after ${JSON.stringify(rssAtEnd)}, at rest ${JSON.stringify(rss)}`,
  );
  await restartObserver(ctx, observer, p.diffWrites, 'diff');
  await restartObserver(ctx, observer, p.snapWrites, 'snap');
}
