// The leader side of Zab as a deterministic state machine (zk-protocol.md §2.2–§2.8; ZooKeeper's
// Leader.java and LearnerHandler.java). One Leader instance lives for one attempt at leading: it is
// created when election makes this member the leader and is thrown away when it stops.
//
// Phases:
//   discovery   collect FOLLOWERINFO/OBSERVERINFO until a quorum of voters (self included) has
//               connected; the new epoch is max(acceptedEpoch) + 1 over everyone who connected
//   epoch-ack   acceptedEpoch persisted; LEADERINFO sent; wait for a quorum of voters' ACKEPOCH
//               (a learner that is more recent than the leader is dropped)
//   sync        currentEpoch persisted; every learner that acked the epoch gets DIFF/TRUNC/SNAP,
//               the missing txns, then NEWLEADER; wait for a quorum of voters' NEWLEADER ACKs
//   broadcast   established: UPTODATE to learners, proposals to followers, commits in zxid order,
//               COMMIT to followers and INFORM to observers; learners joining late are synced too
//   stopped     gave up leading (timeout, lost quorum, zxid rollover); every input is ignored
//
// Connections are identified by a number the shell chooses (`conn`); the learner's sid is learnt
// from its LearnerInfo. Observers (OBSERVERINFO) never count towards any quorum, and neither do
// followers that are not voters in the config.

import { JuteError } from '../jute/archive.ts';
import {
  decodeAckEpoch,
  decodeLearnerInfo,
  decodeRequest,
  decodeRevalidateRequest,
  decodeTouchTable,
  describePacket,
  encodeCommitAndActivate,
  encodeInformAndActivate,
  encodeLeaderInfo,
  encodeRevalidateReply,
  type ForwardedRequest,
  PacketType,
  packet,
  packetTypeName,
  type QuorumPacket,
  type SessionTouch,
  ZAB_PROTOCOL_VERSION,
} from './packets.ts';
import {
  counterOf,
  type DiskEffect,
  type EpochKind,
  epochOf,
  hex,
  makeZxid,
  type Proposal,
  syncLimitFor,
  type Verifier,
  type WarnEffect,
  type ZabTiming,
} from './zab-common.ts';

// --- choosing how to sync a learner (LearnerHandler.syncFollower / queueCommittedProposals) ---

export type SyncMode = 'DIFF' | 'TRUNC' | 'SNAP';

export interface SyncPlan {
  mode: SyncMode;
  /** zxid of the DIFF or TRUNC packet; for SNAP, the zxid the snapshot is taken at. */
  zxid: number;
  /** Committed txns to send after the DIFF/TRUNC packet, each as PROPOSAL + COMMIT (or INFORM). */
  proposals: Proposal[];
  /** Where the learner stands once those are sent: forwarding continues after this zxid. */
  lastZxid: number;
}

export interface SyncSource {
  /** The leader's last applied zxid. */
  lastProcessedZxid: number;
  /** The most recent committed proposals held in memory, oldest first, ending at lastProcessedZxid. */
  committedLog: readonly Proposal[];
  /**
   * Proposals read from the on-disk txn log for a learner older than the committed log
   * (ZKDatabase.getProposalsFromTxnLog): oldest first, starting at or before the learner's zxid.
   * Null when txn-log sync is disabled or the log does not reach back that far.
   */
  txnLog?: readonly Proposal[] | null;
}

interface WalkState {
  op: { mode: 'DIFF' | 'TRUNC'; zxid: number } | null;
  proposals: Proposal[];
}

// Queues the proposals of `log` after peerLastZxid (up to maxZxid), deciding DIFF or TRUNC at the
// first one; returns the last zxid queued. Leaves st.op null if only a snapshot will do (a TRUNC
// would have to cross an epoch boundary).
function walk(
  log: readonly Proposal[],
  peerLastZxid: number,
  maxZxid: number | null,
  lastCommittedZxid: number,
  st: WalkState,
): number {
  const peerAtNewEpoch = counterOf(peerLastZxid) === 0;
  let queued = peerLastZxid;
  let prev = -1;
  for (const p of log) {
    const z = p.zxid;
    if (maxZxid !== null && z > maxZxid) break;
    if (z < peerLastZxid) {
      prev = z;
      continue;
    }
    if (st.op === null) {
      if (z === peerLastZxid) {
        st.op = { mode: 'DIFF', zxid: lastCommittedZxid };
        continue;
      }
      if (peerAtNewEpoch) {
        st.op = { mode: 'DIFF', zxid: lastCommittedZxid };
      } else if (z > peerLastZxid) {
        // The learner has txns this history lacks (it may have led before). TRUNC may not cross an
        // epoch boundary: the learner could not truncate that far, so that case needs a snapshot.
        if (epochOf(z) !== epochOf(peerLastZxid)) return queued;
        st.op = { mode: 'TRUNC', zxid: prev };
      }
    }
    if (z <= queued) continue;
    st.proposals.push(p);
    queued = z;
  }
  if (st.op === null && peerAtNewEpoch) st.op = { mode: 'DIFF', zxid: lastCommittedZxid };
  return queued;
}

