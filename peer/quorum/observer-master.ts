// A follower's observer master as a deterministic state machine (zk-protocol.md §2.9; ZooKeeper's
// ObserverMaster.java with LearnerHandler): observers connect to a follower of their region instead
// of the leader, and the follower keeps them in sync from what it has itself committed, so that the
// leader sends each txn once per region rather than once per observer.
//
// What it does:
//   handshake  OBSERVERINFO -> LEADERINFO (the epoch of the leader the follower follows) ->
//              ACKEPOCH -> DIFF/TRUNC/SNAP and the missing txns as INFORM -> NEWLEADER -> ACK ->
//              UPTODATE at once (the follower is established already: nothing to wait for)
//   sync       from the committed txns it keeps (the most recent ones, up to a byte limit:
//              zookeeper.observerMaster.sizeLimit, 32 MiB by default), else by a snapshot of its tree
//   forward    every txn the follower applies goes to its observers as INFORM, a reconfig as
//              INFORMANDACTIVATE once the follower activates it (it names the new config's leader)
//   relay      observers' REQUESTs (writes, sessions, syncs) and REVALIDATEs go to the leader on the
//              follower's own connection; the leader answers SYNC and REVALIDATE in the order it was
//              asked, so one queue of who asked (an observer, or the follower for its own clients)
//              routes each answer back
//   sessions   the touches observers report in their PINGs join the follower's own touch table, which
//              its next PING carries to the leader
//
// The follower's shell feeds it the follower's committed stream and answers from the leader, runs its
// effects, and owns the listener, the sockets and the snapshot body. Connections are numbered by the
// shell (`conn`), as for the leader.

import { JuteError } from '../jute/archive.ts';
import { OpCode } from '../protocol/constants.ts';
import type { LearnerState } from './leader.ts';
import {
  decideSync,
  informAndActivatePacket,
  informPacket,
  readLearnerHello,
  type SyncEffect,
  type SyncMode,
  syncOpening,
} from './learner-sync.ts';
import {
  decodeAckEpoch,
  decodeRevalidateRequest,
  decodeTouchTable,
  describePacket,
  encodeLeaderInfo,
  encodeRevalidateReply,
  forwardedRequestType,
  PacketType,
  packet,
  packetTypeName,
  type QuorumPacket,
  type SessionTouch,
} from './packets.ts';
import {
  counterOf,
  hex,
  isReconfigTxn,
  makeZxid,
  type Proposal,
  syncLimitFor,
  type Verifier,
  type WarnEffect,
  type ZabTiming,
} from './zab-common.ts';

/** ZooKeeper's default for zookeeper.observerMaster.sizeLimit. */
export const DEFAULT_SIZE_LIMIT = 32 * 1024 * 1024;

export type ObserverMasterInput =
  | { kind: 'tick'; now: number }
  /** An observer connected to the observer-master port (and passed the learner guard). */
  | { kind: 'connected'; conn: number }
  | { kind: 'packet'; conn: number; packet: QuorumPacket }
  | { kind: 'disconnected'; conn: number }
  /**
   * The follower's history starts over at lastZxid (it loaded a snapshot from its leader, or
   * truncated its log): the txns kept so far no longer describe its tree.
   */
  | { kind: 'reset'; lastZxid: number }
  /** The follower applied a committed txn (in zxid order). */
  | { kind: 'committed'; zxid: number; data: Buffer }
  /** The follower activated the reconfig txn it just applied (COMMITANDACTIVATE). */
  | { kind: 'activated'; zxid: number; designatedLeader: number }
  /** The follower got UPTODATE from its leader of this epoch: observers may sync from it now. */
  | { kind: 'serving'; epoch: number }
  /** The follower sends one of its own clients' syncs, or a revalidation, to the leader. */
  | { kind: 'local-sync' }
  | { kind: 'local-revalidate'; sessionId: bigint }
  /** The leader's answers on the follower's connection, in the order they arrive. */
  | { kind: 'leader-sync' }
  | { kind: 'leader-revalidated'; sessionId: bigint; valid: boolean };

