// Live sessions and their expiry, bucketed by tickTime like ZooKeeper's ExpiryQueue. Time is
// passed in, so the tracker is deterministic; the server drives it from a timer.

import { initialSessionId } from './session-ids.ts';

export interface Session {
  id: bigint;
  timeout: number;
  expireAt: number;
  closing: boolean;
}

export class SessionTracker {
  readonly sessions = new Map<bigint, Session>();
  private readonly buckets = new Map<number, Set<bigint>>();
  private nextId: bigint;
  private readonly tickTime: number;
  private nextExpiration: number;
  private touched: Set<bigint> | null = null;

  constructor(serverId: number, tickTime: number, now: number) {
    this.tickTime = tickTime;
    this.nextId = initialSessionId(serverId, now);
    this.nextExpiration = this.roundUp(now);
  }

  private roundUp(t: number): number {
    return (Math.floor(t / this.tickTime) + 1) * this.tickTime;
  }

  newSessionId(): bigint {
    const id = this.nextId;
    this.nextId = BigInt.asIntN(64, this.nextId + 1n);
    if (this.nextId === -0x8000000000000000n) this.nextId++;
    return id;
  }

  /** Adds a session (from a createSession txn or a snapshot) and starts its expiry clock. */
  add(id: bigint, timeout: number, now: number): Session {
    let s = this.sessions.get(id);
    if (!s) {
      s = { id, timeout, expireAt: 0, closing: false };
      this.sessions.set(id, s);
    }
    s.timeout = timeout;
    this.schedule(s, now);
    return s;
  }

  private schedule(s: Session, now: number): void {
    const at = this.roundUp(now + s.timeout);
    if (at === s.expireAt) return;
    this.buckets.get(s.expireAt)?.delete(s.id);
    s.expireAt = at;
    let b = this.buckets.get(at);
    if (!b) this.buckets.set(at, (b = new Set()));
    b.add(s.id);
  }

  /** Records activity; false when the session is unknown or closing. */
  touch(id: bigint, now: number): boolean {
    const s = this.sessions.get(id);
    if (!s || s.closing) return false;
    this.schedule(s, now);
    this.touched?.add(id);
    return true;
  }

  /** Learners report touched sessions to the leader; this turns the bookkeeping on. */
  trackTouches(): void {
    this.touched ??= new Set();
  }

  /** Sessions touched since the last call, with their timeouts (a learner's PING table). */
  takeTouched(): { sessionId: bigint; timeout: number }[] {
    const out: { sessionId: bigint; timeout: number }[] = [];
    for (const id of this.touched ?? []) {
      const s = this.sessions.get(id);
      if (s) out.push({ sessionId: id, timeout: s.timeout });
    }
    this.touched?.clear();
    return out;
  }

  isAlive(id: bigint): boolean {
    const s = this.sessions.get(id);
    return s !== undefined && !s.closing;
  }

  setClosing(id: bigint): void {
    const s = this.sessions.get(id);
    if (s) s.closing = true;
  }

  remove(id: bigint): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.buckets.get(s.expireAt)?.delete(id);
    this.sessions.delete(id);
  }

  /** Sessions whose deadline has passed; they are marked closing so they expire once. */
  expire(now: number): bigint[] {
    const out: bigint[] = [];
    while (this.nextExpiration <= now) {
      const b = this.buckets.get(this.nextExpiration);
      if (b) {
        this.buckets.delete(this.nextExpiration);
        for (const id of b) {
          const s = this.sessions.get(id);
          if (s && !s.closing) {
            s.closing = true;
            out.push(id);
          }
        }
      }
      this.nextExpiration += this.tickTime;
    }
    return out;
  }

  /** Timeouts of live sessions, for snapshots. */
  snapshot(): Map<bigint, number> {
    const m = new Map<bigint, number>();
    for (const s of this.sessions.values()) m.set(s.id, s.timeout);
    return m;
  }
}