/**
 * How to bring a learner whose last logged zxid is peerLastZxid up to date (zk-protocol.md §2.3 step
 * 6): (a) it is where the leader is: empty DIFF; (b) it is past the committed log (and not at the
 * start of an epoch): TRUNC to the end of the log; (c) it is within the committed log: DIFF (or a
 * same-epoch TRUNC) plus the txns it misses; (d) it is older than the committed log but the txn log
 * reaches back to it: the same from the txn log, then the committed log; (e) otherwise SNAP.
 */
export function decideSync(peerLastZxid: number, src: SyncSource): SyncPlan {
  const { lastProcessedZxid, committedLog } = src;
  const snap: SyncPlan = {
    mode: 'SNAP',
    zxid: lastProcessedZxid,
    proposals: [],
    lastZxid: lastProcessedZxid,
  };
  let minCommitted = lastProcessedZxid;
  let maxCommitted = lastProcessedZxid;
  if (committedLog.length > 0) {
    minCommitted = committedLog[0]!.zxid;
    maxCommitted = committedLog[committedLog.length - 1]!.zxid;
  }
  const st: WalkState = { op: null, proposals: [] };
  let last: number;
  if (peerLastZxid === lastProcessedZxid) {
    return { mode: 'DIFF', zxid: peerLastZxid, proposals: [], lastZxid: peerLastZxid };
  } else if (peerLastZxid > maxCommitted && counterOf(peerLastZxid) !== 0) {
    return { mode: 'TRUNC', zxid: maxCommitted, proposals: [], lastZxid: maxCommitted };
  } else if (minCommitted <= peerLastZxid && peerLastZxid <= maxCommitted) {
    last = walk(committedLog, peerLastZxid, null, maxCommitted, st);
  } else if (peerLastZxid < minCommitted && src.txnLog && src.txnLog.length > 0) {
    if (src.txnLog[0]!.zxid > peerLastZxid) return snap;
    last = walk(src.txnLog, peerLastZxid, minCommitted, maxCommitted, st);
    last = walk(committedLog, last, null, maxCommitted, st);
  } else {
    return snap;
  }
  if (st.op === null) return snap;
  return { mode: st.op.mode, zxid: st.op.zxid, proposals: st.proposals, lastZxid: last };
}

// --- the leader state machine ---

export type LeaderPhase = 'discovery' | 'epoch-ack' | 'sync' | 'broadcast' | 'stopped';

export type LeaderInput =
  | { kind: 'tick'; now: number }
  /** A learner connected to the quorum port. */
  | { kind: 'connected'; conn: number }
  | { kind: 'packet'; conn: number; packet: QuorumPacket }
  | { kind: 'disconnected'; conn: number }
  | { kind: 'fsynced'; zxid: number }
  | { kind: 'persisted'; which: EpochKind; epoch: number }
  /**
   * Propose a txn; zxid must be nextZxid (the shell builds the TxnHeader with it). A reconfig txn
   * carries the verifier of the config it installs: until it commits, every proposal needs a
   * quorum of the current config and of that one.
   */
  | { kind: 'propose'; zxid: number; data: Buffer; config?: Verifier }
  /** A learner's sync request reached this point of the pipeline (Leader.processSync). */
  | { kind: 'sync'; conn: number }
  /** The shell's answer to a `revalidate` effect. */
  | { kind: 'revalidated'; conn: number; sessionId: bigint; valid: boolean };

export type LeaderEffect =
  | { type: 'send'; conn: number; packet: QuorumPacket }
  /**
   * Write SNAP(zxid), then the snapshot body of the tree as of that zxid, then the string
   * "BenWasHere" on this connection, in order with the other sends (persistence/snapstream.ts).
   */
  | { type: 'send-snapshot'; conn: number; zxid: number }
  | { type: 'close'; conn: number; reason: string }
  | DiskEffect
  /** A committed txn, in zxid order: apply it to the tree and answer its client. */
  | { type: 'apply'; zxid: number; data: Buffer }
  /**
   * A reconfig committed (its `apply` came first): the config it installs is in force from here;
   * designatedLeader leads the new config (this leader steps down when that is another member).
   */
  | { type: 'activate'; zxid: number; designatedLeader: number }
  /** A quorum acked NEWLEADER: start serving clients and proposing. */
  | { type: 'established'; epoch: number; lastZxid: number }
  /** Gave up leading; the shell goes back to election. Every connection was closed before. */
  | { type: 'stopped'; reason: string }
  | { type: 'learner-request'; conn: number; sid: number; request: ForwardedRequest }
  | { type: 'touch'; sid: number; touches: SessionTouch[] }
  /** Check the session, touch it, and answer with a `revalidated` input. */
  | { type: 'revalidate'; conn: number; sid: number; sessionId: bigint; timeout: number }
  | WarnEffect;

