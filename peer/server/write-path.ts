// How writes become committed txns. The client front end (ZkServer) hands every write, session
// create/close and sync to a WritePath and applies whatever the path commits, in zxid order.
// LocalWritePath is the standalone path: prep here, log with group commit, commit once fsynced.
// Quorum paths (leader: propose to followers; learner: forward to the leader) fit the same shape.

import type { Id, Request } from '../jute/records.ts';
import { encodeTxnEntry, type Txn, type TxnHeader } from '../jute/txn.ts';
import { GroupCommit } from '../persistence/group-commit.ts';
import { Err, KeeperError, OpCode } from '../protocol/constants.ts';
import type { AuthSettings } from './auth.ts';
import { type PendingView, prepTxn } from './prep.ts';
import type { ReconfigHost } from './reconfig.ts';
import type { SessionTracker } from './sessions.ts';

export interface WriteRequest {
  sessionId: bigint;
  cxid: number;
  /** The client's opcode. */
  type: number;
  /** The decoded request; null when it was malformed (it becomes a MARSHALLINGERROR txn). */
  req: Request | null;
  ids: readonly Id[];
  /** The request bytes as the client sent them (learners forward these to the leader). */
  body?: Buffer;
  /** Issued by the server itself (expiry, container cleanup): no session or ACL checks. */
  internal?: boolean;
}

/** What a write path calls back into: the front end that applies txns and answers clients. */
export interface CommitSink {
  /** A committed txn, in zxid order. */
  commit(header: TxnHeader, txn: Txn): void;
  /** Every write submitted before this sync has been committed. */
  synced(sessionId: bigint, cxid: number): void;
}

export interface WritePath {
  write(w: WriteRequest): void;
  sync(sessionId: bigint, cxid: number): void;
  /** Whether this member expires sessions and cleans containers (standalone or leader). */
  readonly authoritative: boolean;
  /** Resolves once everything submitted so far is committed or abandoned. */
  drain(): Promise<void>;
  /** Asks the session owner (the leader) whether a session is alive; absent where this member owns them. */
  revalidate?(sessionId: bigint, timeout: number): Promise<boolean>;
}

export interface TxnLogLike {
  append(entry: Buffer, zxid: number): void;
  flush(): Promise<void>;
}

export interface PrepSettings {
  auth: AuthSettings;
  extendedTypes: boolean;
  /** Only an ensemble leader can reconfigure; elsewhere reconfig is RECONFIGDISABLED. */
  reconfig?: ReconfigHost | null;
}

/**
 * Turns a write into its txn with the given zxid (a failed check becomes an error txn), as the
 * standalone server and the leader both do before logging or proposing it.
 */
export function prepareTxn(
  w: WriteRequest,
  view: PendingView,
  sessions: SessionTracker,
  settings: PrepSettings,
  zxid: number,
  time: number,
): { header: TxnHeader; txn: Txn } {
  let txn: Txn;
  try {
    if (w.req === null) throw new KeeperError(Err.MARSHALLINGERROR);
    if (!w.internal && w.type !== OpCode.createSession && !sessions.isAlive(w.sessionId)) {
      throw new KeeperError(Err.SESSIONEXPIRED);
    }
    txn = prepTxn(w.req, {
      view,
      sessionId: w.sessionId,
      ids: w.ids,
      auth: w.internal ? { ...settings.auth, skipACL: true } : settings.auth,
      extendedTypes: settings.extendedTypes,
      zxid,
      time,
      reconfig: settings.reconfig ?? null,
    });
  } catch (e) {
    if (!(e instanceof KeeperError)) throw e;
    txn = { type: OpCode.error, err: e.code };
  }
  if (w.type === OpCode.closeSession) sessions.setClosing(w.sessionId);
  const header: TxnHeader = {
    clientId: w.sessionId,
    cxid: w.cxid,
    zxid,
    time,
    type: txn.type === OpCode.error ? OpCode.error : w.type,
  };
  return { header, txn };
}

type Queued = { header: TxnHeader; txn: Txn } | { sync: [bigint, number] };

export class LocalWritePath implements WritePath {
  readonly authoritative = true;
  private lastZxid: number;
  /** Submitted since the last cut, waiting to be committed as one group. */
  private queued: Queued[] = [];
  private readonly groups: GroupCommit;
  private readonly view: PendingView;
  private readonly sessions: SessionTracker;
  private readonly txnLog: TxnLogLike;
  private readonly settings: PrepSettings;
  private readonly sink: CommitSink;

  constructor(
    view: PendingView,
    sessions: SessionTracker,
    txnLog: TxnLogLike,
    settings: PrepSettings,
    sink: CommitSink,
    lastZxid: number,
  ) {
    this.view = view;
    this.sessions = sessions;
    this.txnLog = txnLog;
    this.settings = settings;
    this.sink = sink;
    this.lastZxid = lastZxid;
    this.groups = new GroupCommit(txnLog, () => {
      const group = this.queued;
      this.queued = [];
      return () => {
        for (const q of group) {
          if ('sync' in q) this.sink.synced(q.sync[0], q.sync[1]);
          else this.sink.commit(q.header, q.txn);
        }
      };
    });
  }

  write(w: WriteRequest): void {
    const zxid = this.lastZxid + 1;
    const { header, txn } = prepareTxn(w, this.view, this.sessions, this.settings, zxid, Date.now());
    this.lastZxid = zxid;
    this.txnLog.append(encodeTxnEntry(header, txn, null), zxid);
    this.queued.push({ header, txn });
    this.groups.added();
  }

  sync(sessionId: bigint, cxid: number): void {
    this.queued.push({ sync: [sessionId, cxid] });
    this.groups.added();
  }

  drain(): Promise<void> {
    return this.groups.drain();
  }
}
