// The shell of a follower's observer master (peer/quorum/observer-master.ts): the core and its
// listener on `observerMasterPort` (learner-port.ts: the learner guard, the observers' links, the
// snapshot body of a SNAP sync, as for the leader's quorum port). The follower (member.ts) feeds it
// its committed stream and the leader's answers, and gives it a way to write to the leader.

import type { LearnerInfo, MemberStats } from '../admin/status.ts';
import type { Logger } from '../log.ts';
import type { LearnerSecurity } from '../net/learner-guard.ts';
import {
  ObserverMaster,
  type ObserverMasterEffect,
  type ObserverMasterInput,
} from '../quorum/observer-master.ts';
import type { QuorumPacket, SessionTouch } from '../quorum/packets.ts';
import { type QuorumConfig, QuorumVerifier } from '../quorum/quorum-config.ts';
import type { Proposal, ZabTiming } from '../quorum/zab-common.ts';
import type { DataTree } from '../tree/datatree.ts';
import { LearnerPort } from './learner-port.ts';

export interface ObserverMasterHostOptions {
  sid: number;
  timing: ZabTiming;
  lastZxid: number;
  committedLog: readonly Proposal[];
  sizeLimit: number;
  /** The config in force at this member. */
  config: () => QuorumConfig;
  listen: { host: string; port: number };
  security: LearnerSecurity;
  stats: MemberStats;
  log: Logger;
  /** Writes to the leader on the follower's connection. */
  toLeader: (p: QuorumPacket) => void;
  /** The follower's tree and sessions as they are now (a SNAP sync serializes them at once). */
  state: () => { tree: DataTree; sessions: Map<bigint, number> };
  localSyncDone: () => void;
  localRevalidated: (sessionId: bigint, valid: boolean) => void;
  touch: (touches: SessionTouch[]) => void;
}

export class ObserverMasterHost {
  private readonly o: ObserverMasterHostOptions;
  private readonly core: ObserverMaster;
  private readonly port: LearnerPort;
  private stopped = false;

  constructor(o: ObserverMasterHostOptions) {
    this.o = o;
    this.core = new ObserverMaster({
      sid: o.sid,
      timing: o.timing,
      lastZxid: o.lastZxid,
      committedLog: o.committedLog,
      sizeLimit: o.sizeLimit,
      config: () => new QuorumVerifier(o.config()),
      now: Date.now(),
    });
    this.port = new LearnerPort({
      name: 'observer master',
      listen: o.listen,
      security: o.security,
      stats: o.stats,
      log: o.log,
      state: o.state,
      connected: (conn) => this.step({ kind: 'connected', conn }),
      packet: (conn, p) => this.step({ kind: 'packet', conn, packet: p }),
      disconnected: (conn, reason, remote) => {
        o.log.info({ conn, remote, reason }, 'observer left this observer master');
        this.step({ kind: 'disconnected', conn });
      },
    });
  }

  step(input: ObserverMasterInput): void {
    if (this.stopped) return;
    for (const e of this.core.step(input)) this.execute(e);
  }

  /** The follower serves: observers may connect. A port that cannot be bound is logged, not fatal. */
  async serve(epoch: number): Promise<void> {
    this.step({ kind: 'serving', epoch });
    const { listen, log } = this.o;
    try {
      await this.port.open();
      if (!this.stopped) log.info({ host: listen.host, port: listen.port }, 'observer master listening');
    } catch (err) {
      log.warn(
        { host: listen.host, port: listen.port, err: (err as Error).message },
        'cannot open the observer master port: observers will sync from other members',
      );
    }
  }

  learners(config: QuorumConfig): LearnerInfo[] {
    return this.port.describe(this.core.learners(), config);
  }

  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.port.close(reason);
  }

  private execute(e: ObserverMasterEffect): void {
    const o = this.o;
    switch (e.type) {
      case 'send':
      case 'send-snapshot':
      case 'close':
        this.port.execute(e);
        return;
      case 'to-leader':
        o.toLeader(e.packet);
        return;
      case 'local-sync-done':
        o.localSyncDone();
        return;
      case 'local-revalidated':
        o.localRevalidated(e.sessionId, e.valid);
        return;
      case 'touch':
        o.touch(e.touches);
        return;
      case 'warn':
        o.log.warn({ mode: 'observer master', msg2: e.message }, 'zab');
        return;
    }
  }
}
