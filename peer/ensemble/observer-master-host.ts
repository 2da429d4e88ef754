// The shell of a follower's observer master (peer/quorum/observer-master.ts): the listener on
// `observerMasterPort`, behind the same learner guard as the leader's quorum port (allow-list, TLS
// client certificates, shared secret; refusals logged and counted), the observers' sockets, and the
// snapshot body for a SNAP sync. The follower (member.ts) feeds it its committed stream and the
// leader's answers, and gives it a way to write to the leader.

import type { Server } from 'node:net';
import { describeLearners, type LearnerInfo, type MemberStats } from '../admin/status.ts';
import { JuteWriter } from '../jute/archive.ts';
import type { Logger } from '../log.ts';
import { refusalReason } from '../metrics/refusal-reason.ts';
import type { LearnerSecurity } from '../net/learner-guard.ts';
import { listenForLearners, type QuorumLink } from '../net/quorum-link.ts';
import { serializeSnapStream } from '../persistence/snapstream.ts';
import {
  ObserverMaster,
  type ObserverMasterEffect,
  type ObserverMasterInput,
} from '../quorum/observer-master.ts';
import {
  encodeQuorumPacket,
  PacketType,
  packet,
  type QuorumPacket,
  type SessionTouch,
} from '../quorum/packets.ts';
import { type QuorumConfig, QuorumVerifier } from '../quorum/quorum-config.ts';
import type { Proposal, ZabTiming } from '../quorum/zab-common.ts';
import type { DataTree } from '../tree/datatree.ts';

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
  private readonly links = new Map<number, QuorumLink>();
  private nextConn = 1;
  private listener: Server | null = null;
  private stopped = false;
  /** One packet goes to many observers: encode it once. */
  private readonly encoded = new WeakMap<QuorumPacket, Buffer>();

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
  }

  step(input: ObserverMasterInput): void {
    if (this.stopped) return;
    for (const e of this.core.step(input)) this.execute(e);
  }

  /** The follower serves: observers may connect. A port that cannot be bound is logged, not fatal. */
  async serve(epoch: number): Promise<void> {
    this.step({ kind: 'serving', epoch });
    const { listen, security, log, stats } = this.o;
    try {
      const server = await listenForLearners({
        listen,
        security,
        log,
        onLink: (link) => {
          if (this.stopped) {
            link.close('observer master stopped');
            return;
          }
          stats.learnersAdmitted++;
          const conn = this.nextConn++;
          this.links.set(conn, link);
          link.start({
            onPacket: (p) => this.step({ kind: 'packet', conn, packet: p }),
            onClose: (reason) => {
              if (!this.links.delete(conn)) return;
              log.info({ conn, remote: link.remote, reason }, 'observer left this observer master');
              this.step({ kind: 'disconnected', conn });
            },
          });
          this.step({ kind: 'connected', conn });
        },
        onRefused: (reason, address) => {
          stats.refused(refusalReason(reason));
          log.warn({ reason, address, listener: 'observer master' }, 'learner connection refused');
        },
      });
      if (this.stopped) {
        server.close();
        return;
      }
      this.listener = server;
      log.info({ host: listen.host, port: listen.port }, 'observer master listening');
    } catch (err) {
      log.warn(
        { host: listen.host, port: listen.port, err: (err as Error).message },
        'cannot open the observer master port: observers will sync from other members',
      );
    }
  }

  learners(config: QuorumConfig): LearnerInfo[] {
    return describeLearners(this.core.learners(), this.links, config);
  }

  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const l of [...this.links.values()]) l.close(reason);
    this.links.clear();
    const srv = this.listener;
    this.listener = null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }

  private execute(e: ObserverMasterEffect): void {
    const o = this.o;
    switch (e.type) {
      case 'send': {
        let bytes = this.encoded.get(e.packet);
        if (!bytes) this.encoded.set(e.packet, (bytes = encodeQuorumPacket(e.packet)));
        this.links.get(e.conn)?.write(bytes);
        if (e.packet.type === PacketType.DIFF || e.packet.type === PacketType.TRUNC) o.stats.diffSyncs++;
        return;
      }
      case 'send-snapshot': {
        const link = this.links.get(e.conn);
        if (!link) return;
        o.stats.snapSyncs++;
        const { tree, sessions } = o.state();
        const w = new JuteWriter(64 * 1024);
        serializeSnapStream(tree, sessions, w);
        link.send(packet(PacketType.SNAP, e.zxid));
        link.write(w.toBuffer());
        return;
      }
      case 'close':
        this.links.get(e.conn)?.close(e.reason);
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