export type ObserverMasterEffect =
  | SyncEffect
  | { type: 'close'; conn: number; reason: string }
  /** Send to the leader on the follower's connection, after what the follower sent before. */
  | { type: 'to-leader'; packet: QuorumPacket }
  /** The leader's SYNC answered the follower's own oldest pending sync. */
  | { type: 'local-sync-done' }
  /** The leader's REVALIDATE answered one of the follower's own revalidations. */
  | { type: 'local-revalidated'; sessionId: bigint; valid: boolean }
  /** Sessions the observers' clients touched: add them to the follower's touch table. */
  | { type: 'touch'; touches: SessionTouch[] }
  | WarnEffect;

export interface ObserverMasterOptions {
  sid: number;
  timing: ZabTiming;
  /** The follower's last applied zxid when the master is created. */
  lastZxid: number;
  /** The follower's most recent committed txns, oldest first, ending at lastZxid (may be empty). */
  committedLog: readonly Proposal[];
  /** Bytes of committed txns kept for DIFF syncs (zookeeper.observerMaster.sizeLimit). */
  sizeLimit?: number;
  /** The config in force at the follower: observers ahead of it are refused; NEWLEADER carries it. */
  config: () => Verifier;
  now: number;
}

type Phase =
  | 'connected' // waiting for OBSERVERINFO
  | 'leaderinfo' // LEADERINFO sent, waiting for ACKEPOCH
  | 'syncing' // sync packets and NEWLEADER sent, waiting for the NEWLEADER ACK; forwarding
  | 'uptodate'; // UPTODATE sent

interface Conn {
  conn: number;
  sid: number | null;
  phase: Phase;
  syncMode: SyncMode | null;
  peerLastZxid: number;
  lastHeard: number;
}

/** Who asked the leader: an observer's connection, or the follower itself. */
type Asker = number | 'local';

/** What a cached committed txn costs: its bytes and the packet around them. */
function cost(p: Proposal): number {
  return p.data.length + 24;
}

export class ObserverMaster {
  readonly sid: number;
  private readonly timing: ZabTiming;
  private readonly sizeLimit: number;
  private readonly config: () => Verifier;
  private now: number;
  private lastPing: number;
  /** The leader's epoch once the follower serves; -1 before (observers are turned away). */
  private epoch = -1;

  private lastZxid: number;
  /** Committed txns kept for DIFF syncs, oldest first from logStart, ending at lastZxid. */
  private readonly log: Proposal[] = [];
  /** Where the kept txns start in log: evicted ones leave the array in batches (see keep). */
  private logStart = 0;
  private logBytes = 0;
  /** A reconfig applied and not yet activated: it goes out as INFORMANDACTIVATE. */
  private pendingReconfig: Proposal | null = null;

  private readonly conns = new Map<number, Conn>();
  private readonly syncs: Asker[] = [];
  private readonly revalidations: { asker: Asker; sessionId: bigint }[] = [];

  constructor(o: ObserverMasterOptions) {
    this.sid = o.sid;
    this.timing = o.timing;
    this.sizeLimit = o.sizeLimit ?? DEFAULT_SIZE_LIMIT;
    this.config = o.config;
    this.now = o.now;
    this.lastPing = o.now;
    this.lastZxid = o.lastZxid;
    const log = o.committedLog;
    // A log that does not end where the tree does (or is out of order) cannot back a DIFF.
    const usable =
      log.length > 0 &&
      log[log.length - 1]!.zxid === o.lastZxid &&
      log.every((p, i) => i === 0 || p.zxid > log[i - 1]!.zxid);
    if (usable) for (const p of log) this.keep(p);
  }

  /** True once the follower serves: observers are synced and fed. */
  get serving(): boolean {
    return this.epoch >= 0;
  }

  /** The follower's last committed zxid as the master knows it. */
  get lastCommittedZxid(): number {
    return this.lastZxid;
  }

