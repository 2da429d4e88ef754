// W9 watch-fanout. (a) One znode watched by N sessions spread over every server (a session holds at
// most one data watch per znode — ZooKeeper keys watches by connection — so N watchers need N
// sessions); a writer on the leader changes it once per interval, and each watcher's delay from the
// write being sent to its event is recorded (the last watcher's per write, and all of them); every
// watcher re-arms its watch on the event. (b) Z znodes, each watched by W sessions (Z × W watches),
// then all deleted through the leader: time until every deletion is acknowledged and every watcher
// has its events. Resident memory before and after the watches gives the memory per 1,000 watches.

import { Err, errorName, OpCode } from '../../peer/protocol/constants.ts';
import { sleep } from '../cluster.ts';
import { Histogram } from '../histogram.ts';
import { valueOfSize } from '../loadgen.ts';
import type { CellContext } from '../suite/types.ts';
import { encodeBody, ZkConnection } from '../zkconn.ts';
import {
  bulk,
  closeSessions,
  ensureNode,
  inBatches,
  OPEN_ACL,
  openSessions,
  rssValues,
  totalWatches,
} from './common.ts';

const EVENT_TIMEOUT_MS = 10_000;

/** Resident memory of all members, MiB. */
const sumRss = (ctx: CellContext) => rssValues(ctx).rssTotalMiB ?? null;

async function watchesOnAll(ctx: CellContext): Promise<number | null> {
  const v = await Promise.all(
    [...ctx.e.members.keys()].map((sid) => totalWatches(ctx.endpoint(sid).host, ctx.endpoint(sid).port)),
  );
  return v.some((x) => x === null) ? null : v.reduce<number>((s, x) => s + x!, 0);
}

async function fanOut(ctx: CellContext, n: number): Promise<void> {
  const p = ctx.params.w9;
  const all = [...ctx.e.members.keys()].map((sid) => ctx.endpoint(sid));
  const writer = await ZkConnection.connectRetry(ctx.endpoint(ctx.leaderSid));
  await ensureNode(writer, '/w9');
  await ensureNode(writer, '/w9/hot', valueOfSize(100));
  const sessions = await openSessions(all, n, { concurrency: 100 });
  try {
    await sleep(500);
    const rssBefore = sumRss(ctx);
    const arm = encodeBody({ type: OpCode.getData, path: '/w9/hot', watch: true });
    let sentAt = 0;
    let pending = 0;
    let last = 0;
    let onAll: (() => void) | null = null;
    const delays = new Histogram();
    const lastDelays = new Histogram();
    let missed = 0;
    const armOne = (c: ZkConnection) =>
      new Promise<void>((resolve, reject) =>
        c.send(OpCode.getData, arm, (err) =>
          err === Err.OK ? resolve() : reject(new Error(`W9 watch: ${errorName(err)}`)),
        ),
      );
    for (const c of sessions) {
      c.onWatch = (type, _s, path) => {
        if (path !== '/w9/hot' || type !== 3 || sentAt === 0) return;
        const t = performance.now();
        delays.record((t - sentAt) * 1000);
        last = t;
        c.send(OpCode.getData, arm, () => {});
        if (--pending === 0) onAll?.();
      };
    }
    await inBatches(sessions, 500, armOne);
    await sleep(300);
    const watches = await watchesOnAll(ctx);
    const rssAfter = sumRss(ctx);
    const s0 = ctx.sample();
    const data = valueOfSize(100);
    for (let k = 0; k < p.writes; k++) {
      const tick = performance.now();
      pending = n;
      const done = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), EVENT_TIMEOUT_MS);
        onAll = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      sentAt = performance.now();
      const r = await writer.call({ type: OpCode.setData, path: '/w9/hot', data, version: -1 });
      if (r.err !== Err.OK) throw new Error(`W9 write: ${errorName(r.err)}`);
      if (await done) lastDelays.record((last - sentAt) * 1000);
      else missed += pending;
      onAll = null;
      sentAt = 0;
      // Every watcher re-arms on its event; give the re-arm replies a moment before the next write.
      await sleep(Math.max(50, p.intervalMs - (performance.now() - tick)));
    }
    const s1 = ctx.sample();
    const cpu = ctx.between(s0, s1);
    const a = delays.summary();
    const l = lastDelays.summary();
    ctx.record({
      workload: 'W9',
      variant: `fan-out N=${n}`,
      values: {
        watchers: n,
        watches,
        p50: a.p50,
        p99: a.p99,
        p999: a.p999,
        lastP50: l.p50,
        lastP99: l.p99,
        lastMax: l.max,
        missed,
        rssKiBPerKWatches:
          rssBefore !== null && rssAfter !== null
            ? Math.round(((rssAfter - rssBefore) * 1024 * 1000) / n)
            : null,
        membersCores: cpu.membersTotal,
      },
      histogram: delays,
      detail: { lastWatcherDelaysUs: lastDelays.buckets() },
    });
    ctx.log(
      `    W9 N=${n}: all-watcher p50 ${a.p50} ms p99 ${a.p99} ms; last watcher p50 ${l.p50} ms max ${l.max} ms; missed ${missed}`,
    );
  } finally {
    await closeSessions(sessions);
    await writer.close();
  }
}

