// A write load for failover tests: clients creating znodes in a loop while members die or move,
// keeping the paths the ensemble acknowledged so that a test can look for each of them afterwards.

import { setTimeout as sleep } from 'node:timers/promises';
import type { ZkConnection } from '../../peer/client/connection.ts';
import { Err } from '../../peer/protocol/constants.ts';

export interface WriteLoad {
  /** Every path whose create the ensemble acknowledged. */
  readonly acked: Set<string>;
  /** Errors the clients saw (each one drops its connection and makes a new one). */
  readonly failures: number;
  /** Stops the clients once their current write is answered. */
  stop(): Promise<void>;
}

/** One client per writer, creating `/<name>-0`, `/<name>-1`, … until stopped. */
export function writeLoad(
  writers: readonly { name: string; connect: () => Promise<ZkConnection> }[],
): WriteLoad {
  const acked = new Set<string>();
  let failures = 0;
  let stopped = false;
  const run = async (name: string, connect: () => Promise<ZkConnection>) => {
    let conn: ZkConnection | null = null;
    let i = 0;
    while (!stopped) {
      try {
        conn ??= await connect();
        const path = `/${name}-${i}`;
        const r = await conn.create(path, 'x');
        // NODEEXISTS: an earlier attempt that failed on the client's side did commit.
        if (r.err === Err.OK || r.err === Err.NODEEXISTS) {
          if (r.err === Err.OK) acked.add(path);
          i++;
        }
      } catch {
        failures++;
        conn?.destroy();
        conn = null;
        await sleep(100);
      }
    }
    conn?.destroy();
  };
  const running = writers.map((w) => run(w.name, w.connect));
  return {
    acked,
    get failures() {
      return failures;
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
