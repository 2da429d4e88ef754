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
  decideSync,
  informAndActivatePacket,
  informPacket,
  proposalPacket,
  readLearnerHello,
  type SyncEffect,
  type SyncMode,
  syncOpening,
} from './learner-sync.ts';
import {
  decodeAckEpoch,
  decodeRequest,
  decodeRevalidateRequest,
  decodeTouchTable,
  describePacket,
  encodeCommitAndActivate,
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
  hex,
  makeZxid,
  type Proposal,
  syncLimitFor,
  type Verifier,
  type WarnEffect,
  type ZabTiming,
} from './zab-common.ts';

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
  /** send, and send-snapshot (SNAP, the snapshot body, the signature): learner-sync.ts. */
  | SyncEffect
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
  /**
   * Proposals sent after the NEWLEADER ACK and not acked yet (SyncLimitCheck): zxids and times sent,
   * in two arrays of plain numbers rather than an object per proposal and follower.
   */
  unackedZxids: number[];
  unackedSentAt: number[];
}

interface Outstanding extends Proposal {
  acks: Set<number>;
  /** Quorums it needs: the config in force, and the one a pending reconfig installs. */
  verifiers: readonly Verifier[];
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
  /**
   * What a new proposal needs (Outstanding.verifiers): [verifier], or [verifier, pendingVerifier]
   * while a reconfig is pending; one array shared by the proposals, set where either changes.
   */
  private verifiers: readonly Verifier[];
  private readonly pendingSyncs = new Map<number, number[]>();
  private readonly conns = new Map<number, Conn>();
  private lastPing = 0;
  private _stopReason: string | null = null;

  constructor(o: LeaderOptions) {
    this.sid = o.sid;
    this.verifier = o.verifier;
    this.verifiers = [o.verifier];
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
          unackedZxids: [],
          unackedSentAt: [],
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
    syncOpening(c.conn, c.kind, plan, out);
    for (const p of this.outstanding) {
      // An ACK this learner sent over an earlier connection no longer holds: a TRUNC (or SNAP) may
      // remove the txn from its log before it logs it again, and a commit counted on the old ACK
      // would then rest on a quorum that does not hold the txn. A follower acks the re-sent proposal
      // anew; one that acked as a follower and comes back as an observer (a server being added as
      // a voter by the pending reconfig, restarted as an observer) does not ack at all.
      if (c.sid !== null) p.acks.delete(c.sid);
      if (c.kind === 'follower' && p.zxid > plan.lastZxid) this.send(c, proposalPacket(p), out);
    }
    const config = Buffer.from(this.verifier.toString(), 'utf8');
    this.send(c, packet(PacketType.NEWLEADER, this.newLeaderZxid, config), out);
    c.phase = 'syncing';
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
    const info = readLearnerHello(p, { sid: this.sid, configVersion: this.verifier.version });
    if (typeof info === 'string') {
      this.close(c, info, out);
      return;
    }
    for (const other of this.conns.values()) {
      if (other !== c && other.sid === info.sid)
        this.close(other, `replaced by a new connection from sid ${info.sid}`, out);
    }
    c.sid = info.sid;
    c.kind = info.kind;
    c.acceptedEpoch = info.acceptedEpoch;
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
    if (installs) {
      this.pendingVerifier = installs;
      this.verifiers = [this.verifier, installs];
    }
    const p: Outstanding = { zxid, data, acks: new Set(), verifiers: this.verifiers };
    if (installs) p.installs = installs;
    this.outstanding.push(p);
    out.push({ type: 'log-append', zxid, data });
    const pp = proposalPacket(p);
    for (const c of this.conns.values()) {
      if (c.kind !== 'follower' || !this.isForwarding(c)) continue;
      this.send(c, pp, out);
      if (c.phase === 'acked' || c.phase === 'uptodate') {
        c.unackedZxids.push(zxid);
        c.unackedSentAt.push(this.now);
      }
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
    while (c.unackedZxids.length > 0 && c.unackedZxids[0]! <= zxid) {
      c.unackedZxids.shift();
      c.unackedSentAt.shift();
    }
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
    if (sid === this.sid || anyVotes(p.verifiers, sid)) p.acks.add(sid);
    this.tryCommit(out);
  }

  /** Commits outstanding proposals in zxid order while the oldest has a quorum of acks. */
  private tryCommit(out: LeaderEffect[]): void {
    while (this.outstanding.length > 0) {
      const p = this.outstanding[0]!;
      if (!allHaveQuorum(p.verifiers, p.acks)) return;
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
        const inform = informPacket(p);
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
    this.verifiers = [next];
    for (const q of this.outstanding) q.verifiers = this.verifiers;
    let designated = this.sid;
    if (!next.isVoter(this.sid)) {
      const acked = [...p.acks].filter((sid) => next.isVoter(sid)).sort((a, b) => a - b);
      designated = acked[0] ?? this.sid;
    }
    const commit = packet(PacketType.COMMITANDACTIVATE, p.zxid, encodeCommitAndActivate(designated));
    const inform = informAndActivatePacket(p, designated);
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
      const oldest = c.unackedSentAt[0];
      if (oldest !== undefined && this.now - oldest >= syncLimitFor(t, c.kind) * t.tickTime) {
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

// Loops rather than some/every with closures: these run once per ack and per commit.
function anyVotes(verifiers: readonly Verifier[], sid: number): boolean {
  for (const v of verifiers) if (v.isVoter(sid)) return true;
  return false;
}

function allHaveQuorum(verifiers: readonly Verifier[], acks: ReadonlySet<number>): boolean {
  for (const v of verifiers) if (!v.containsQuorum(acks)) return false;
  return true;
}
