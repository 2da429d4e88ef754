// W1 lat-sync-1c: one session, one request at a time (each waits for the previous reply): create,
// then setData, getData and delete of the same znodes, for each value size; on a standalone
// server, or on an ensemble's follower and then its observer. A short unmeasured warm-up first, so
// that the JIT of a fresh server is not part of the tail.

import type { Request } from '../../peer/jute/records.ts';
import { Err, errorName, OpCode } from '../../peer/protocol/constants.ts';
import { Histogram } from '../histogram.ts';
import { valueOfSize } from '../loadgen.ts';
import type { CellContext } from '../suite/types.ts';
import { ZkConnection } from '../zkconn.ts';
import { ensureNode, OPEN_ACL } from './common.ts';

export const W1_PHASES = ['create', 'set', 'get', 'delete'] as const;
export type W1Phase = (typeof W1_PHASES)[number];

/** Where the client connects: the standalone server, else the first follower, then the first observer. */
export function w1Placements(ctx: CellContext): Array<{ placement: string; sid: number }> {
  if (ctx.topology.voters === 1) return [{ placement: 'standalone', sid: ctx.leaderSid }];
  const out: Array<{ placement: string; sid: number }> = [];
  const follower = ctx.sidsByRole('follower')[0];
  const observer = ctx.sidsByRole('observer')[0];
  if (follower !== undefined) out.push({ placement: 'follower', sid: follower });
  if (observer !== undefined) out.push({ placement: 'observer', sid: observer });
  return out;
}

function request(phase: W1Phase, path: string, data: Buffer): Request {
  switch (phase) {
    case 'create':
      return { type: OpCode.create, path, data, acl: OPEN_ACL, flags: 0 };
    case 'set':
      return { type: OpCode.setData, path, data, version: -1 };
    case 'get':
      return { type: OpCode.getData, path, watch: false };
    case 'delete':
      return { type: OpCode.delete, path, version: -1 };
  }
}

/** One phase over n znodes, one request at a time; the latency of each (µs) into a histogram. */
async function phase(conn: ZkConnection, p: W1Phase, root: string, n: number, data: Buffer) {
  const hist = new Histogram();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const q = request(p, `${root}/n${i}`, data);
    const t = performance.now();
    const r = await conn.call(q);
    hist.record((performance.now() - t) * 1000);
    if (r.err !== Err.OK) throw new Error(`W1 ${p} ${root}/n${i}: ${errorName(r.err)}`);
  }
  return { hist, seconds: (performance.now() - t0) / 1000 };
}

export async function runW1(ctx: CellContext): Promise<void> {
  const { znodes, sizes } = ctx.params.w1;
  for (const { placement, sid } of w1Placements(ctx)) {
    const conn = await ZkConnection.connectRetry(ctx.endpoint(sid));
    try {
      await ensureNode(conn, '/w1');
      // Warm-up: a few hundred of each request, not measured.
      const warm = `/w1/warm-${placement}`;
      await ensureNode(conn, warm);
      for (const p of W1_PHASES) await phase(conn, p, warm, Math.min(200, znodes), valueOfSize(100));
      for (const size of sizes) {
        const root = `/w1/${placement}-${size}`;
        await ensureNode(conn, root);
        const data = valueOfSize(size);
        for (const p of W1_PHASES) {
          const { hist, seconds } = await phase(conn, p, root, znodes, data);
          const s = hist.summary();
          ctx.record({
            workload: 'W1',
            variant: `${placement} ${size} B ${p}`,
            values: {
              p50: s.p50,
              p99: s.p99,
              p999: s.p999,
              mean: s.mean,
              opsPerSec: Math.round(znodes / seconds),
            },
            histogram: hist,
            detail: { placement, size, phase: p, znodes },
          });
        }
        ctx.log(`    W1 ${placement} ${size} B: done`);
      }
    } finally {
      await conn.close();
    }
  }
}
