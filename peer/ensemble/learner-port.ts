// The port a learner master listens on for its learners: the leader's quorum port, a follower's
// observer-master port. Behind the learner guard (allow-list, TLS client certificates, shared
// secret; refusals logged and counted); each admitted link gets a number for the core (`conn`), and
// the core's sends run here: a packet encoded once for all the learners it goes to, a SNAP followed
// by the snapshot body of the tree as it is now.

import type { Server } from 'node:net';
import { describeLearners, type LearnerInfo, type MemberStats } from '../admin/status.ts';
import type { Logger } from '../log.ts';
import { refusalReason } from '../metrics/refusal-reason.ts';
import type { LearnerSecurity } from '../net/learner-guard.ts';
import { listenForLearners, type QuorumLink } from '../net/quorum-link.ts';
import { snapStreamChunks } from '../persistence/snapstream.ts';
import type { LearnerState } from '../quorum/leader.ts';
import type { SyncEffect } from '../quorum/learner-sync.ts';
import { encodeQuorumPacket, PacketType, packet, type QuorumPacket } from '../quorum/packets.ts';
import type { QuorumConfig } from '../quorum/quorum-config.ts';
import type { DataTree } from '../tree/datatree.ts';

export interface LearnerPortOptions {
  /** Which listener this is, in the logs ('leader', 'observer master'). */
  name: string;
  listen: { host: string; port: number };
  security: LearnerSecurity;
  stats: MemberStats;
  log: Logger;
  /** The tree and sessions as they are now (a SNAP sync serializes them at once). */
  state: () => { tree: DataTree; sessions: Map<bigint, number> };
  /** The core's inputs for the links. */
  connected: (conn: number) => void;
  packet: (conn: number, p: QuorumPacket) => void;
  disconnected: (conn: number, reason: string, remote: string) => void;
}

/**
 * One packet goes to many learners: encode it once. The core emits a packet's sends together (a
 * commit's COMMITs to the followers interleaved with its INFORMs to the observers), so remembering
 * the last two packets encoded is enough. (A WeakMap keyed by packet did the same at 5% of the
 * leader's CPU profile under write load, before counting its ephemeron table's collector work.)
 */
class RecentEncodings {
  private p0: QuorumPacket | null = null;
  private b0: Buffer | null = null;
  private p1: QuorumPacket | null = null;
  private b1: Buffer | null = null;

  of(p: QuorumPacket): Buffer {
    if (this.p0 === p) return this.b0!;
    if (this.p1 === p) return this.b1!;
    const b = encodeQuorumPacket(p);
    this.p1 = this.p0;
    this.b1 = this.b0;
    this.p0 = p;
    this.b0 = b;
    return b;
  }
}

export class LearnerPort {
  private readonly o: LearnerPortOptions;
  private readonly links = new Map<number, QuorumLink>();
  private nextConn = 1;
  private server: Server | null = null;
  private closed = false;
  private readonly encoded = new RecentEncodings();

  constructor(o: LearnerPortOptions) {
    this.o = o;
  }

  /** Listens; a port that cannot be bound rejects. */
  async open(): Promise<void> {
    const { name, listen, security, log, stats } = this.o;
    const server = await listenForLearners({
      listen,
      security,
      log,
      onLink: (link) => {
        if (this.closed) {
          link.close(`${name} stopped`);
          return;
        }
        stats.learnersAdmitted++;
        const conn = this.nextConn++;
        this.links.set(conn, link);
        link.start({
          onPacket: (p) => this.o.packet(conn, p),
          onClose: (reason) => {
            if (this.links.delete(conn)) this.o.disconnected(conn, reason, link.remote);
          },
        });
        this.o.connected(conn);
      },
      onRefused: (reason, address) => {
        stats.refused(refusalReason(reason));
        log.warn({ reason, address, listener: name }, 'learner connection refused');
      },
    });
    // Closed while the listener was being opened: it must not outlive the role.
    if (this.closed) server.close();
    else this.server = server;
  }

  /** Runs a core's send, send-snapshot or close effect. */
  execute(e: SyncEffect | { type: 'close'; conn: number; reason: string }): void {
    const stats = this.o.stats;
    switch (e.type) {
      case 'send': {
        this.links.get(e.conn)?.write(this.encoded.of(e.packet));
        if (e.packet.type === PacketType.DIFF || e.packet.type === PacketType.TRUNC) stats.diffSyncs++;
        return;
      }
      case 'send-snapshot': {
        stats.snapSyncs++;
        const link = this.links.get(e.conn);
        if (!link) return;
        const { tree, sessions } = this.o.state();
        link.send(packet(PacketType.SNAP, e.zxid));
        link.stream(snapStreamChunks(tree, sessions), () => this.o.state().tree === tree);
        return;
      }
      case 'close':
        this.links.get(e.conn)?.close(e.reason);
        return;
    }
  }

  /** The core's learners with their links' addresses and queues (status, metrics, `mntr`). */
  describe(learners: LearnerState[], config: QuorumConfig): LearnerInfo[] {
    return describeLearners(learners, this.links, config);
  }

  /** Closes every link and the listener. */
  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const l of [...this.links.values()]) l.close(reason);
    this.links.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
