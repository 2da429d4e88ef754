// FastLeaderElection as a deterministic state machine: no sockets, timers or clocks. The shell
// feeds it inputs (start, decoded notifications, ticks carrying the time, connection changes) and
// executes the effects it returns (send a notification to a sid, try to connect to everybody,
// election done). Behaviour follows ZooKeeper's FastLeaderElection (its WorkerReceiver and
// lookForLeader loop) and zk-protocol.md §3.3–3.4. Differences: observers are stricter by default
// (ElectionOptions.strictObserver); a config with a higher version is reported (`newer-config`)
// rather than applied; no hierarchical quorums and no QuorumOracleMaj (2-member oracle).
// Like ZooKeeper's, this election does not make every member end a round on the same leader:
// each ends on the best vote a quorum agreed on as it saw them, and Zab's epoch establishment
// decides which leader actually leads (see peer/quorum/sim/election-sim.test.ts).
//
// Shell contract:
// - Call `start` when the member enters LOOKING (at boot, and each time it loses its leader or
//   followers), with the last logged zxid and current epoch from disk.
// - Deliver every notification received on the election port, decoded, with the sender's sid. The
//   core handles messages to itself internally (ZooKeeper's loopback); `send` effects never target
//   the member itself.
// - Call `tick` with the current time in ms; `nextDeadline()` tells when the next tick matters.
//   Other inputs may carry `now` too (recommended), so that the deadlines they set are exact.
// - Report `connected`/`disconnected` for election connections. On `connected` the core re-sends
//   the last notification it sent to that sid (QuorumCnxManager re-sends on reconnect), so the
//   shell may drop `send` effects for sids it has no connection to, but should then try to connect
//   (respecting shouldInitiateConnection). `connect-all` asks it to try every member.
// - After a `done`, the member leads/follows/observes; it keeps answering LOOKING members with its
//   vote until `start` is called again. After Zab synchronisation call `peer-epoch` with the new
//   epoch (QuorumPeer.updateElectionVote), so every member reports the same vote.

import {
  LONG_MIN,
  NOTIFICATION_VERSION,
  type NotificationMessage,
  type ServerState,
} from './election-wire.ts';
import { configVersionOf, type QuorumConfig, QuorumVerifier } from './quorum-config.ts';

/** FastLeaderElection.finalizeWait. */
export const FINALIZE_WAIT_MS = 200;
/** zookeeper.fastleader.minNotificationInterval default (= finalizeWait). */
export const MIN_NOTIFICATION_INTERVAL_MS = 200;
/** zookeeper.fastleader.maxNotificationInterval default. */
export const MAX_NOTIFICATION_INTERVAL_MS = 60_000;

export type ElectedState = 'LEADING' | 'FOLLOWING' | 'OBSERVING';

/** ZooKeeper's Vote. `version` is the notification format version it came from (0 for local votes). */
export interface Vote {
  leader: number;
  zxid: number;
  electionEpoch: number;
  peerEpoch: number;
  state: ServerState;
  version: number;
}

export interface Proposal {
  leader: number;
  zxid: number;
  peerEpoch: number;
}

/**
 * FastLeaderElection.totalOrderPredicate: does `next` beat `cur`? Higher peer epoch wins, then
 * higher zxid, then higher sid. A proposed leader of weight 0 never wins.
 */
export function totalOrderPredicate(next: Proposal, cur: Proposal, nextWeight = 1): boolean {
  if (nextWeight === 0) return false;
  return (
    next.peerEpoch > cur.peerEpoch ||
    (next.peerEpoch === cur.peerEpoch &&
      (next.zxid > cur.zxid || (next.zxid === cur.zxid && next.leader > cur.leader)))
  );
}

/**
 * Vote.equals: when either vote is LOOKING, all of leader, zxid, election epoch and peer epoch must
 * match; otherwise only the leader and peer epoch (only the leader when exactly one of the two has
 * a format version above 0).
 */