type ConnPhase =
  | 'connected' // waiting for FOLLOWERINFO / OBSERVERINFO
  | 'info' // waiting for the epoch to be settled
  | 'leaderinfo' // LEADERINFO sent, waiting for ACKEPOCH
  | 'ackepoch' // acked the epoch, waiting for the quorum
  | 'syncing' // sync packets and NEWLEADER sent, waiting for the NEWLEADER ACK
  | 'acked' // NEWLEADER acked, waiting for the leader to be established
  | 'uptodate'; // UPTODATE sent

export interface LearnerState {
  conn: number;
  sid: number | null;
  kind: 'follower' | 'observer';
  phase: ConnPhase;
  syncMode: SyncMode | null;
  peerLastZxid: number;
}

interface Conn extends LearnerState {
  acceptedEpoch: number;
  /** Last time a packet arrived (read timeout). */
  lastHeard: number;
  /** The learner counts as synced for the quorum check until this time (tickOfNextAckDeadline). */
  ackDeadline: number;
  /** Proposals sent after the NEWLEADER ACK and not acked yet: zxid, time sent (SyncLimitCheck). */
  unacked: Array<{ zxid: number; sentAt: number }>;
}

interface Outstanding extends Proposal {
  acks: Set<number>;
  /** Quorums it needs: the config in force, and the one a pending reconfig installs. */
  verifiers: Verifier[];
  /** Set on a reconfig proposal: the config it installs when it commits. */
  installs?: Verifier;
}

export interface LeaderOptions {
  sid: number;
  verifier: Verifier;
  timing: ZabTiming;
  acceptedEpoch: number;
  currentEpoch: number;
  /** The last zxid of the leader's tree (its lastProcessedZxid after loading). */
  lastZxid: number;
  /** The most recent txns of the leader's log, oldest first, ending at lastZxid (may be empty). */
  committedLog: readonly Proposal[];
  /** Bound on the in-memory committed log (zookeeper.commitLogCount, default 500). */
  commitLogCount?: number;
  /** Proposals from the txn log starting at or before a zxid, or null (case d of decideSync). */
  readTxnLog?: ((fromZxid: number) => readonly Proposal[] | null) | null;
  now: number;
}

const COUNTER_MAX = 0xffffffff;

export class Leader {
  readonly sid: number;
  private verifier: Verifier;
  /** The config of a reconfig proposed and not committed yet (lastSeenQuorumVerifier). */
  private pendingVerifier: Verifier | null = null;
  private readonly timing: ZabTiming;
  private readonly commitLogCount: number;
  private readonly readTxnLog: ((fromZxid: number) => readonly Proposal[] | null) | null;

  private acceptedEpoch: number;
  private currentEpoch: number;
  /** State summary taken at start, to refuse learners that are more recent. */
  private readonly summaryEpoch: number;
  private readonly summaryZxid: number;

  private _phase: LeaderPhase = 'discovery';
  private phaseStarted: number;
  private now: number;
  private _epoch = -1;
  private epochSettled = false;
  private epochPersisted = false;
  private readonly connecting = new Set<number>();
  private readonly electing = new Set<number>();
  private readonly newLeaderAcks = new Set<number>();

  private readonly committedLog: Proposal[];
  private lastCommitted: number;
  private lastProposed: number;
  private selfFsynced = -1;
  /** Uncommitted proposals in zxid order. */
  private readonly outstanding: Outstanding[] = [];
  private readonly pendingSyncs = new Map<number, number[]>();
  private readonly conns = new Map<number, Conn>();
  private lastPing = 0;
  private _stopReason: string | null = null;

  constructor(o: LeaderOptions) {
    this.sid = o.sid;
    this.verifier = o.verifier;
    this.timing = o.timing;
    this.commitLogCount = o.commitLogCount ?? 500;
    this.readTxnLog = o.readTxnLog ?? null;
    this.acceptedEpoch = o.acceptedEpoch;
    this.currentEpoch = o.currentEpoch;
    this.summaryEpoch = o.currentEpoch;
    this.summaryZxid = o.lastZxid;
    const log = o.committedLog;
    if (log.length > 0 && log[log.length - 1]!.zxid !== o.lastZxid)
      throw new Error(`committed log ends at ${hex(log[log.length - 1]!.zxid)}, not at ${hex(o.lastZxid)}`);
    for (let i = 1; i < log.length; i++)
      if (log[i]!.zxid <= log[i - 1]!.zxid) throw new Error('committed log is not in zxid order');
    this.committedLog = log.slice(Math.max(0, log.length - this.commitLogCount));
    this.lastCommitted = o.lastZxid;
    this.lastProposed = o.lastZxid;
    this.now = o.now;
    this.phaseStarted = o.now;
  }

  get phase(): LeaderPhase {
    return this._phase;
  }

  /** The epoch being established (-1 until a quorum connected). */
  get epoch(): number {
    return this._epoch;
  }

  get stopReason(): string | null {
    return this._stopReason;
  }

