// W6 observer-visibility-lag: a writer on the leader at a fixed share of the cell's saturation write
// rate (W4's, measured just before in the same ensemble), and a reader on the observer. Probe after
// probe, the reader sets a watch on a probe znode, a second leader session writes it, and the lag is
// the time from that write's acknowledgement to the observer's watch event. Meanwhile a third
// session reads from the observer every few ms: the zxid in its replies (the observer's last applied
// txn) against the latest zxid acknowledged by the leader gives the zxid gap.

import { Err, errorName, OpCode } from '../../peer/protocol/constants.ts';
import { counterOf } from '../../peer/quorum/zab-common.ts';
import { Histogram } from '../histogram.ts';
import { valueOfSize } from '../loadgen.ts';
import type { CellContext } from '../suite/types.ts';
import { encodeBody, ZkConnection } from '../zkconn.ts';
import { ensureNode } from './common.ts';
import { runW4 } from './throughput.ts';

/** Background writer sessions: as many as W4 spreads its 512 requests in flight over. */
const BG_CONNECTIONS = 32;
/** Open-loop pacing tick of the background writer. */
const TICK_MS = 2;
/**
 * Above this many writes outstanding the writer skips sends (the server cannot keep up; counted):
 * W4's closed loop keeps 512 in flight, so the servers have shown they can take that many.
 */
const MAX_OUTSTANDING = 512;

