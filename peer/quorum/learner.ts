// The learner side of Zab (followers and observers) as a deterministic state machine
// (zk-protocol.md §2.3–§2.8; ZooKeeper's Learner.java, Follower.java, Observer.java). One Learner
// lives for one connection to one leader: it is created when election tells this member whom to
// follow and is thrown away once it stops (the shell then goes back to election).
//
// Phases:
//   connecting   waiting for the shell to connect to the leader
//   info         FOLLOWERINFO/OBSERVERINFO sent, waiting for LEADERINFO
//   epoch        persisting the accepted epoch before ACKEPOCH
//   sync-mode    ACKEPOCH sent, waiting for DIFF/TRUNC/SNAP
//   syncing      collecting the sync stream (PROPOSAL/COMMIT pairs, INFORMs) until NEWLEADER
//   flushing     NEWLEADER received: logging what the sync brought, then persisting currentEpoch,
//                and only then the NEWLEADER ACK
//   synced       NEWLEADER acked, waiting for UPTODATE
//   broadcast    serving: followers log and ACK proposals and apply on COMMIT; observers log and
//                apply on INFORM
//   stopped      gave up on this leader
//
// The SNAP case: the shell reads the snapshot body that follows the SNAP packet on the socket,
// loads it as its tree, and then passes the SNAP packet here (the core only needs its zxid).

import { JuteError } from '../jute/archive.ts';
import {
  decodeCommitAndActivate,
  decodeInformAndActivate,
  decodeLeaderInfo,
  decodeRevalidateReply,
  describePacket,
  encodeAckEpoch,
  encodeLearnerInfo,
  encodeRevalidateRequest,
  type ForwardedRequest,
  PacketType,
  packet,
  packetTypeName,
  type QuorumPacket,
  requestPacket,
  ZAB_PROTOCOL_VERSION,
} from './packets.ts';
import {
  type DiskEffect,
  type EpochKind,
  epochOf,
  hex,
  makeZxid,
  type Proposal,
  syncLimitFor,
  type WarnEffect,
  type ZabTiming,
} from './zab-common.ts';

export type LearnerRole = 'follower' | 'observer';

export type LearnerPhase =
  | 'connecting'
  | 'info'
  | 'epoch'
  | 'sync-mode'
  | 'syncing'
  | 'flushing'
  | 'synced'
  | 'broadcast'
  | 'stopped';

export type LearnerInput =
  | { kind: 'tick'; now: number }
  | { kind: 'connected' }
  | { kind: 'packet'; packet: QuorumPacket }
  | { kind: 'disconnected' }
  | { kind: 'fsynced'; zxid: number }
  | { kind: 'persisted'; which: EpochKind; epoch: number }
  | { kind: 'snapshotted'; zxid: number }
  /** Forward a client request to the leader (broadcast phase only; ignored otherwise). */
  | { kind: 'request'; request: ForwardedRequest }
  /** Ask the leader whether a global session is still valid (broadcast phase only). */
  | { kind: 'revalidate'; sessionId: bigint; timeout: number };

export type LearnerEffect =
  | { type: 'send'; packet: QuorumPacket }
  | DiskEffect
  /** Truncate the txn log after this zxid and reload the tree from disk (TRUNC). */
  | { type: 'truncate-log'; zxid: number }
  /** Write a snapshot of the tree as loaded from the leader's SNAP; report `snapshotted`. */
  | { type: 'take-snapshot'; zxid: number }
  /**
   * A committed txn, in zxid order: apply it to the tree and answer its client if it is ours. Only
   * from UPTODATE on (txns committed during the sync are applied then, in one go).
   */
  | { type: 'apply'; zxid: number; data: Buffer }
  /** UPTODATE: start serving clients. */
  | { type: 'uptodate'; epoch: number }
  /** Answer the leader's PING: send PING(zxid) with the session touch table (packets.ts). */
  | { type: 'ping'; zxid: number }
  /** The leader's SYNC: release the oldest pending client sync. */
  | { type: 'sync-done' }
  | { type: 'revalidated'; sessionId: bigint; valid: boolean }
  /** The config text the leader sent in NEWLEADER (its last seen QuorumVerifier). */
  | { type: 'leader-config'; text: string }
  /** COMMITANDACTIVATE / INFORMANDACTIVATE: a reconfig txn committed; activate its config. */
  | { type: 'activate'; zxid: number; designatedLeader: number }
  /** Give up on this leader: close the connection and go back to election. */
  | { type: 'stopped'; reason: string }
  | WarnEffect;

