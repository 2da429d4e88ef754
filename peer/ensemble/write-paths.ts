// Write paths of the ensemble roles. The leader preps writes (its own clients' and those learners
// forward) and proposes them; learners forward their clients' writes to the leader. Either way the
// front end answers a client when the txn it caused is committed and applied here.

import { JuteWriter } from '../jute/archive.ts';
import { writeRequest } from '../jute/records.ts';
import { encodeTxnEntry } from '../jute/txn.ts';
import { OpCode } from '../protocol/constants.ts';
import type { ForwardedRequest } from '../quorum/packets.ts';
import { parseDynamicConfig, type QuorumConfig } from '../quorum/quorum-config.ts';
import type { PendingView } from '../server/prep.ts';
import type { SessionTracker } from '../server/sessions.ts';
import {
  type CommitSink,
  type PrepSettings,
  prepareTxn,
  type WritePath,
  type WriteRequest,
} from '../server/write-path.ts';

export interface Proposer {
  /** The zxid the next proposal must carry. */
  readonly nextZxid: number;
  /** `installs`: the config a reconfig txn installs when it commits. */
  propose(zxid: number, data: Buffer, installs?: QuorumConfig): void;
}

export class LeaderWritePath implements WritePath {
  readonly authoritative = true;
  private readonly view: PendingView;
  private readonly sessions: SessionTracker;
  private readonly settings: PrepSettings;
  private readonly sink: CommitSink;
  private readonly proposer: Proposer;
  private lastProposed: number;
  private applied: number;
  private readonly syncs: { target: number; sessionId: bigint; cxid: number }[] = [];

  constructor(
    view: PendingView,
    sessions: SessionTracker,
    settings: PrepSettings,
    sink: CommitSink,
    proposer: Proposer,
    applied: number,
  ) {
    this.view = view;
    this.sessions = sessions;
    this.settings = settings;
    this.sink = sink;
    this.proposer = proposer;
    this.applied = applied;
    this.lastProposed = applied;
  }

  write(w: WriteRequest): void {
    const zxid = this.proposer.nextZxid;
    const { header, txn } = prepareTxn(w, this.view, this.sessions, this.settings, zxid, Date.now());
    this.lastProposed = zxid;
    const installs = txn.type === OpCode.reconfig ? parseDynamicConfig(txn.data.toString('utf8')) : undefined;
    this.proposer.propose(zxid, encodeTxnEntry(header, txn, null), installs);
  }

  /** A local client's sync completes once everything proposed before it is applied here. */
  sync(sessionId: bigint, cxid: number): void {
    if (this.applied >= this.lastProposed) {
      queueMicrotask(() => this.sink.synced(sessionId, cxid));
      return;
    }
    this.syncs.push({ target: this.lastProposed, sessionId, cxid });
  }

  /** Called after each applied txn. */
  appliedUpTo(zxid: number): void {
    this.applied = zxid;
    while (this.syncs.length > 0 && this.syncs[0]!.target <= zxid) {
      const s = this.syncs.shift()!;
      this.sink.synced(s.sessionId, s.cxid);
    }
  }

  async drain(): Promise<void> {}
}

export class LearnerWritePath implements WritePath {
  readonly authoritative = false;
  private readonly forward: (r: ForwardedRequest) => void;
  private readonly ask: (sessionId: bigint, timeout: number) => void;
  private readonly sink: CommitSink;
  private readonly syncs: [bigint, number][] = [];
  private readonly revalidations = new Map<
    bigint,
    Array<{ resolve: (valid: boolean) => void; reject: (err: Error) => void }>
  >();

  constructor(
    forward: (r: ForwardedRequest) => void,
    ask: (sessionId: bigint, timeout: number) => void,
    sink: CommitSink,
  ) {
    this.forward = forward;
    this.ask = ask;
    this.sink = sink;
  }

  revalidate(sessionId: bigint, timeout: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const waiting = this.revalidations.get(sessionId);
      if (waiting) waiting.push({ resolve, reject });
      else {
        this.revalidations.set(sessionId, [{ resolve, reject }]);
        this.ask(sessionId, timeout);
      }
    });
  }

  /** The leader's REVALIDATE answer. */
  revalidated(sessionId: bigint, valid: boolean): void {
    const waiting = this.revalidations.get(sessionId) ?? [];
    this.revalidations.delete(sessionId);
    for (const w of waiting) w.resolve(valid);
  }

  /**
   * The leader is gone: nobody can vouch for a session now. That is no verdict: the client's
   * connection is dropped (it tries another server, as with ZooKeeper, whose learner shuts down),
   * rather than told that its session expired while the quorum may still hold it.
   */
  abandon(): void {
    const waiting = [...this.revalidations.values()].flat();
    this.revalidations.clear();
    for (const w of waiting) w.reject(new Error('the leader is gone'));
  }

  write(w: WriteRequest): void {
    let body = w.body;
    if (!body) {
      const jw = new JuteWriter(64);
      if (w.req) writeRequest(jw, w.req);
      body = jw.toBuffer();
    }
    this.forward({
      sessionId: w.sessionId,
      cxid: w.cxid,
      type: w.type,
      body: Buffer.from(body),
      authinfo: [...w.ids],
    });
  }

  /** Forwarded to the leader, which answers SYNC once it has sent every commit before it. */
  sync(sessionId: bigint, cxid: number): void {
    this.syncs.push([sessionId, cxid]);
    const body = new JuteWriter(8).ustring('/').take();
    this.forward({ sessionId, cxid, type: OpCode.sync, body, authinfo: null });
  }

  /** The leader's SYNC arrived: the oldest pending sync is done. */
  syncDone(): void {
    const s = this.syncs.shift();
    if (s) this.sink.synced(s[0], s[1]);
  }

  async drain(): Promise<void> {}
}