export async function runW6(ctx: CellContext): Promise<void> {
  const p = ctx.params.w6;
  const observer = ctx.sidsByRole('observer')[0];
  if (observer === undefined) throw new Error('W6 needs an observer');
  // The rate with every member on the shared cores, as W6 runs.
  const w4Rate = () =>
    ctx.measured.find((m) => m.workload === 'W4' && m.variant === 'writes' && m.ok)?.values.opsPerSec ?? null;
  let max = w4Rate();
  if (!max) {
    await runW4(ctx);
    max = w4Rate();
  }
  if (!max) throw new Error('W6: no saturation write rate to take a share of');
  const rate = Math.max(1, Math.round(max * p.loadFraction));
  const leader = ctx.endpoint(ctx.leaderSid);
  const data = valueOfSize(p.valueSize);

  const setup = await ZkConnection.connectRetry(leader);
  await ensureNode(setup, '/w6');
  for (const n of ['probe', ...Array.from({ length: BG_CONNECTIONS }, (_, i) => `bg${i}`)])
    await ensureNode(setup, `/w6/${n}`, data);
  await setup.close();

  const bg = await Promise.all(Array.from({ length: BG_CONNECTIONS }, () => ZkConnection.connect(leader)));
  const prober = await ZkConnection.connect(leader);
  const reader = await ZkConnection.connect(ctx.endpoint(observer));
  const poller = await ZkConnection.connect(ctx.endpoint(observer));
  // Wait until the observer has the probe znode.
  for (
    let i = 0;
    (await reader.call({ type: OpCode.exists, path: '/w6/probe', watch: false })).err !== Err.OK;
    i++
  ) {
    if (i > 100) throw new Error('W6: the observer never saw /w6/probe');
    await new Promise((r) => setTimeout(r, 20));
  }

  let leaderZxid = 0;
  let stop = false;
  let bgSent = 0;
  let bgAcked = 0;
  let bgErrors = 0;
  let bgSkipped = 0;
  const bgBodies = bg.map((_, i) =>
    encodeBody({ type: OpCode.setData, path: `/w6/bg${i}`, data, version: -1 }),
  );
  const onAck = (err: number, zxid: number) => {
    bgAcked++;
    if (err !== Err.OK) bgErrors++;
    else if (zxid > leaderZxid) leaderZxid = zxid;
  };
  const t0 = performance.now();
  const pacer = setInterval(() => {
    // Writes due by now at the asked rate; those the servers have no room for are skipped, not owed.
    const due = Math.floor(((performance.now() - t0) / 1000) * rate) - bgSent - bgSkipped;
    for (let k = 0; k < due; k++) {
      if (bgSent - bgAcked >= MAX_OUTSTANDING) {
        bgSkipped += due - k;
        break;
      }
      const i = bgSent++ % bg.length;
      bg[i]!.send(OpCode.setData, bgBodies[i]!, (err, _b, zxid) => onAck(err, zxid));
    }
  }, TICK_MS);

  // The zxid gap, sampled by reading on the observer.
  const gaps = new Histogram();
  let maxGap = 0;
  const pollBody = encodeBody({ type: OpCode.getData, path: '/w6/probe', watch: false });
  const poll = async () => {
    while (!stop) {
      await new Promise<void>((resolve) =>
        poller.send(OpCode.getData, pollBody, (_err, _b, zxid) => {
          if (leaderZxid > 0 && zxid > 0) {
            const gap = Math.max(0, counterOf(leaderZxid) - counterOf(zxid));
            gaps.record(gap);
            if (gap > maxGap) maxGap = gap;
          }
          resolve();
        }),
      );
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const polling = poll();

  const lag = new Histogram();
  const sendToEvent = new Histogram();
  let eventBeforeAck = 0;
  let missed = 0;
  let pendingEvent: ((t: number) => void) | null = null;
  reader.onWatch = (type, _state, path) => {
    if (path === '/w6/probe' && type === 3 && pendingEvent) pendingEvent(performance.now());
  };
  // Let the background load settle before probing.
  await new Promise((r) => setTimeout(r, 500));
  const measureStart = performance.now();
  const acked0 = bgAcked;
  const s0 = ctx.sample();
  let seconds = 0;
  let achieved = 0;
  let s1 = s0;
  try {
    while (performance.now() - measureStart < p.durationMs) {
      const w = await reader.call({ type: OpCode.getData, path: '/w6/probe', watch: true });
      if (w.err !== Err.OK) throw new Error(`W6 watch: ${errorName(w.err)}`);
      const event = new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 5000);
        pendingEvent = (t) => {
          clearTimeout(timer);
          resolve(t);
        };
      });
      const tSend = performance.now();
      const ack = await prober.call({
        type: OpCode.setData,
        path: '/w6/probe',
        data,
        version: -1,
      });
      const tAck = performance.now();
      if (ack.err !== Err.OK) throw new Error(`W6 probe write: ${errorName(ack.err)}`);
      if (ack.zxid > leaderZxid) leaderZxid = ack.zxid;
      const tEvent = await event;
      pendingEvent = null;
      if (tEvent === null) {
        missed++;
        continue;
      }
      if (tEvent < tAck) eventBeforeAck++;
      lag.record(Math.max(0, tEvent - tAck) * 1000);
      sendToEvent.record((tEvent - tSend) * 1000);
      await new Promise((r) => setTimeout(r, p.probeGapMs));
    }
  } finally {
    seconds = (performance.now() - measureStart) / 1000;
    s1 = ctx.sample();
    achieved = (bgAcked - acked0) / seconds;
    stop = true;
    clearInterval(pacer);
    await polling;
    await Promise.all([...bg, prober, reader, poller].map((c) => c.close()));
  }
  {
    const s = lag.summary();
    const cpu = ctx.between(s0, s1);
    ctx.record({
      workload: 'W6',
      variant: 'lag',
      values: {
        targetWritesPerSec: rate,
        writesPerSec: Math.round(achieved),
        p50: s.p50,
        p99: s.p99,
        p999: s.p999,
        max: s.max,
        sendToEventP50: sendToEvent.summary().p50,
        sendToEventP99: sendToEvent.summary().p99,
        probes: s.count,
        missed,
        eventBeforeAck,
        zxidGapP99: gaps.percentile(99),
        zxidGapMax: maxGap,
        writeErrors: bgErrors,
        skippedWrites: bgSkipped,
        membersCores: cpu.membersTotal,
        othersCores: cpu.byRole.others,
        stealCores: cpu.byRole.steal,
      },
      histogram: lag,
      detail: { saturationWritesPerSec: max, loadFraction: p.loadFraction, observer },
    });
    ctx.log(
      `    W6: ${rate} writes/s asked, ${Math.round(achieved)} done; lag p50 ${s.p50} ms, p99 ${s.p99} ms ` +
        `(${s.count} probes, ${missed} missed); zxid gap max ${maxGap}`,
    );
  }
}