export interface LearnerOptions {
  sid: number;
  role: LearnerRole;
  timing: ZabTiming;
  acceptedEpoch: number;
  currentEpoch: number;
  /** The last zxid in the txn log (or snapshot), as recovered from disk. */
  lastLoggedZxid: number;
  /** Version of this member's quorum config (sent in LearnerInfo). */
  configVersion: number;
  now: number;
}

interface Pending extends Proposal {
  committed: boolean;
}

export class Learner {
  readonly sid: number;
  readonly role: LearnerRole;
  private readonly timing: ZabTiming;
  private readonly configVersion: number;
  private acceptedEpoch: number;
  private currentEpoch: number;
  private readonly lastLoggedZxid: number;

  private _phase: LearnerPhase = 'connecting';
  private now: number;
  private lastHeard: number;
  private newEpoch = -1;
  private ackEpochData = 0;
  private mode: 'DIFF' | 'TRUNC' | 'SNAP' | null = null;
  private snapZxid = -1;
  /** Last txn zxid queued from the leader (Learner.enforceContinuousProposal). */
  private lastQueued = 0;
  /** The sync stream before NEWLEADER, not logged yet. */
  private readonly pending: Pending[] = [];
  /** Logged (or being logged) proposals waiting for their COMMIT, in zxid order. */
  private readonly uncommitted: Proposal[] = [];
  /** Followers: logged proposals to ACK once durable, in zxid order. */
  private readonly toAck: number[] = [];
  private durableZxid = -1;
  private flushTarget = -1;
  private snapshotPending = false;
  private epochPersistRequested = false;
  private newLeaderAcked = false;
  private lastApplied = -1;
  /** Committed txns received before UPTODATE: applied once the leader is known established. */
  private readonly toApply: Proposal[] = [];
  private _stopReason: string | null = null;

  constructor(o: LearnerOptions) {
    this.sid = o.sid;
    this.role = o.role;
    this.timing = o.timing;
    this.configVersion = o.configVersion;
    this.acceptedEpoch = o.acceptedEpoch;
    this.currentEpoch = o.currentEpoch;
    this.lastLoggedZxid = o.lastLoggedZxid;
    this.now = o.now;
    this.lastHeard = o.now;
  }

  get phase(): LearnerPhase {
    return this._phase;
  }

  /** True once UPTODATE arrived: the member serves clients and may forward requests. */
  get serving(): boolean {
    return this._phase === 'broadcast';
  }

  /** The epoch of the leader being followed (-1 before LEADERINFO). */
  get epoch(): number {
    return this.newEpoch;
  }

  get syncMode(): 'DIFF' | 'TRUNC' | 'SNAP' | null {
    return this.mode;
  }

  get stopReason(): string | null {
    return this._stopReason;
  }

  step(input: LearnerInput): LearnerEffect[] {
    const out: LearnerEffect[] = [];
    if (this._phase === 'stopped') return out;
    switch (input.kind) {
      case 'tick':
        this.tick(input.now, out);
        break;
      case 'connected':
        this.onConnected(out);
        break;
      case 'packet':
        this.lastHeard = this.now;
        try {
          this.onPacket(input.packet, out);
        } catch (e) {
          if (!(e instanceof JuteError)) throw e;
          this.stop(`bad ${packetTypeName(input.packet.type)} packet from the leader: ${e.message}`, out);
        }
        break;
      case 'disconnected':
        this.stop('connection to the leader closed', out);
        break;
      case 'fsynced':
        this.onFsynced(input.zxid, out);
        break;
      case 'persisted':
        this.onPersisted(input.which, input.epoch, out);
        break;
      case 'snapshotted':
        if (this.snapshotPending && input.zxid === this.snapZxid) {
          this.snapshotPending = false;
          this.maybeFinishFlush(out);
        }
        break;
      case 'request':
        if (this.serving) out.push({ type: 'send', packet: requestPacket(input.request) });
        break;
      case 'revalidate':
        if (this.serving) {
          const data = encodeRevalidateRequest(input.sessionId, input.timeout);
          out.push({ type: 'send', packet: packet(PacketType.REVALIDATE, -1, data) });
        }
        break;
    }
    return out;
  }