  /** The zxid the next proposal must carry (broadcast phase only). */
  get nextZxid(): number {
    return this.lastProposed + 1;
  }

  get lastCommittedZxid(): number {
    return this.lastCommitted;
  }

  get lastProposedZxid(): number {
    return this.lastProposed;
  }

  /** The newest config: a pending reconfig's, else the one in force. */
  get lastSeenVerifier(): Verifier {
    return this.pendingVerifier ?? this.verifier;
  }

  get reconfigInProgress(): boolean {
    return this.pendingVerifier !== null;
  }

  /** Followers in sync now (UPTODATE and heard from within syncLimit), and the leader. */
  syncedFollowers(): Set<number> {
    const synced = new Set<number>([this.sid]);
    for (const c of this.conns.values())
      if (c.kind === 'follower' && c.sid !== null && c.phase === 'uptodate' && this.now <= c.ackDeadline)
        synced.add(c.sid);
    return synced;
  }

  get outstandingCount(): number {
    return this.outstanding.length;
  }

  learners(): LearnerState[] {
    return [...this.conns.values()].map(({ conn, sid, kind, phase, syncMode, peerLastZxid }) => ({
      conn,
      sid,
      kind,
      phase,
      syncMode,
      peerLastZxid,
    }));
  }

  /** First step: the leader counts itself as a connecting voter. */
  start(): LeaderEffect[] {
    const out: LeaderEffect[] = [];
    if (this._phase === 'discovery' && !this.connecting.has(this.sid))
      this.joinEpoch(this.sid, this.acceptedEpoch, true, out);
    return out;
  }

  step(input: LeaderInput): LeaderEffect[] {
    const out: LeaderEffect[] = [];
    if (this._phase === 'stopped') {
      if (input.kind === 'connected') out.push({ type: 'close', conn: input.conn, reason: 'not leading' });
      if (input.kind === 'propose') throw new Error('propose on a leader that stopped');
      return out;
    }
    switch (input.kind) {
      case 'tick':
        this.tick(input.now, out);
        break;
      case 'connected': {
        const t = this.timing;
        this.conns.set(input.conn, {
          conn: input.conn,
          sid: null,
          kind: 'follower',
          phase: 'connected',
          syncMode: null,
          peerLastZxid: -1,
          acceptedEpoch: -1,
          lastHeard: this.now,
          ackDeadline: this.now + (t.initLimit + t.syncLimit) * t.tickTime,
          unacked: [],
        });
        break;
      }
      case 'packet': {
        const c = this.conns.get(input.conn);
        if (!c) break;
        try {
          this.onPacket(c, input.packet, out);
        } catch (e) {
          if (!(e instanceof JuteError)) throw e;
          this.close(c, `bad ${packetTypeName(input.packet.type)} packet: ${e.message}`, out);
        }
        break;
      }
      case 'disconnected':
        this.conns.delete(input.conn);
        break;
      case 'fsynced':
        this.onFsynced(input.zxid, out);
        break;
      case 'persisted':
        this.onPersisted(input.which, input.epoch, out);
        break;
      case 'propose':
        this.propose(input.zxid, input.data, input.config ?? null, out);
        break;
      case 'sync':
        this.processSync(input.conn, out);
        break;
      case 'revalidated': {
        const c = this.conns.get(input.conn);
        if (c)
          this.send(
            c,
            packet(PacketType.REVALIDATE, -1, encodeRevalidateReply(input.sessionId, input.valid)),
            out,
          );
        break;
      }
    }
    return out;
  }

  // --- discovery and synchronization ---

  /**
   * Leader.getEpochToPropose: every learner's acceptedEpoch pushes the epoch up (observers' too);
   * once the voters among them (the leader included) are a quorum, the epoch is settled.
   */
  private joinEpoch(sid: number, acceptedEpoch: number, voter: boolean, out: LeaderEffect[]): void {
    if (this.epochSettled) return;
    if (acceptedEpoch >= this._epoch) this._epoch = acceptedEpoch + 1;
    if (voter) this.connecting.add(sid);
    if (this.connecting.has(this.sid) && this.verifier.containsQuorum(this.connecting)) {
      this.epochSettled = true;
      this.acceptedEpoch = this._epoch;
      out.push({ type: 'persist-epoch', which: 'accepted', epoch: this._epoch });
    }
  }

  private onPersisted(which: EpochKind, epoch: number, out: LeaderEffect[]): void {
    if (epoch !== this._epoch) return;
    if (which === 'accepted' && this.epochSettled && !this.epochPersisted) {
      this.epochPersisted = true;
      this.lastProposed = makeZxid(epoch, 0);
      this.enterPhase('epoch-ack');
      for (const c of this.conns.values()) if (c.phase === 'info') this.sendLeaderInfo(c, out);
      this.electing.add(this.sid);
      this.checkEpochAcks(out);
    } else if (which === 'current' && this._phase !== 'discovery' && this._phase !== 'epoch-ack') {
      this.currentEpoch = epoch;
      this.newLeaderAcks.add(this.sid);
      this.checkNewLeaderAcks(out);
    }
  }