  /** zxids of the committed txns kept for DIFF syncs, oldest first. */
  get keptZxids(): number[] {
    return this.kept().map((p) => p.zxid);
  }

  get keptBytes(): number {
    return this.logBytes;
  }

  /** The observers, as the leader describes its learners (status, metrics, `mntr`). */
  learners(): LearnerState[] {
    return [...this.conns.values()].map(({ conn, sid, phase, syncMode, peerLastZxid }) => ({
      conn,
      sid,
      kind: 'observer' as const,
      phase,
      syncMode,
      peerLastZxid,
    }));
  }

  step(input: ObserverMasterInput): ObserverMasterEffect[] {
    const out: ObserverMasterEffect[] = [];
    switch (input.kind) {
      case 'tick':
        this.tick(input.now, out);
        break;
      case 'connected':
        if (!this.serving) {
          out.push({ type: 'close', conn: input.conn, reason: 'not synced with a leader yet' });
          break;
        }
        this.conns.set(input.conn, {
          conn: input.conn,
          sid: null,
          phase: 'connected',
          syncMode: null,
          peerLastZxid: -1,
          lastHeard: this.now,
        });
        break;
      case 'packet': {
        const c = this.conns.get(input.conn);
        if (!c) break;
        c.lastHeard = this.now;
        try {
          this.onPacket(c, input.packet, out);
        } catch (e) {
          if (!(e instanceof JuteError)) throw e;
          this.close(c, `bad ${packetTypeName(input.packet.type)} packet: ${e.message}`, out);
        }
        break;
      }
      case 'disconnected':
        // Its place in the queues of questions to the leader stays: answers come back in order.
        this.conns.delete(input.conn);
        break;
      case 'reset':
        this.reset(input.lastZxid, out);
        break;
      case 'committed':
        this.onCommitted({ zxid: input.zxid, data: input.data }, out);
        break;
      case 'activated':
        this.onActivated(input.zxid, input.designatedLeader, out);
        break;
      case 'serving':
        this.epoch = input.epoch;
        this.lastPing = this.now;
        break;
      case 'local-sync':
        this.syncs.push('local');
        break;
      case 'local-revalidate':
        this.revalidations.push({ asker: 'local', sessionId: input.sessionId });
        break;
      case 'leader-sync':
        this.onLeaderSync(out);
        break;
      case 'leader-revalidated':
        this.onLeaderRevalidated(input.sessionId, input.valid, out);
        break;
    }
    return out;
  }

  // --- the follower's committed stream ---

  private reset(lastZxid: number, out: ObserverMasterEffect[]): void {
    for (const c of [...this.conns.values()]) this.close(c, 'the observer master resynced', out);
    this.log.length = 0;
    this.logStart = 0;
    this.logBytes = 0;
    this.pendingReconfig = null;
    this.lastZxid = lastZxid;
  }

  private onCommitted(p: Proposal, out: ObserverMasterEffect[]): void {
    if (this.pendingReconfig) {
      // Never expected: a reconfig is activated as soon as it is applied.
      out.push({ type: 'warn', message: `reconfig ${hex(this.pendingReconfig.zxid)} was not activated` });
      const held = this.pendingReconfig;
      this.pendingReconfig = null;
      this.commit(held, informPacket(held), out);
    }
    if (p.zxid <= this.lastZxid) {
      out.push({ type: 'warn', message: `committed ${hex(p.zxid)} again (at ${hex(this.lastZxid)})` });
      return;
    }
    // Before the follower serves nobody is fed, and its sync applies a reconfig after activating it.
    if (this.serving && isReconfigTxn(p.data)) {
      this.pendingReconfig = p;
      return;
    }
    this.commit(p, informPacket(p), out);
  }