export function votesEqual(a: Vote, b: Vote): boolean {
  if (a.state === 'LOOKING' || b.state === 'LOOKING')
    return (
      a.leader === b.leader &&
      a.zxid === b.zxid &&
      a.electionEpoch === b.electionEpoch &&
      a.peerEpoch === b.peerEpoch
    );
  if (a.version > 0 !== b.version > 0) return a.leader === b.leader;
  return a.leader === b.leader && a.peerEpoch === b.peerEpoch;
}

/**
 * Inputs. `now` (ms, any monotonic clock) may come with any input: it is when the input happened,
 * used for the deadlines it sets. Timeouts only fire on `tick`.
 */
export type ElectionInput = { now?: number } & (
  | { type: 'start'; lastZxid: number; currentEpoch: number }
  | { type: 'notification'; from: number; message: NotificationMessage }
  | { type: 'tick'; now: number }
  | { type: 'connected'; sid: number }
  | { type: 'disconnected'; sid: number }
  | { type: 'peer-epoch'; epoch: number }
);

/** How a round ended for this member: its state and the vote it ended on. */
export interface ElectionOutcome {
  state: ElectedState;
  leader: number;
  electionEpoch: number;
  zxid: number;
  peerEpoch: number;
}

export type ElectionEffect =
  | { type: 'send'; to: number; message: NotificationMessage }
  | { type: 'connect-all' }
  | ({ type: 'done' } & ElectionOutcome)
  /**
   * A LOOKING member received a config with a higher version than its own. ZooKeeper adopts it and
   * restarts the election; the shell should do the same (new instance with the new config, start).
   * The notification that carried it is dropped.
   */
  | { type: 'newer-config'; from: number; version: number; config: string };

export interface ElectionOptions {
  mySid: number;
  /** Current config. */
  config: QuorumConfig | QuorumVerifier;
  /** A newer config seen but not yet committed (ZooKeeper's lastSeenQuorumVerifier), if any. */
  nextConfig?: QuorumConfig | QuorumVerifier | null;
  /** Defaults to this member's role in `config` (observer when it is not listed). */
  learnerType?: 'participant' | 'observer';
  finalizeWaitMs?: number;
  minNotificationIntervalMs?: number;
  maxNotificationIntervalMs?: number;
  /**
   * Default true. ZooKeeper lets an observer terminate on a quorum of LOOKING votes, but voters
   * answer an observer with their *current* vote, which while they are LOOKING is the result of the
   * previous election: after a leader crash an observer can thus "elect" the dead leader in the new
   * round, and only recovers after failing to connect to it. It also answers a voter's notification
   * from an older round with its own vote, which the voter answers again, in a loop until the
   * voters finish. With strictObserver an observer ignores LOOKING notifications (it neither tallies
   * nor answers them) and ends only through FOLLOWING/LEADING notifications (a quorum of voters
   * following one leader, and that leader LEADING). Voters behave exactly as in ZooKeeper either
   * way; set false to reproduce ZooKeeper's observers too.
   */
  strictObserver?: boolean;
}

function verifier(c: QuorumConfig | QuorumVerifier): QuorumVerifier {
  return c instanceof QuorumVerifier ? c : new QuorumVerifier(c);
}

export class FastLeaderElection {
  readonly mySid: number;
  readonly qv: QuorumVerifier;
  readonly nextQv: QuorumVerifier | null;
  readonly learnerType: 'participant' | 'observer';
  private readonly finalizeWait: number;
  private readonly minInterval: number;
  private readonly maxInterval: number;
  private readonly strictObserver: boolean;
  private readonly voterIds: Set<number>;
  private readonly configText: string;

  private started = false;
  private _state: ServerState = 'LOOKING';
  private clock = 0;
  private proposal: Proposal = { leader: -1, zxid: -1, peerEpoch: 0 };
  private init: Proposal = { leader: -1, zxid: -1, peerEpoch: 0 };
  private _currentVote: Vote | null = null;
  private recvset = new Map<number, Vote>();
  private outofelection = new Map<number, Vote>();
  private notTimeout: number;
  private pollStart = 0;
  private finalizeDeadline: number | null = null;
  private now = 0;
  private readonly connected = new Set<number>();
  private readonly lastSent = new Map<number, NotificationMessage>();
  private effects: ElectionEffect[] = [];
  private loopback: NotificationMessage[] = [];
  /**
   * Observers that asked this voter while it was looking. They hear the outcome as soon as it is
   * decided instead of at their next retry (200 ms, then 400, 800...): after a leader failure an
   * observer otherwise served about 0.4 s after the voters.
   */
  private askedWhileLooking = new Set<number>();