  private onConnected(out: LearnerEffect[]): void {
    if (this._phase !== 'connecting') return;
    const type = this.role === 'observer' ? PacketType.OBSERVERINFO : PacketType.FOLLOWERINFO;
    const info = encodeLearnerInfo({
      sid: this.sid,
      protocolVersion: ZAB_PROTOCOL_VERSION,
      configVersion: this.configVersion,
    });
    out.push({ type: 'send', packet: packet(type, makeZxid(this.acceptedEpoch, 0), info) });
    this._phase = 'info';
    this.lastHeard = this.now;
  }

  private onPacket(p: QuorumPacket, out: LearnerEffect[]): void {
    switch (this._phase) {
      case 'info':
        this.onLeaderInfo(p, out);
        return;
      case 'sync-mode':
        this.onSyncMode(p, out);
        return;
      case 'syncing':
        this.onSyncPacket(p, out);
        return;
      case 'flushing':
      case 'synced':
      case 'broadcast':
        this.onBroadcastPacket(p, out);
        return;
      default:
        // 'connecting' and 'epoch': the leader has nothing to say yet.
        this.protocolError(`unexpected ${describePacket(p)} while ${this._phase}`, out);
        return;
    }
  }

  private protocolError(message: string, out: LearnerEffect[]): void {
    this.stop(`protocol error: ${message}`, out);
  }

  private onLeaderInfo(p: QuorumPacket, out: LearnerEffect[]): void {
    if (p.type === PacketType.NEWLEADER) {
      this.protocolError('the leader speaks pre-Zab-1.0 (NEWLEADER without LEADERINFO)', out);
      return;
    }
    if (p.type !== PacketType.LEADERINFO) {
      this.protocolError(`expected LEADERINFO, got ${describePacket(p)}`, out);
      return;
    }
    decodeLeaderInfo(p.data);
    const newEpoch = epochOf(p.zxid);
    this.newEpoch = newEpoch;
    if (newEpoch > this.acceptedEpoch) {
      this.ackEpochData = this.currentEpoch;
      this.acceptedEpoch = newEpoch;
      this._phase = 'epoch';
      out.push({ type: 'persist-epoch', which: 'accepted', epoch: newEpoch });
    } else if (newEpoch === this.acceptedEpoch || this.role === 'observer') {
      // Already accepted this epoch: the ack must not count, but the leader still needs our zxid.
      // An observer may also follow a lower epoch than one it accepted: its acks never count
      // towards any quorum, so its promise protects nothing (a follower must refuse; see below).
      this.ackEpochData = -1;
      this.sendAckEpoch(out);
    } else {
      this.stop(`Leaders epoch, ${newEpoch} is less than accepted epoch, ${this.acceptedEpoch}`, out);
    }
  }

  private sendAckEpoch(out: LearnerEffect[]): void {
    const data = encodeAckEpoch(this.ackEpochData);
    out.push({ type: 'send', packet: packet(PacketType.ACKEPOCH, this.lastLoggedZxid, data) });
    this._phase = 'sync-mode';
    this.lastHeard = this.now;
  }

  private onPersisted(which: EpochKind, epoch: number, out: LearnerEffect[]): void {
    if (epoch !== this.newEpoch) return;
    if (which === 'accepted' && this._phase === 'epoch') {
      this.sendAckEpoch(out);
    } else if (which === 'current' && this._phase === 'flushing' && this.epochPersistRequested) {
      this.currentEpoch = epoch;
      this.ackNewLeader(out);
    }
  }