async function manyWatches(ctx: CellContext): Promise<void> {
  const p = ctx.params.w9;
  const all = [...ctx.e.members.keys()].map((sid) => ctx.endpoint(sid));
  const writer = await ZkConnection.connectRetry(ctx.endpoint(ctx.leaderSid));
  await ensureNode(writer, '/w9m');
  const data = valueOfSize(100);
  await bulk(
    writer,
    p.znodes,
    (i) => ({ type: OpCode.create, path: `/w9m/z${i}`, data, acl: OPEN_ACL, flags: 0 }),
    128,
  );
  const sessions = await openSessions(all, p.watchesPerZnode, { concurrency: 10 });
  try {
    // Every session must see the last create before it sets its watches.
    await Promise.all(sessions.map((c) => c.call({ type: OpCode.sync, path: '/w9m' })));
    await sleep(500);
    const rssBefore = sumRss(ctx);
    const expected = p.znodes * sessions.length;
    let events = 0;
    let lastEvent = 0;
    let onAll: (() => void) | null = null;
    for (const c of sessions) {
      c.onWatch = (type) => {
        if (type !== 2) return;
        lastEvent = performance.now();
        if (++events === expected) onAll?.();
      };
    }
    await Promise.all(
      sessions.map((c) =>
        bulk(c, p.znodes, (i) => ({ type: OpCode.getData, path: `/w9m/z${i}`, watch: true }), 256),
      ),
    );
    await sleep(500);
    const watches = await watchesOnAll(ctx);
    const rssAfter = sumRss(ctx);
    const allEvents = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 60_000);
      onAll = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    const s0 = ctx.sample();
    const t0 = performance.now();
    const del = await bulk(
      writer,
      p.znodes,
      (i) => ({ type: OpCode.delete, path: `/w9m/z${i}`, version: -1 }),
      256,
    );
    const deletedMs = performance.now() - t0;
    const complete = await allEvents;
    const s1 = ctx.sample();
    const cpu = ctx.between(s0, s1);
    ctx.record({
      workload: 'W9',
      variant: `delete ${p.znodes}×${sessions.length}`,
      values: {
        watches,
        deletesPerSec: Math.round(p.znodes / del.seconds),
        deletedMs: Math.round(deletedMs),
        lastEventMs: Math.round(lastEvent - t0),
        eventsMissing: expected - events,
        rssKiBPerKWatches:
          rssBefore !== null && rssAfter !== null && expected > 0
            ? Math.round(((rssAfter - rssBefore) * 1024 * 1000) / expected)
            : null,
        rssBeforeMiB: rssBefore,
        rssAfterMiB: rssAfter,
        memberCpuSeconds: cpu.membersTotal === null ? null : cpu.membersTotal * cpu.seconds,
      },
      detail: { complete },
    });
    ctx.log(
      `    W9 ${expected} watches: deleted in ${Math.round(deletedMs)} ms, last event after ${Math.round(lastEvent - t0)} ms, ` +
        `${expected - events} events missing; RSS ${rssBefore} → ${rssAfter} MiB`,
    );
  } finally {
    await closeSessions(sessions);
    await writer.close();
  }
}

export async function runW9(ctx: CellContext): Promise<void> {
  for (const n of ctx.params.w9.watchers) await fanOut(ctx, n);
  await manyWatches(ctx);
}
