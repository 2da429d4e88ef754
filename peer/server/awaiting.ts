// Clients waiting for a committed txn, a new session or a sync, found by the session id and xid the
// commit carries. Every member applies every txn, most of them from other members' clients, so a
// commit that nobody here waits for costs one Map lookup by session id (no key string is built).
// A client that reuses an xid still in flight gets both answers, in order, as from ZooKeeper.

import type { ApplyResult } from '../tree/datatree.ts';
import type { ClientConnection } from './connection.ts';

/** A client waiting for its write, new session or sync to be committed. */
export interface Awaiting {
  conn: ClientConnection;
  done: (rc: ApplyResult | null) => void;
}

export class AwaitingReplies {
  /** By session, then xid; an array only while a reused xid has more than one request in flight. */
  private readonly bySession = new Map<bigint, Map<number, Awaiting | Awaiting[]>>();

  expect(sessionId: bigint, xid: number, a: Awaiting): void {
    let byXid = this.bySession.get(sessionId);
    if (!byXid) {
      byXid = new Map();
      this.bySession.set(sessionId, byXid);
    }
    const first = byXid.get(xid);
    if (first === undefined) byXid.set(xid, a);
    else if (Array.isArray(first)) first.push(a);
    else byXid.set(xid, [first, a]);
  }

  /** The oldest request waiting with this session and xid, now no longer waiting. */
  take(sessionId: bigint, xid: number): Awaiting | undefined {
    const byXid = this.bySession.get(sessionId);
    const first = byXid?.get(xid);
    if (byXid === undefined || first === undefined) return undefined;
    const a = Array.isArray(first) ? first.shift()! : first;
    if (!Array.isArray(first) || first.length === 0) {
      byXid.delete(xid);
      if (byXid.size === 0) this.bySession.delete(sessionId);
    }
    return a;
  }
}