  constructor(opts: ElectionOptions) {
    this.mySid = opts.mySid;
    this.qv = verifier(opts.config);
    const next = opts.nextConfig ? verifier(opts.nextConfig) : null;
    this.nextQv = next && next.version > this.qv.version ? next : null;
    this.learnerType =
      opts.learnerType ??
      (this.qv.config.members.get(opts.mySid)?.role === 'participant' ? 'participant' : 'observer');
    this.finalizeWait = opts.finalizeWaitMs ?? FINALIZE_WAIT_MS;
    this.minInterval = opts.minNotificationIntervalMs ?? MIN_NOTIFICATION_INTERVAL_MS;
    this.maxInterval = opts.maxNotificationIntervalMs ?? MAX_NOTIFICATION_INTERVAL_MS;
    this.strictObserver = opts.strictObserver ?? true;
    this.notTimeout = this.minInterval;
    this.voterIds = new Set(this.qv.voters);
    if (this.nextQv) for (const v of this.nextQv.voters) this.voterIds.add(v);
    this.configText = this.qv.toString();
  }

  // --- observation (for the shell, 4lw/metrics and tests) ---

  get state(): ServerState {
    return this._state;
  }

  get logicalClock(): number {
    return this.clock;
  }

  /** The vote this member proposes in the current round. */
  get currentProposal(): Proposal {
    return { ...this.proposal };
  }

  /** QuorumPeer's current vote: what it answers LOOKING members with when it is not LOOKING. */
  get currentVote(): Vote | null {
    return this._currentVote ? { ...this._currentVote } : null;
  }

  /** Sids whose votes are recorded in this round (recvset) and out of election. */
  get recordedSids(): { round: number[]; outOfElection: number[] } {
    return { round: [...this.recvset.keys()], outOfElection: [...this.outofelection.keys()] };
  }

  /** Time at which a tick would do something, or null (not LOOKING). */
  nextDeadline(): number | null {
    if (!this.started || this._state !== 'LOOKING') return null;
    if (this.finalizeDeadline !== null) return this.finalizeDeadline;
    return this.pollStart + this.notTimeout;
  }

  isVoter(sid: number): boolean {
    return this.voterIds.has(sid);
  }

  // --- input ---

  step(input: ElectionInput): ElectionEffect[] {
    this.effects = [];
    if (input.now !== undefined) this.now = Math.max(this.now, input.now);
    switch (input.type) {
      case 'start':
        this.lookForLeader(input.lastZxid, input.currentEpoch);
        break;
      case 'notification':
        if (this.started) this.receive(input.from, input.message);
        break;
      case 'tick':
        if (this.started) this.onTick();
        break;
      case 'connected':
        this.connected.add(input.sid);
        if (this.started) {
          const last = this.lastSent.get(input.sid);
          if (last) this.effects.push({ type: 'send', to: input.sid, message: last });
        }
        break;
      case 'disconnected':
        this.connected.delete(input.sid);
        break;
      case 'peer-epoch':
        if (this._currentVote) this._currentVote = { ...this._currentVote, peerEpoch: input.epoch };
        break;
    }
    while (this.loopback.length > 0) this.receive(this.mySid, this.loopback.shift()!);
    const out = this.effects;
    this.effects = [];
    return out;
  }

  // --- sending ---

  private send(to: number, message: NotificationMessage): void {
    if (to === this.mySid) {
      this.loopback.push(message);
      return;
    }
    this.lastSent.set(to, message);
    this.effects.push({ type: 'send', to, message });
  }

  private message(state: ServerState, v: Proposal, electionEpoch: number): NotificationMessage {
    return {
      state,
      leader: v.leader,
      zxid: v.zxid,
      electionEpoch,
      peerEpoch: v.peerEpoch,
      version: NOTIFICATION_VERSION,
      config: this.configText,
    };
  }

