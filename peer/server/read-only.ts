// Read-only mode (`readonlymode.enabled`), as ZooKeeper's: a member that has been looking for a
// leader for max(2000 ms, tickTime) serves the tree it has to clients that accept a read-only
// server, until it joins a quorum again. The ZkServer does the refusing (mode 'read-only'); this
// module times the window and gives that server a write path that nothing may reach.

import type { Logger } from '../log.ts';
import type { WritePath } from './write-path.ts';
import type { ZkServer } from './zkserver.ts';

/** How long a member looks for a leader before it serves read-only (QuorumPeer's delay). */
export function readOnlyDelayMs(tickTime: number): number {
  return Math.max(2000, tickTime);
}

/**
 * The write path of a read-only server. The server refuses writes and syncs by opcode and keeps
 * its sessions itself, so a call here is a bug: it throws rather than let a write through.
 */
export const NO_WRITES: WritePath = {
  authoritative: false,
  write() {
    throw new Error('a read-only server has no write path');
  },
  sync() {
    throw new Error('a read-only server has no write path');
  },
  drain: async () => {},
};

export interface ReadOnlyWindowOptions {
  delayMs: number;
  /** Creates the read-only server and starts listening. */
  start: () => Promise<ZkServer>;
  log: Logger;
}

/**
 * One election's read-only window: the server starts after the delay unless stop() came first;
 * stop() closes it (and every read-only session with it) and resolves once the client port is free.
 */
export class ReadOnlyWindow {
  private readonly opts: ReadOnlyWindowOptions;
  private timer: NodeJS.Timeout | null;
  private starting: Promise<ZkServer | null> | null = null;
  private running: ZkServer | null = null;
  private stopped = false;

  constructor(opts: ReadOnlyWindowOptions) {
    this.opts = opts;
    this.timer = setTimeout(() => this.begin(), opts.delayMs);
    this.timer.unref();
  }

  /** The read-only server while it serves, else null. */
  get server(): ZkServer | null {
    return this.running;
  }

  private begin(): void {
    this.timer = null;
    this.starting = this.opts.start().then(
      (s) => {
        if (!this.stopped) this.running = s;
        return s;
      },
      (err: Error) => {
        this.opts.log.warn({ err: err.message }, 'cannot serve read-only clients');
        return null;
      },
    );
  }

  async stop(reason: string): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const s = await this.starting;
    this.starting = null;
    this.running = null;
    if (!s) return;
    this.opts.log.info({ reason }, 'read-only server stopping; its sessions end');
    await s.close();
  }
}
