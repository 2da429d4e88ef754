// What the admin commands and the metrics read about a running server: its role, its client front
// end, its place in the ensemble, and a few counters kept by the member itself. The member (or the
// standalone runner) provides a RoleStatus; the commands and metrics only read it.

import type { RefusalReason } from '../metrics/refusal-reason.ts';
import type { QuorumLink } from '../net/quorum-link.ts';
import type { LearnerState } from '../quorum/leader.ts';
import { PacketType } from '../quorum/packets.ts';
import type { QuorumConfig } from '../quorum/quorum-config.ts';
import { counterOf, epochOf } from '../quorum/zab-common.ts';
import { Tally } from '../server/stats.ts';
import type { ServerMode, ZkServer } from '../server/zkserver.ts';

/**
 * `role` label values; `looking` while an ensemble member is between roles (election), and
 * `read-only` while it looks and serves read-only clients (readonlymode.enabled).
 */
export type RoleName = 'leader' | 'follower' | 'observer' | 'standalone' | 'looking' | 'read-only';

export type ZabState = 'discovery' | 'synchronization' | 'broadcast';

/** A learner connection as the leader sees it. */
export interface LearnerInfo {
  /** null until its LearnerInfo packet named it. */
  sid: number | null;
  kind: 'follower' | 'observer';
  /** A follower whose sid is not a voter in the config counts as non-voting. */
  voting: boolean;
  remoteAddress: string;
  /** UPTODATE sent: it serves clients and gets every commit. */
  synced: boolean;
  /** Bytes written to its socket and not yet taken by the kernel: the leader's queue for it. */
  queuedBytes: number;
  /** When its connection was admitted (ms since the epoch). */
  established: number;
}

/** Whom a learner syncs from: its learner master, the leader or an observer's follower. */
export interface MasterInfo {
  sid: number;
  address: string;
  /** The leader, when the master is a follower (observerMasterPort); else the master itself. */
  leader?: number;
  /** An observer's round trip to its follower, as measured when it chose it (ms). */
  rttMs?: number;
}

/** What the current ensemble role reports (implemented by the member's roles). */
export interface RoleView {
  readonly mode: ServerMode;
  /** The client front end, once the role serves. */
  frontEnd(): ZkServer | null;
  zabState(): ZabState;
  /** During a learner's sync: how it is being synced. */
  syncMode(): 'diff' | 'snap' | 'trunc' | null;
  /** Learners only. */
  master(): MasterInfo | null;
  /** The leader's learners, or an observer master's observers; empty elsewhere. */
  learners(): LearnerInfo[];
  /** A follower that runs an observer master (observerMasterPort). */
  hostsObservers?(): boolean;
  /** Leader only: when it was established (ms since the epoch), else 0. */
  establishedAt(): number;
}

/**
 * Counters and replication state kept by the member for the lifetime of the process (roles come
 * and go; these do not). Updated on the replication path, so every update is a few field writes.
 */
export class MemberStats {
  /** Times this member went looking for a leader (looking_count). */
  lookingCount = 0;
  readonly electionTime = new Tally();
  private electionStarted = 0;
  /** Learner side: PROPOSALs and COMMITs/INFORMs received in broadcast. */
  proposalsReceived = 0;
  commitsReceived = 0;
  /** Learner side: syncs completed, by how the leader synced us. */
  readonly learnerSyncs = { diff: 0, trunc: 0, snap: 0 };
  readonly followerSyncTime = new Tally();
  readonly observerSyncTime = new Tally();
  private syncStarted = 0;
  /** Leader side: syncs served (DIFF or TRUNC, and SNAP), proposals made, txns committed. */
  diffSyncs = 0;
  snapSyncs = 0;
  proposals = 0;
  commits = 0;
  /** Sizes of the proposals made (serialized txn bytes), leader side; -1 when none yet. */
  lastProposalSize = -1;
  minProposalSize = -1;
  maxProposalSize = -1;
  /** Leader side: learner connections admitted and refused (by reason kind). */
  learnersAdmitted = 0;
  readonly learnersRefused = new Map<RefusalReason, number>();
  /** Election-port connections refused (by reason kind): allow-list, quorum TLS. */
  readonly electionsRefused = new Map<RefusalReason, number>();
  /** Time from a txn's creation on the leader to its application here (propagation_latency). */
  readonly propagation = new Tally();
  /** Last txn applied here: its zxid, its creation time on the leader, when it was applied here. */
  lastAppliedZxid = 0;
  lastAppliedTxnTime = 0;
  lastAppliedAt = 0;
  /** Newest zxid this learner knows the leader has (its PINGs, PROPOSALs and INFORMs). */
  leaderZxid = 0;
  /** Since when this learner has known of txns it has not applied (0: caught up). */
  behindSince = 0;
  /** Startup: how long loading the data directory took (dbinittime). */
  readonly dbInitTime = new Tally();

  electionBegan(now: number): void {
    this.lookingCount++;
    this.electionStarted = now;
  }

  electionEnded(now: number): void {
    if (this.electionStarted > 0) this.electionTime.record(now - this.electionStarted);
    this.electionStarted = 0;
  }

  /** A learner connected to its leader and starts syncing: what it knew of the last leader goes. */
  syncBegan(now: number, appliedZxid: number): void {
    this.syncStarted = now;
    this.lastAppliedZxid = appliedZxid;
    this.leaderZxid = appliedZxid;
    this.behindSince = 0;
  }