  private onActivated(zxid: number, designatedLeader: number, out: ObserverMasterEffect[]): void {
    if (!this.serving) return;
    const p = this.pendingReconfig;
    if (!p || p.zxid !== zxid) {
      out.push({ type: 'warn', message: `activation of ${hex(zxid)} without its reconfig txn` });
      return;
    }
    this.pendingReconfig = null;
    this.commit(p, informAndActivatePacket(p, designatedLeader), out);
  }

  /** Keeps the txn for later syncs and sends it to every observer being fed. */
  private commit(p: Proposal, inform: QuorumPacket, out: ObserverMasterEffect[]): void {
    this.keep(p);
    for (const c of this.conns.values())
      if (c.phase === 'syncing' || c.phase === 'uptodate') this.send(c, inform, out);
  }

  private keep(p: Proposal): void {
    this.log.push(p);
    this.logBytes += cost(p);
    this.lastZxid = p.zxid;
    while (this.logBytes > this.sizeLimit && this.logStart < this.log.length)
      this.logBytes -= cost(this.log[this.logStart++]!);
    // Not a shift per commit: on an array of 100k txns (32 MiB of small ones) each shift moves them
    // all, some 80 µs per commit. The evicted txns go in one splice once they are half the array.
    if (this.logStart * 2 > this.log.length) this.kept();
  }

  /** The kept txns, oldest first (the evicted ones dropped from the array). */
  private kept(): Proposal[] {
    if (this.logStart > 0) {
      this.log.splice(0, this.logStart);
      this.logStart = 0;
    }
    return this.log;
  }

  // --- observers ---

  private onPacket(c: Conn, p: QuorumPacket, out: ObserverMasterEffect[]): void {
    switch (c.phase) {
      case 'connected':
        this.onObserverInfo(c, p, out);
        return;
      case 'leaderinfo':
        if (p.type !== PacketType.ACKEPOCH) {
          this.protocolError(c, p, 'ACKEPOCH', out);
          return;
        }
        this.onAckEpoch(c, p, out);
        return;
      case 'syncing':
        if (p.type !== PacketType.ACK) {
          this.protocolError(c, p, 'the NEWLEADER ACK', out);
          return;
        }
        if (p.zxid !== makeZxid(this.epoch, 0)) {
          this.close(c, `NEWLEADER ACK for ${hex(p.zxid)}, expected ${hex(makeZxid(this.epoch, 0))}`, out);
          return;
        }
        // The follower is established already: nothing to wait for.
        this.send(c, packet(PacketType.UPTODATE, -1), out);
        c.phase = 'uptodate';
        return;
      case 'uptodate':
        this.onServingPacket(c, p, out);
        return;
    }
  }

  private protocolError(c: Conn, p: QuorumPacket, wanted: string, out: ObserverMasterEffect[]): void {
    this.close(c, `protocol error: got ${describePacket(p)}, expected ${wanted}`, out);
  }

  private onObserverInfo(c: Conn, p: QuorumPacket, out: ObserverMasterEffect[]): void {
    const hello = readLearnerHello(p, {
      sid: this.sid,
      configVersion: this.config().version,
      accepts: 'observer',
    });
    if (typeof hello === 'string') {
      this.close(c, hello, out);
      return;
    }
    for (const other of [...this.conns.values()])
      if (other !== c && other.sid === hello.sid)
        this.close(other, `replaced by a new connection from sid ${hello.sid}`, out);
    c.sid = hello.sid;
    // The epoch is the leader's: the follower accepted it long ago, so an observer's acceptedEpoch
    // cannot move it (ObserverMaster.getEpochToPropose returns the follower's current epoch).
    this.send(c, packet(PacketType.LEADERINFO, makeZxid(this.epoch, 0), encodeLeaderInfo()), out);
    c.phase = 'leaderinfo';
  }