  /** The synced history and the epoch are durable: ACK NEWLEADER, then the proposals logged so far. */
  private ackNewLeader(out: LearnerEffect[]): void {
    this.newLeaderAcked = true;
    this._phase = 'synced';
    this.lastHeard = this.now;
    out.push({ type: 'send', packet: packet(PacketType.ACK, makeZxid(this.newEpoch, 0)) });
    this.sendAcks(out);
  }

  private onSyncMode(p: QuorumPacket, out: LearnerEffect[]): void {
    switch (p.type) {
      case PacketType.DIFF:
        this.mode = 'DIFF';
        break;
      case PacketType.TRUNC:
        this.mode = 'TRUNC';
        out.push({ type: 'truncate-log', zxid: p.zxid });
        break;
      case PacketType.SNAP:
        this.mode = 'SNAP';
        this.snapZxid = p.zxid;
        break;
      default:
        this.protocolError(`expected DIFF, TRUNC or SNAP, got ${describePacket(p)}`, out);
        return;
    }
    this._phase = 'syncing';
    this.lastQueued = 0;
  }

  /** Learner.enforceContinuousProposal: txns come in order, without gaps inside an epoch. */
  private checkContinuous(zxid: number, out: LearnerEffect[]): boolean {
    if (this.lastQueued !== 0 && zxid !== this.lastQueued + 1) {
      if (epochOf(zxid) <= epochOf(this.lastQueued)) {
        this.protocolError(
          `got txn ${hex(zxid)} after ${hex(this.lastQueued)}, expected ${hex(this.lastQueued + 1)}`,
          out,
        );
        return false;
      }
    }
    this.lastQueued = zxid;
    return true;
  }

  /** Txns the loaded snapshot already holds are skipped (a fuzzy snapshot may hold even later ones). */
  private inSnapshot(zxid: number): boolean {
    return this.mode === 'SNAP' && zxid <= this.snapZxid;
  }

  private onSyncPacket(p: QuorumPacket, out: LearnerEffect[]): void {
    switch (p.type) {
      case PacketType.PROPOSAL: {
        if (this.inSnapshot(p.zxid)) return;
        if (p.data === null) {
          this.protocolError(`PROPOSAL ${hex(p.zxid)} without data`, out);
          return;
        }
        if (!this.checkContinuous(p.zxid, out)) return;
        this.pending.push({ zxid: p.zxid, data: p.data, committed: false });
        return;
      }
      case PacketType.COMMIT:
      case PacketType.COMMITANDACTIVATE: {
        if (this.inSnapshot(p.zxid)) return;
        const next = this.pending.find((q) => !q.committed);
        if (!next || next.zxid !== p.zxid) {
          const have = next ? hex(next.zxid) : 'none';
          this.protocolError(`COMMIT ${hex(p.zxid)}, but the next proposal is ${have}`, out);
          return;
        }
        next.committed = true;
        if (p.type === PacketType.COMMITANDACTIVATE)
          out.push({ type: 'activate', zxid: p.zxid, designatedLeader: decodeCommitAndActivate(p.data) });
        return;
      }
      case PacketType.INFORM:
      case PacketType.INFORMANDACTIVATE: {
        const inform = this.acceptInform(
          p,
          this.pending.some((q) => !q.committed),
          out,
        );
        if (!inform) return;
        const { data, leader } = inform;
        this.pending.push({ zxid: p.zxid, data, committed: true });
        if (leader !== null) out.push({ type: 'activate', zxid: p.zxid, designatedLeader: leader });
        return;
      }
      case PacketType.NEWLEADER:
        this.onNewLeader(p, out);
        return;
      case PacketType.UPTODATE:
        this.protocolError('UPTODATE before NEWLEADER (a pre-Zab-1.0 leader)', out);
        return;
      case PacketType.PING:
        return; // Learner.syncWithLeader ignores pings
      default:
        this.protocolError(`unexpected ${describePacket(p)} during sync`, out);
        return;
    }
  }