  /** sendNotifications: our LOOKING proposal to every voter of the current and next config. */
  private sendNotifications(): void {
    const m = this.message('LOOKING', this.proposal, this.clock);
    for (const sid of this.voterIds) this.send(sid, m);
  }

  // --- lookForLeader ---

  private lookForLeader(lastZxid: number, currentEpoch: number): void {
    // QuorumPeer.startLeaderElection sets the current vote once, at boot.
    this._currentVote ??= {
      leader: this.mySid,
      zxid: lastZxid,
      electionEpoch: -1,
      peerEpoch: currentEpoch,
      state: 'LOOKING',
      version: 0,
    };
    this.started = true;
    this._state = 'LOOKING';
    this.recvset.clear();
    this.outofelection.clear();
    this.notTimeout = this.minInterval;
    this.pollStart = this.now;
    this.finalizeDeadline = null;
    const participant = this.learnerType === 'participant';
    this.init = {
      leader: this.qv.isVoter(this.mySid) ? this.mySid : LONG_MIN,
      zxid: participant ? lastZxid : LONG_MIN,
      peerEpoch: participant ? currentEpoch : LONG_MIN,
    };
    this.clock++;
    this.askedWhileLooking.clear();
    this.proposal = { ...this.init };
    this.sendNotifications();
  }

  private get strictObserverHere(): boolean {
    return this.strictObserver && !this.voterIds.has(this.mySid);
  }

  /** WorkerReceiver: answers that do not wait for the election loop, then hands the rest to it. */
  private receive(from: number, n: NotificationMessage): void {
    if (n.config !== null) {
      const v = configVersionOf(n.config);
      if (v !== null && v > this.qv.version && this._state === 'LOOKING') {
        this.effects.push({ type: 'newer-config', from, version: v, config: n.config });
        return;
      }
    }
    if (!this.voterIds.has(from)) {
      // A non-voter (observer): answer at once with our current vote; never record its vote.
      if (this._state === 'LOOKING' && n.state === 'LOOKING' && this.voterIds.has(this.mySid))
        this.askedWhileLooking.add(from);
      const cv = this._currentVote!;
      this.send(from, this.message(this._state, cv, this.clock));
      return;
    }
    if (this._state === 'LOOKING') {
      if (n.state === 'LOOKING' && n.electionEpoch < this.clock && !this.strictObserverHere)
        this.send(from, this.message('LOOKING', this.proposal, this.clock));
      this.process(from, n);
    } else if (n.state === 'LOOKING') {
      const cv = this._currentVote!;
      this.send(from, this.message(this._state, cv, cv.electionEpoch));
    }
  }

  private isBetter(n: Proposal): boolean {
    return totalOrderPredicate(n, this.proposal, this.qv.weight(n.leader));
  }

  /** One notification taken by the lookForLeader loop. */
  private process(from: number, n: NotificationMessage): void {
    if (this.finalizeDeadline !== null) {
      // Waiting finalizeWait for a better vote: anything else is consumed and restarts the wait.
      if (!this.isBetter(n)) {
        this.finalizeDeadline = this.now + this.finalizeWait;
        return;
      }
      this.finalizeDeadline = null;
    }
    this.pollStart = this.now;
    if (!this.voterIds.has(from) || !this.voterIds.has(n.leader)) return;
    switch (n.state) {
      case 'LOOKING':
        this.processLooking(from, n);
        break;
      case 'OBSERVING':
        break;
      case 'FOLLOWING':
      case 'LEADING':
        this.receivedFollowingNotification(from, n);
        break;
    }
  }