  private enterPhase(p: LeaderPhase): void {
    this._phase = p;
    this.phaseStarted = this.now;
  }

  private get newLeaderZxid(): number {
    return makeZxid(this._epoch, 0);
  }

  private sendLeaderInfo(c: Conn, out: LeaderEffect[]): void {
    this.send(
      c,
      packet(PacketType.LEADERINFO, this.newLeaderZxid, encodeLeaderInfo(ZAB_PROTOCOL_VERSION)),
      out,
    );
    c.phase = 'leaderinfo';
  }

  private checkEpochAcks(out: LeaderEffect[]): void {
    if (this._phase !== 'epoch-ack') return;
    if (!this.electing.has(this.sid) || !this.verifier.containsQuorum(this.electing)) return;
    this.enterPhase('sync');
    out.push({ type: 'persist-epoch', which: 'current', epoch: this._epoch });
    for (const c of this.conns.values()) if (c.phase === 'ackepoch') this.startSync(c, out);
  }

  private checkNewLeaderAcks(out: LeaderEffect[]): void {
    if (this._phase !== 'sync') return;
    if (!this.newLeaderAcks.has(this.sid) || !this.verifier.containsQuorum(this.newLeaderAcks)) return;
    this.enterPhase('broadcast');
    this.lastPing = this.now;
    // ZooKeeper's tick count starts with broadcast, so every learner already connected counts as
    // synced for initLimit + syncLimit ticks from here unless it speaks (tickOfNextAckDeadline).
    const t = this.timing;
    for (const c of this.conns.values())
      c.ackDeadline = Math.max(c.ackDeadline, this.now + (t.initLimit + t.syncLimit) * t.tickTime);
    out.push({ type: 'established', epoch: this._epoch, lastZxid: this.lastCommitted });
    for (const c of this.conns.values()) if (c.phase === 'acked') this.sendUpToDate(c, out);
  }

  private sendUpToDate(c: Conn, out: LeaderEffect[]): void {
    this.send(c, packet(PacketType.UPTODATE, -1), out);
    c.phase = 'uptodate';
    c.lastHeard = this.now; // the syncLimit read timeout starts now
  }

  private startSync(c: Conn, out: LeaderEffect[]): void {
    const minCommitted = this.committedLog.length > 0 ? this.committedLog[0]!.zxid : this.lastCommitted;
    const plan = decideSync(c.peerLastZxid, {
      lastProcessedZxid: this.lastCommitted,
      committedLog: this.committedLog,
      txnLog: c.peerLastZxid < minCommitted && this.readTxnLog ? this.readTxnLog(c.peerLastZxid) : null,
    });
    c.syncMode = plan.mode;
    if (plan.mode === 'SNAP') out.push({ type: 'send-snapshot', conn: c.conn, zxid: plan.zxid });
    else this.send(c, packet(plan.mode === 'DIFF' ? PacketType.DIFF : PacketType.TRUNC, plan.zxid), out);
    for (const p of plan.proposals) this.sendCommitted(c, p, out);
    if (c.kind === 'follower') {
      for (const p of this.outstanding) {
        // An ACK this learner sent over an earlier connection no longer holds: a TRUNC (or SNAP) may
        // remove the txn from its log before it logs it again, and a commit counted on the old ACK
        // would then rest on a quorum that does not hold the txn. It acks the re-sent proposal anew.
        if (c.sid !== null) p.acks.delete(c.sid);
        if (p.zxid > plan.lastZxid) this.send(c, this.proposalPacket(p), out);
      }
    }
    const config = Buffer.from(this.verifier.toString(), 'utf8');
    this.send(c, packet(PacketType.NEWLEADER, this.newLeaderZxid, config), out);
    c.phase = 'syncing';
  }

  /** A committed txn: PROPOSAL + COMMIT to a follower, INFORM to an observer. */
  private sendCommitted(c: Conn, p: Proposal, out: LeaderEffect[]): void {
    if (c.kind === 'observer') {
      this.send(c, packet(PacketType.INFORM, p.zxid, p.data), out);
    } else {
      this.send(c, this.proposalPacket(p), out);
      this.send(c, packet(PacketType.COMMIT, p.zxid), out);
    }
  }

  private proposalPacket(p: Proposal): QuorumPacket {
    return packet(PacketType.PROPOSAL, p.zxid, p.data);
  }

  private moreRecentThanLeader(currentEpoch: number, lastZxid: number): boolean {
    return (
      currentEpoch > this.summaryEpoch || (currentEpoch === this.summaryEpoch && lastZxid > this.summaryZxid)
    );
  }

  // --- packets from learners ---