  /**
   * The checks an INFORM passes in either phase: only observers take them, a txn the loaded
   * snapshot holds is skipped, none may overtake proposals still waiting for their COMMIT, and
   * zxids run on without gaps. Null when the packet is to be dropped.
   */
  private acceptInform(
    p: QuorumPacket,
    proposalsWaiting: boolean,
    out: LearnerEffect[],
  ): { data: Buffer; leader: number | null } | null {
    if (this.role === 'follower') {
      this.protocolError(`${describePacket(p)} sent to a follower`, out);
      return null;
    }
    const inform = this.informData(p);
    if (this.inSnapshot(p.zxid)) return null;
    if (proposalsWaiting) {
      this.protocolError(`INFORM ${hex(p.zxid)} while proposals wait for their COMMIT`, out);
      return null;
    }
    if (!this.checkContinuous(p.zxid, out)) return null;
    return inform;
  }

  private informData(p: QuorumPacket): { data: Buffer; leader: number | null } {
    if (p.type === PacketType.INFORMANDACTIVATE) {
      const { designatedLeader, txn } = decodeInformAndActivate(p.data);
      return { data: txn, leader: designatedLeader };
    }
    if (p.data === null) throw new JuteError(`INFORM ${hex(p.zxid)} without data`);
    return { data: p.data, leader: null };
  }

  private onNewLeader(p: QuorumPacket, out: LearnerEffect[]): void {
    if (p.zxid !== makeZxid(this.newEpoch, 0)) {
      this.protocolError(`NEWLEADER ${hex(p.zxid)} from the leader of epoch ${this.newEpoch}`, out);
      return;
    }
    if (p.data !== null && p.data.length > 1)
      out.push({ type: 'leader-config', text: p.data.toString('utf8') });
    // Make the synced history durable (snapshot first, then the txns after it), then persist the
    // epoch, and only then ACK: the leader counts this ACK as "holds the whole initial history".
    if (this.mode === 'SNAP') {
      this.snapshotPending = true;
      out.push({ type: 'take-snapshot', zxid: this.snapZxid });
    }
    for (const q of this.pending) {
      out.push({ type: 'log-append', zxid: q.zxid, data: q.data });
      this.flushTarget = q.zxid;
      if (!q.committed) {
        this.uncommitted.push({ zxid: q.zxid, data: q.data });
        if (this.role === 'follower') this.toAck.push(q.zxid);
      }
    }
    for (const q of this.pending) if (q.committed) this.commitTxn(q, out);
    this.pending.length = 0;
    this._phase = 'flushing';
    this.maybeFinishFlush(out);
  }

  private maybeFinishFlush(out: LearnerEffect[]): void {
    if (this._phase !== 'flushing' || this.epochPersistRequested) return;
    if (this.snapshotPending || this.durableZxid < this.flushTarget) return;
    this.epochPersistRequested = true;
    // The current epoch is durable already when this learner reconnects within the epoch (or is an
    // observer following an older epoch, whose currentEpoch must not go down).
    if (this.newEpoch > this.currentEpoch)
      out.push({ type: 'persist-epoch', which: 'current', epoch: this.newEpoch });
    else this.ackNewLeader(out);
  }

  private onFsynced(zxid: number, out: LearnerEffect[]): void {
    if (zxid <= this.durableZxid) return;
    this.durableZxid = zxid;
    this.maybeFinishFlush(out);
    this.sendAcks(out);
  }

  /** Followers ACK logged proposals once durable, after the NEWLEADER ACK. */
  private sendAcks(out: LearnerEffect[]): void {
    if (!this.newLeaderAcked) return;
    while (this.toAck.length > 0 && this.toAck[0]! <= this.durableZxid) {
      const z = this.toAck.shift()!;
      out.push({ type: 'send', packet: packet(PacketType.ACK, z) });
    }
  }

  /**
   * A txn the leader committed. Before UPTODATE the leader may not be established yet (its initial
   * history is committed only once a quorum acks NEWLEADER), so applying waits for UPTODATE.
   */
  private commitTxn(p: Proposal, out: LearnerEffect[]): void {
    if (this._phase === 'broadcast') this.apply(p, out);
    else this.toApply.push(p);
  }

  private apply(p: Proposal, out: LearnerEffect[]): void {
    if (p.zxid <= this.lastApplied) throw new Error(`apply ${hex(p.zxid)} after ${hex(this.lastApplied)}`);
    this.lastApplied = p.zxid;
    out.push({ type: 'apply', zxid: p.zxid, data: p.data });
  }