  private onAckEpoch(c: Conn, p: QuorumPacket, out: ObserverMasterEffect[]): void {
    const peerEpoch = decodeAckEpoch(p.data);
    if (peerEpoch > this.epoch) {
      // It was fed by a leader of a later epoch than the one this follower follows: this follower
      // is the one behind (cut off from a newer leader, most likely). Let it find another master.
      this.close(c, `observer is at epoch ${peerEpoch}, this master's leader at ${this.epoch}`, out);
      return;
    }
    c.peerLastZxid = p.zxid;
    const plan = decideSync(p.zxid, { lastProcessedZxid: this.lastZxid, committedLog: this.kept() });
    c.syncMode = plan.mode;
    syncOpening(c.conn, 'observer', plan, out);
    const config = Buffer.from(this.config().toString(), 'utf8');
    this.send(c, packet(PacketType.NEWLEADER, makeZxid(this.epoch, 0), config), out);
    c.phase = 'syncing';
  }

  private onServingPacket(c: Conn, p: QuorumPacket, out: ObserverMasterEffect[]): void {
    switch (p.type) {
      case PacketType.ACK:
        if (counterOf(p.zxid) === 0) return; // the ACK a learner sends after UPTODATE
        this.close(c, `protocol error: ACK ${hex(p.zxid)} from an observer`, out);
        return;
      case PacketType.PING: {
        const touches = decodeTouchTable(p.data);
        if (touches.length > 0) out.push({ type: 'touch', touches });
        return;
      }
      case PacketType.REVALIDATE: {
        const r = decodeRevalidateRequest(p.data);
        this.revalidations.push({ asker: c.conn, sessionId: r.sessionId });
        out.push({ type: 'to-leader', packet: p });
        return;
      }
      case PacketType.REQUEST:
        if (forwardedRequestType(p) === OpCode.sync) this.syncs.push(c.conn);
        out.push({ type: 'to-leader', packet: p });
        return;
      default:
        this.close(c, `protocol error: ${describePacket(p)} from an observer`, out);
    }
  }

  // --- the leader's answers ---

  private onLeaderSync(out: ObserverMasterEffect[]): void {
    const asker = this.syncs.shift();
    if (asker === undefined || asker === 'local') {
      out.push({ type: 'local-sync-done' });
      return;
    }
    // Every INFORM the leader committed before this SYNC went to the observer already: in order.
    const c = this.conns.get(asker);
    if (c) this.send(c, packet(PacketType.SYNC, 0), out);
  }

  private onLeaderRevalidated(sessionId: bigint, valid: boolean, out: ObserverMasterEffect[]): void {
    const i = this.revalidations.findIndex((r) => r.sessionId === sessionId);
    const asker = i < 0 ? 'local' : this.revalidations.splice(i, 1)[0]!.asker;
    if (asker === 'local') {
      out.push({ type: 'local-revalidated', sessionId, valid });
      return;
    }
    const c = this.conns.get(asker);
    if (c) this.send(c, packet(PacketType.REVALIDATE, -1, encodeRevalidateReply(sessionId, valid)), out);
  }

  // --- time ---

  private tick(now: number, out: ObserverMasterEffect[]): void {
    this.now = Math.max(this.now, now);
    const t = this.timing;
    for (const c of [...this.conns.values()]) {
      const limit = c.phase === 'uptodate' ? syncLimitFor(t, 'observer') : t.initLimit;
      if (this.now - c.lastHeard > limit * t.tickTime) this.close(c, 'read timeout', out);
    }
    if (!this.serving || this.now - this.lastPing < t.tickTime / 2) return;
    this.lastPing = this.now;
    const ping = packet(PacketType.PING, this.lastZxid);
    for (const c of this.conns.values())
      if (c.phase === 'syncing' || c.phase === 'uptodate') this.send(c, ping, out);
  }

  // --- helpers ---

  private send(c: Conn, p: QuorumPacket, out: ObserverMasterEffect[]): void {
    out.push({ type: 'send', conn: c.conn, packet: p });
  }

  private close(c: Conn, reason: string, out: ObserverMasterEffect[]): void {
    if (this.conns.get(c.conn) !== c) return;
    this.conns.delete(c.conn);
    out.push({ type: 'close', conn: c.conn, reason });
  }
}