  private onPacket(c: Conn, p: QuorumPacket, out: LeaderEffect[]): void {
    c.lastHeard = this.now;
    const t = this.timing;
    if (c.phase === 'acked' || c.phase === 'uptodate') c.ackDeadline = this.now + t.syncLimit * t.tickTime;
    switch (c.phase) {
      case 'connected':
        this.onLearnerInfo(c, p, out);
        return;
      case 'leaderinfo':
        if (p.type !== PacketType.ACKEPOCH) {
          this.unexpected(c, p, 'ACKEPOCH', out);
          return;
        }
        this.onAckEpoch(c, p, out);
        return;
      case 'syncing':
        if (p.type !== PacketType.ACK) {
          this.unexpected(c, p, 'the NEWLEADER ACK', out);
          return;
        }
        if (p.zxid !== this.newLeaderZxid) {
          this.close(c, `NEWLEADER ACK for ${hex(p.zxid)}, expected ${hex(this.newLeaderZxid)}`, out);
          return;
        }
        c.phase = 'acked';
        c.ackDeadline = this.now + t.syncLimit * t.tickTime;
        if (c.kind === 'follower' && c.sid !== null && this.verifier.isVoter(c.sid)) {
          this.newLeaderAcks.add(c.sid);
          this.checkNewLeaderAcks(out);
        }
        if (this._phase === 'broadcast' && c.phase === 'acked') this.sendUpToDate(c, out);
        return;
      case 'acked':
      case 'uptodate':
        this.onLearnerPacket(c, p, out);
        return;
      default:
        // 'info' and 'ackepoch': the learner has to wait for the leader.
        this.unexpected(c, p, 'nothing until the leader answers', out);
        return;
    }
  }

  private unexpected(c: Conn, p: QuorumPacket, wanted: string, out: LeaderEffect[]): void {
    this.close(c, `protocol error: got ${describePacket(p)}, expected ${wanted}`, out);
  }

  private onLearnerInfo(c: Conn, p: QuorumPacket, out: LeaderEffect[]): void {
    if (p.type !== PacketType.FOLLOWERINFO && p.type !== PacketType.OBSERVERINFO) {
      this.unexpected(c, p, 'FOLLOWERINFO or OBSERVERINFO', out);
      return;
    }
    const info = decodeLearnerInfo(p.data);
    if (info === null || info.sid === null) {
      this.close(c, 'LearnerInfo without a server id', out);
      return;
    }
    if (info.protocolVersion < ZAB_PROTOCOL_VERSION) {
      this.close(c, `learner protocol version 0x${info.protocolVersion.toString(16)} is pre-Zab 1.0`, out);
      return;
    }
    if (info.configVersion !== null && info.configVersion > this.verifier.version) {
      this.close(c, 'Follower is ahead of the leader (has a later activated configuration)', out);
      return;
    }
    if (info.sid === this.sid) {
      this.close(c, `learner claims the leader's own sid ${this.sid}`, out);
      return;
    }
    for (const other of this.conns.values()) {
      if (other !== c && other.sid === info.sid)
        this.close(other, `replaced by a new connection from sid ${info.sid}`, out);
    }
    c.sid = info.sid;
    c.kind = p.type === PacketType.OBSERVERINFO ? 'observer' : 'follower';
    c.acceptedEpoch = epochOf(p.zxid);
    c.phase = 'info';
    const voter = c.kind === 'follower' && this.verifier.isVoter(c.sid);
    if (!this.epochSettled) {
      this.joinEpoch(c.sid, c.acceptedEpoch, voter, out);
    } else if (voter && c.acceptedEpoch > this._epoch && this._phase === 'broadcast') {
      // This voter promised a later epoch (it took part in a failed attempt at leading) and will
      // refuse ours; ZooKeeper leaves it out until the next leader change. Re-electing lets the
      // next epoch go past its promise so that it can rejoin.
      this.stop(
        `voter ${c.sid} accepted epoch ${c.acceptedEpoch}, above this epoch ${this._epoch}: re-electing so it can join`,
        out,
      );
    } else if (this.epochPersisted) {
      this.sendLeaderInfo(c, out);
    }
  }

  private onAckEpoch(c: Conn, p: QuorumPacket, out: LeaderEffect[]): void {
    const peerEpoch = decodeAckEpoch(p.data);
    c.peerLastZxid = p.zxid;
    c.phase = 'ackepoch';
    if (this._phase === 'epoch-ack') {
      if (peerEpoch !== -1) {
        if (this.moreRecentThanLeader(peerEpoch, p.zxid)) {
          this.close(
            c,
            `Follower is ahead of the leader: its epoch ${peerEpoch} and zxid ${hex(p.zxid)}, ` +
              `the leader's ${this.summaryEpoch} and ${hex(this.summaryZxid)}`,
            out,
          );
          return;
        }
        if (c.kind === 'follower' && c.sid !== null && this.verifier.isVoter(c.sid)) this.electing.add(c.sid);
      }
      this.checkEpochAcks(out);
    } else {
      this.startSync(c, out);
    }
  }

