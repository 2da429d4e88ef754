// Types and helpers shared by the Zab leader and learner cores (leader.ts, learner.ts).
//
// Both cores are deterministic state machines: no sockets, timers, clocks or disk inside. The I/O
// shell feeds them inputs (packets received, ticks carrying the time, completions of disk writes,
// connection notices) and executes the effects they return, in order.
//
// Disk contract for the shell: disk effects (log-append, truncate-log, take-snapshot, persist-epoch)
// take effect in the order they are returned, and a completion reported back (fsynced, persisted,
// snapshotted) means that effect and every disk effect returned before it are durable. A crash may
// keep any prefix of the disk effects that were not yet reported complete.

import { OpCode } from '../protocol/constants.ts';

export const TWO_32 = 2 ** 32;

/** ZxidUtils.getEpochFromZxid. */
export function epochOf(zxid: number): number {
  return Math.floor(zxid / TWO_32);
}

/** ZxidUtils.getCounterFromZxid. */
export function counterOf(zxid: number): number {
  return zxid - Math.floor(zxid / TWO_32) * TWO_32;
}

/** ZxidUtils.makeZxid. */
export function makeZxid(epoch: number, counter: number): number {
  return epoch * TWO_32 + counter;
}

/** Whether a txn entry is a reconfig: the op code of its TxnHeader (clientId 8, cxid 4, zxid 8, time 8, type). */
export function isReconfigTxn(data: Buffer): boolean {
  return data.length >= 32 && data.readInt32BE(28) === OpCode.reconfig;
}

export function hex(zxid: number): string {
  return zxid < 0 ? String(zxid) : `0x${zxid.toString(16)}`;
}

/** A txn as Zab moves it: its zxid and its serialized bytes (TxnHeader + record [+ TxnDigest]). */
export interface Proposal {
  zxid: number;
  data: Buffer;
}

/** What the cores need of the membership: peer/quorum/quorum-config.ts's QuorumVerifier fits. */
export interface Verifier {
  readonly version: number;
  isVoter(sid: number): boolean;
  containsQuorum(sids: Iterable<number>): boolean;
  /** The config text sent in NEWLEADER (QuorumMaj.toString). */
  toString(): string;
}

/** Timing settings, as in zoo.cfg (ms and ticks). */
export interface ZabTiming {
  tickTime: number;
  initLimit: number;
  syncLimit: number;
  /**
   * Ticks an observer and its leader tolerate silence once synced (default: syncLimit). Observers
   * are often in other regions and never hold up a commit, so they get a laxer limit.
   */
  observerSyncLimit?: number;
}

/** The synced-phase silence limit, in ticks, for a learner of this kind. */
export function syncLimitFor(t: ZabTiming, kind: 'follower' | 'observer'): number {
  return kind === 'observer' ? (t.observerSyncLimit ?? t.syncLimit) : t.syncLimit;
}

/** The persisted epochs of a member (the acceptedEpoch and currentEpoch files). */
export type EpochKind = 'accepted' | 'current';

/** Disk effects and their completions, shared by both sides. */
export type DiskEffect =
  /** Append the txn to the txn log; report `fsynced` once it is durable (group commit is fine). */
  | { type: 'log-append'; zxid: number; data: Buffer }
  /** Write the epoch file; report `persisted`. */
  | { type: 'persist-epoch'; which: EpochKind; epoch: number };

export type DiskCompletion =
  /** Every txn appended with a zxid up to this one is durable. */
  { kind: 'fsynced'; zxid: number } | { kind: 'persisted'; which: EpochKind; epoch: number };

/** A protocol-level note for the shell's log; no action needed. */
export interface WarnEffect {
  type: 'warn';
  message: string;
}