  private processLooking(from: number, n: NotificationMessage): void {
    if (this.strictObserverHere) return;
    if (this.init.zxid === -1 || n.zxid === -1) return;
    if (n.electionEpoch > this.clock) {
      this.clock = n.electionEpoch;
      this.recvset.clear();
      this.proposal = totalOrderPredicate(n, this.init, this.qv.weight(n.leader))
        ? { leader: n.leader, zxid: n.zxid, peerEpoch: n.peerEpoch }
        : { ...this.init };
      this.sendNotifications();
    } else if (n.electionEpoch < this.clock) {
      return;
    } else if (this.isBetter(n)) {
      this.proposal = { leader: n.leader, zxid: n.zxid, peerEpoch: n.peerEpoch };
      this.sendNotifications();
    }
    this.recvset.set(from, {
      leader: n.leader,
      zxid: n.zxid,
      electionEpoch: n.electionEpoch,
      peerEpoch: n.peerEpoch,
      state: 'LOOKING',
      version: 0,
    });
    const mine: Vote = { ...this.proposal, electionEpoch: this.clock, state: 'LOOKING', version: 0 };
    if (this.hasAllQuorums(this.recvset, mine)) this.finalizeDeadline = this.now + this.finalizeWait;
  }

  private receivedFollowingNotification(from: number, n: NotificationMessage): void {
    const vote: Vote = {
      leader: n.leader,
      zxid: n.zxid,
      electionEpoch: n.electionEpoch,
      peerEpoch: n.peerEpoch,
      state: n.state,
      version: n.version,
    };
    if (n.electionEpoch === this.clock) {
      this.recvset.set(from, { ...vote, version: 0 });
      if (
        this.hasAllQuorums(this.recvset, vote) &&
        this.checkLeader(this.recvset, n.leader, n.electionEpoch)
      ) {
        this.finish(n.leader, n.zxid, n.electionEpoch, n.peerEpoch);
        return;
      }
    }
    // Joining an established ensemble: a quorum follows the same leader, which says it leads.
    this.outofelection.set(from, vote);
    if (
      this.hasAllQuorums(this.outofelection, vote) &&
      this.checkLeader(this.outofelection, n.leader, n.electionEpoch)
    ) {
      this.clock = n.electionEpoch;
      this.finish(n.leader, n.zxid, n.electionEpoch, n.peerEpoch);
    }
  }

  /** SyncedLearnerTracker over the votes equal to `vote`: a quorum in every config. */
  private hasAllQuorums(votes: Map<number, Vote>, vote: Vote): boolean {
    const acks: number[] = [];
    for (const [sid, v] of votes) if (votesEqual(vote, v)) acks.push(sid);
    return this.qv.containsQuorum(acks) && (this.nextQv === null || this.nextQv.containsQuorum(acks));
  }

  /** The leader must have told us it is LEADING, unless it is us (then the round must be ours). */
  private checkLeader(votes: Map<number, Vote>, leader: number, electionEpoch: number): boolean {
    if (leader !== this.mySid) return votes.get(leader)?.state === 'LEADING';
    return this.clock === electionEpoch;
  }

  private onTick(): void {
    if (this._state !== 'LOOKING') return;
    if (this.finalizeDeadline !== null) {
      if (this.now >= this.finalizeDeadline) {
        const p = this.proposal;
        this.finish(p.leader, p.zxid, this.clock, p.peerEpoch);
      }
      return;
    }
    if (this.now < this.pollStart + this.notTimeout) return;
    if (this.connected.size > 0) this.sendNotifications();
    else this.effects.push({ type: 'connect-all' });
    this.notTimeout = Math.min(this.notTimeout * 2, this.maxInterval);
    this.pollStart = this.now;
  }

  private finish(leader: number, zxid: number, electionEpoch: number, peerEpoch: number): void {
    const state: ElectedState =
      leader === this.mySid ? 'LEADING' : this.learnerType === 'participant' ? 'FOLLOWING' : 'OBSERVING';
    this._state = state;
    this.finalizeDeadline = null;
    this.loopback = []; // leaveInstance: whatever was queued for the round is dropped
    this._currentVote = { leader, zxid, electionEpoch, peerEpoch, state: 'LOOKING', version: 0 };
    for (const sid of this.askedWhileLooking)
      this.send(sid, this.message(state, this._currentVote, this.clock));
    this.askedWhileLooking.clear();
    this.effects.push({ type: 'done', state, leader, electionEpoch, zxid, peerEpoch });
  }
}