  private onLearnerPacket(c: Conn, p: QuorumPacket, out: LeaderEffect[]): void {
    const sid = c.sid!;
    switch (p.type) {
      case PacketType.ACK:
        if (counterOf(p.zxid) === 0) return; // the ACK a learner sends after UPTODATE
        if (c.kind === 'observer') {
          this.close(c, `protocol error: ACK ${hex(p.zxid)} from an observer`, out);
          return;
        }
        this.onAck(c, p.zxid, out);
        return;
      case PacketType.PING: {
        const touches = decodeTouchTable(p.data);
        if (touches.length > 0) out.push({ type: 'touch', sid, touches });
        return;
      }
      case PacketType.REVALIDATE: {
        const r = decodeRevalidateRequest(p.data);
        out.push({ type: 'revalidate', conn: c.conn, sid, sessionId: r.sessionId, timeout: r.timeout });
        return;
      }
      case PacketType.REQUEST:
        out.push({ type: 'learner-request', conn: c.conn, sid, request: decodeRequest(p) });
        return;
      default:
        this.close(c, `protocol error: ${describePacket(p)} from a learner`, out);
    }
  }

  // --- broadcast ---

  private propose(zxid: number, data: Buffer, installs: Verifier | null, out: LeaderEffect[]): void {
    if (this._phase !== 'broadcast') throw new Error(`propose while ${this._phase}`);
    if (zxid !== this.nextZxid) throw new Error(`propose ${hex(zxid)}, expected ${hex(this.nextZxid)}`);
    if (counterOf(zxid) === COUNTER_MAX) {
      this.stop(
        'zxid lower 32 bits have rolled over, forcing re-election, and therefore new epoch start',
        out,
      );
      return;
    }
    if (installs && this.pendingVerifier) throw new Error('a reconfig is already in progress');
    this.lastProposed = zxid;
    if (installs) this.pendingVerifier = installs;
    const verifiers = this.pendingVerifier ? [this.verifier, this.pendingVerifier] : [this.verifier];
    const p: Outstanding = { zxid, data, acks: new Set(), verifiers };
    if (installs) p.installs = installs;
    this.outstanding.push(p);
    out.push({ type: 'log-append', zxid, data });
    const pp = this.proposalPacket(p);
    for (const c of this.conns.values()) {
      if (c.kind !== 'follower' || !this.isForwarding(c)) continue;
      this.send(c, pp, out);
      if (c.phase === 'acked' || c.phase === 'uptodate') c.unacked.push({ zxid, sentAt: this.now });
    }
    if (this.selfFsynced >= zxid) this.ackFrom(this.sid, zxid, out);
  }

  /** Followers get live proposals once their sync is queued; observers get INFORMs from then on. */
  private isForwarding(c: Conn): boolean {
    return c.phase === 'syncing' || c.phase === 'acked' || c.phase === 'uptodate';
  }

  private onFsynced(zxid: number, out: LeaderEffect[]): void {
    if (zxid <= this.selfFsynced) return;
    this.selfFsynced = zxid;
    for (const p of this.outstanding) if (p.zxid <= zxid) p.acks.add(this.sid);
    this.tryCommit(out);
  }

  private onAck(c: Conn, zxid: number, out: LeaderEffect[]): void {
    // SyncLimitCheck: acks arrive in order; drop what this one covers.
    while (c.unacked.length > 0 && c.unacked[0]!.zxid <= zxid) c.unacked.shift();
    if (this._phase !== 'broadcast') return;
    if (zxid <= this.lastCommitted) return;
    if (zxid > this.lastProposed) {
      out.push({ type: 'warn', message: `sid ${c.sid} acked ${hex(zxid)}, beyond the last proposal` });
      return;
    }
    this.ackFrom(c.sid!, zxid, out);
  }

  private ackFrom(sid: number, zxid: number, out: LeaderEffect[]): void {
    const p = this.outstanding.find((q) => q.zxid === zxid);
    if (!p) return;
    if (sid === this.sid || p.verifiers.some((v) => v.isVoter(sid))) p.acks.add(sid);
    this.tryCommit(out);
  }

  /** Commits outstanding proposals in zxid order while the oldest has a quorum of acks. */
  private tryCommit(out: LeaderEffect[]): void {
    while (this.outstanding.length > 0) {
      const p = this.outstanding[0]!;
      if (!p.verifiers.every((v) => v.containsQuorum(p.acks))) return;
      this.outstanding.shift();
      this.lastCommitted = p.zxid;
      const committed: Proposal = { zxid: p.zxid, data: p.data };
      this.committedLog.push(committed);
      if (this.committedLog.length > this.commitLogCount) this.committedLog.shift();
      out.push({ type: 'apply', zxid: p.zxid, data: p.data });
      if (p.installs) {
        this.activate(p, out);
        if (this._phase === 'stopped') return;
      } else {
        const commit = packet(PacketType.COMMIT, p.zxid);
        const inform = packet(PacketType.INFORM, p.zxid, p.data);
        for (const c of this.conns.values()) {
          if (!this.isForwarding(c)) continue;
          this.send(c, c.kind === 'follower' ? commit : inform, out);
        }
      }
      const syncs = this.pendingSyncs.get(p.zxid);
      if (syncs) {
        this.pendingSyncs.delete(p.zxid);
        for (const conn of syncs) {
          const c = this.conns.get(conn);
          if (c) this.send(c, packet(PacketType.SYNC, 0), out);
        }
      }
    }
  }