  /** A learner got UPTODATE. */
  syncEnded(kind: 'follower' | 'observer', mode: 'diff' | 'snap' | 'trunc' | null, now: number): void {
    if (mode) this.learnerSyncs[mode]++;
    if (this.syncStarted > 0)
      (kind === 'observer' ? this.observerSyncTime : this.followerSyncTime).record(now - this.syncStarted);
    this.syncStarted = 0;
  }

  /** A committed txn was applied here; `txnTime` is its creation time on the leader. */
  applied(zxid: number, txnTime: number, now: number): void {
    this.lastAppliedZxid = zxid;
    this.lastAppliedTxnTime = txnTime;
    this.lastAppliedAt = now;
    if (zxid >= this.leaderZxid) {
      this.leaderZxid = zxid;
      this.behindSince = 0;
    }
    this.propagation.record(Math.max(0, now - txnTime));
  }

  proposed(size: number): void {
    this.proposals++;
    this.lastProposalSize = size;
    if (this.minProposalSize < 0 || size < this.minProposalSize) this.minProposalSize = size;
    if (size > this.maxProposalSize) this.maxProposalSize = size;
  }

  refused(kind: RefusalReason): void {
    this.learnersRefused.set(kind, (this.learnersRefused.get(kind) ?? 0) + 1);
  }

  electionRefused(kind: RefusalReason): void {
    this.electionsRefused.set(kind, (this.electionsRefused.get(kind) ?? 0) + 1);
  }

  /** Learner side, in broadcast: a packet from the leader. */
  learnerPacket(type: number, zxid: number, now: number): void {
    switch (type) {
      case PacketType.PROPOSAL:
        this.proposalsReceived++;
        break;
      case PacketType.COMMIT:
      case PacketType.INFORM:
      case PacketType.COMMITANDACTIVATE:
      case PacketType.INFORMANDACTIVATE:
        this.commitsReceived++;
        break;
      case PacketType.PING:
        break;
      default:
        return;
    }
    this.leaderHas(zxid, now);
  }

  /** Learner side: a zxid the leader has (PING carries its last proposed zxid). */
  leaderHas(zxid: number, now: number): void {
    if (zxid <= this.leaderZxid) return;
    this.leaderZxid = zxid;
    if (this.behindSince === 0 && zxid > this.lastAppliedZxid) this.behindSince = now;
  }
}

/** Everything the commands and metrics read. */
export interface RoleStatus {
  /** myid; 0 for a standalone server. */
  readonly sid: number;
  readonly stats: MemberStats;
  role(): RoleName;
  /** The client front end while serving clients, else null. */
  server(): ZkServer | null;
  /** The current ensemble role; null for a standalone server and while looking. */
  view(): RoleView | null;
  /** The membership; null for a standalone server. */
  quorum(): QuorumConfig | null;
}

/** The leader's learners as status reports them: the core's view plus their sockets. */
export function describeLearners(
  learners: readonly LearnerState[],
  links: ReadonlyMap<number, QuorumLink>,
  config: QuorumConfig,
): LearnerInfo[] {
  return learners.map((l) => {
    const link = links.get(l.conn);
    return {
      sid: l.sid,
      kind: l.kind,
      voting: l.kind === 'follower' && l.sid !== null && config.members.get(l.sid)?.role === 'participant',
      remoteAddress: link?.remote ?? '',
      synced: l.phase === 'uptodate',
      queuedBytes: link?.writableLength ?? 0,
      established: link?.established ?? 0,
    };
  });
}

/** Ready: serving clients, and (in an ensemble) synced with an established leader. */
export function isReady(s: RoleStatus): boolean {
  const server = s.server();
  if (!server) return false;
  const v = s.view();
  if (s.role() === 'standalone') return true;
  return v !== null && v.zabState() === 'broadcast';
}

/** How many txns `behind` trails `ahead` (zxids of possibly different epochs). */
export function zxidDistance(ahead: number, behind: number): number {
  if (ahead <= behind) return 0;
  if (epochOf(ahead) === epochOf(behind)) return ahead - behind;
  // A new epoch restarts the counter: what is known is the new epoch's txns.
  return counterOf(ahead);
}

/**
 * How far a learner trails its leader: txns it knows the leader has and it has not applied, and
 * for how long it has been behind (0 when caught up). Both are lower bounds: the leader's PINGs
 * (every half tick) are what tell a learner about txns that have not reached it yet. The time a
 * txn took from the leader to here is propagation_latency.
 */
export function replicationLag(stats: MemberStats, now: number): { txns: number; ms: number } {
  const txns = zxidDistance(stats.leaderZxid, stats.lastAppliedZxid);
  if (txns === 0 || stats.behindSince === 0) return { txns, ms: 0 };
  return { txns, ms: Math.max(0, now - stats.behindSince) };
}

/** Zab phase names of the Zab cores, mapped to ZooKeeper's zabstate. */
export function leaderZabState(phase: string): ZabState {
  if (phase === 'broadcast' || phase === 'stopped') return 'broadcast';
  if (phase === 'sync') return 'synchronization';
  return 'discovery';
}

export function learnerZabState(phase: string): ZabState {
  switch (phase) {
    case 'broadcast':
    case 'stopped':
      return 'broadcast';
    case 'sync-mode':
    case 'syncing':
    case 'flushing':
    case 'synced':
      return 'synchronization';
    default:
      return 'discovery';
  }
}

/** A standalone server's status: its role never changes. */
export function standaloneStatus(server: () => ZkServer | null, stats: MemberStats): RoleStatus {
  return {
    sid: 0,
    stats,
    role: () => 'standalone',
    server,
    view: () => null,
    quorum: () => null,
  };
}