  private onBroadcastPacket(p: QuorumPacket, out: LearnerEffect[]): void {
    const serving = this._phase === 'broadcast';
    switch (p.type) {
      case PacketType.PROPOSAL: {
        if (this.role === 'observer' && serving) {
          this.protocolError(`observer received ${describePacket(p)}`, out);
          return;
        }
        if (this.inSnapshot(p.zxid)) return;
        if (p.data === null) {
          this.protocolError(`PROPOSAL ${hex(p.zxid)} without data`, out);
          return;
        }
        if (!this.checkContinuous(p.zxid, out)) return;
        out.push({ type: 'log-append', zxid: p.zxid, data: p.data });
        this.uncommitted.push({ zxid: p.zxid, data: p.data });
        if (this.role === 'follower') this.toAck.push(p.zxid);
        return;
      }
      case PacketType.COMMIT:
      case PacketType.COMMITANDACTIVATE: {
        if (this.role === 'observer' && serving) {
          this.protocolError(`observer received ${describePacket(p)}`, out);
          return;
        }
        if (this.inSnapshot(p.zxid)) return;
        const next = this.uncommitted[0];
        if (!next || next.zxid !== p.zxid) {
          const have = next ? hex(next.zxid) : 'none';
          this.protocolError(`COMMIT ${hex(p.zxid)}, but the next proposal is ${have}`, out);
          return;
        }
        this.uncommitted.shift();
        this.commitTxn(next, out);
        if (p.type === PacketType.COMMITANDACTIVATE)
          out.push({ type: 'activate', zxid: p.zxid, designatedLeader: decodeCommitAndActivate(p.data) });
        return;
      }
      case PacketType.INFORM:
      case PacketType.INFORMANDACTIVATE: {
        const inform = this.acceptInform(p, this.uncommitted.length > 0, out);
        if (!inform) return;
        const { data, leader } = inform;
        out.push({ type: 'log-append', zxid: p.zxid, data });
        this.commitTxn({ zxid: p.zxid, data }, out);
        if (leader !== null) out.push({ type: 'activate', zxid: p.zxid, designatedLeader: leader });
        return;
      }
      case PacketType.UPTODATE:
        if (this._phase !== 'synced') {
          this.protocolError(`UPTODATE while ${this._phase}`, out);
          return;
        }
        this._phase = 'broadcast';
        for (const q of this.toApply) this.apply(q, out);
        this.toApply.length = 0;
        out.push({ type: 'send', packet: packet(PacketType.ACK, makeZxid(this.newEpoch, 0)) });
        out.push({ type: 'uptodate', epoch: this.newEpoch });
        return;
      case PacketType.PING:
        if (serving) out.push({ type: 'ping', zxid: p.zxid });
        return;
      case PacketType.SYNC:
        if (serving) out.push({ type: 'sync-done' });
        else out.push({ type: 'warn', message: 'SYNC before UPTODATE ignored' });
        return;
      case PacketType.REVALIDATE: {
        const r = decodeRevalidateReply(p.data);
        if (serving) out.push({ type: 'revalidated', sessionId: r.sessionId, valid: r.valid });
        return;
      }
      default:
        this.protocolError(`unexpected ${describePacket(p)} while ${this._phase}`, out);
        return;
    }
  }

  private tick(now: number, out: LearnerEffect[]): void {
    this.now = Math.max(this.now, now);
    // While this member waits for its own disk (epoch, flushing), the leader is not being read.
    if (this._phase === 'connecting' || this._phase === 'epoch' || this._phase === 'flushing') {
      this.lastHeard = this.now;
      return;
    }
    const t = this.timing;
    const ticks =
      this._phase === 'synced' || this._phase === 'broadcast' ? syncLimitFor(t, this.role) : t.initLimit;
    if (this.now - this.lastHeard > ticks * t.tickTime) this.stop('read timed out: leader silent', out);
  }

  private stop(reason: string, out: LearnerEffect[]): void {
    this._phase = 'stopped';
    this._stopReason = reason;
    out.push({ type: 'stopped', reason });
  }
}