  /**
   * A reconfig committed: its config is in force. Learners hear COMMITANDACTIVATE/INFORMANDACTIVATE
   * naming the leader of the new config: this one if it still votes, else the lowest voter of the
   * new config that acked the reconfig (it holds the txn), and this leader steps down.
   */
  private activate(p: Outstanding, out: LeaderEffect[]): void {
    const next = p.installs!;
    this.verifier = next;
    this.pendingVerifier = null;
    for (const q of this.outstanding) q.verifiers = [next];
    let designated = this.sid;
    if (!next.isVoter(this.sid)) {
      const acked = [...p.acks].filter((sid) => next.isVoter(sid)).sort((a, b) => a - b);
      designated = acked[0] ?? this.sid;
    }
    const commit = packet(PacketType.COMMITANDACTIVATE, p.zxid, encodeCommitAndActivate(designated));
    const inform = packet(PacketType.INFORMANDACTIVATE, p.zxid, encodeInformAndActivate(designated, p.data));
    for (const c of this.conns.values()) {
      if (!this.isForwarding(c)) continue;
      this.send(c, c.kind === 'follower' ? commit : inform, out);
    }
    out.push({ type: 'activate', zxid: p.zxid, designatedLeader: designated });
    if (designated !== this.sid) this.stop(`reconfig ${hex(p.zxid)} removed this leader's vote`, out);
  }

  private processSync(conn: number, out: LeaderEffect[]): void {
    const c = this.conns.get(conn);
    if (!c) return;
    if (this.outstanding.length === 0) {
      this.send(c, packet(PacketType.SYNC, 0), out);
    } else {
      const list = this.pendingSyncs.get(this.lastProposed) ?? [];
      list.push(conn);
      this.pendingSyncs.set(this.lastProposed, list);
    }
  }

  // --- time ---

  private tick(now: number, out: LeaderEffect[]): void {
    this.now = Math.max(this.now, now);
    const t = this.timing;
    if (this._phase !== 'broadcast' && this.now - this.phaseStarted > t.initLimit * t.tickTime) {
      const what =
        this._phase === 'discovery'
          ? 'epoch from quorum'
          : this._phase === 'epoch-ack'
            ? 'epoch to be acked by quorum'
            : 'NEWLEADER to be acked by quorum';
      this.stop(`Timeout while waiting for ${what}`, out);
      return;
    }
    for (const c of [...this.conns.values()]) {
      // initLimit until UPTODATE: a learner that acked NEWLEADER waits silently for the quorum.
      const limit = c.phase === 'uptodate' ? syncLimitFor(t, c.kind) : t.initLimit;
      if (this.now - c.lastHeard > limit * t.tickTime) this.close(c, 'read timeout', out);
    }
    if (this._phase !== 'broadcast' || this.now - this.lastPing < t.tickTime / 2) return;
    this.lastPing = this.now;
    const synced = new Set<number>([this.sid]);
    for (const c of this.conns.values()) {
      if (c.kind === 'follower' && c.sid !== null && this.now <= c.ackDeadline) synced.add(c.sid);
    }
    // While a reconfig is pending the new config's quorum must hold as well (as ZooKeeper checks).
    if (!this.verifier.containsQuorum(synced) || !(this.pendingVerifier?.containsQuorum(synced) ?? true)) {
      const sids = [...synced].sort((a, b) => a - b).join(',');
      this.stop(`Not sufficient followers synced, only synced with sids: [ ${sids} ]`, out);
      return;
    }
    const ping = packet(PacketType.PING, this.lastProposed);
    for (const c of [...this.conns.values()]) {
      if (!this.isForwarding(c)) continue;
      const oldest = c.unacked[0];
      if (oldest && this.now - oldest.sentAt >= syncLimitFor(t, c.kind) * t.tickTime) {
        this.close(c, 'Closing connection to peer due to transaction timeout', out);
        continue;
      }
      this.send(c, ping, out);
    }
  }

  // --- helpers ---

  private send(c: Conn, p: QuorumPacket, out: LeaderEffect[]): void {
    out.push({ type: 'send', conn: c.conn, packet: p });
  }

  private close(c: Conn, reason: string, out: LeaderEffect[]): void {
    if (this.conns.get(c.conn) !== c) return;
    this.conns.delete(c.conn);
    out.push({ type: 'close', conn: c.conn, reason });
  }

  private stop(reason: string, out: LeaderEffect[]): void {
    for (const c of [...this.conns.values()]) this.close(c, `leader stopped: ${reason}`, out);
    this._phase = 'stopped';
    this._stopReason = reason;
    out.push({ type: 'stopped', reason });
  }
}
