// Whom an observer syncs from when `observerMasterPort` is set (zk-protocol.md §2.9): the voters but
// the leader, each at its quorum host and that port, tried round robin in an order ranked by the
// round-trip time the observer measured to each (the shell measures, this list only ranks), so
// that the observers of a region sync from a follower in their region rather than across a WAN.
//
// Ranking: the candidates within max(1 ms, 50%) of the best round trip are "near" and are shuffled
// among themselves, so that the observers of a region still spread over its followers (as
// ZooKeeper's shuffled QuorumPeer.updateObserverMasterList does over all voters); the others follow
// by round trip, and those the observer could not measure come last (shuffled). A master that
// fails moves to the end of the order until the next measurement.
//
// When to measure again: when the voters or the leader change, when the measurement is older than
// REMEASURE_MS, after losing the master it synced from, and once every candidate has failed since
// the last measurement. A live connection is never moved because of a new measurement: the order
// only decides where the observer goes the next time it connects.
//
// The leader is skipped: as in ZooKeeper, only followers run an observer master, so the leader's
// entry could only fail (ZooKeeper's observer tries it anyway, fails, and moves on after another
// election). With no other voter at all, the observer connects to the leader's quorum port, as it
// does without observer masters: a one-voter ensemble's observers have nobody else to sync from.

import type { QuorumConfig } from './quorum-config.ts';

export interface MasterAddress {
  sid: number;
  host: string;
  port: number;
}

/** Round trips within this many ms of the best one are near, however small the best is... */
export const NEAR_SLACK_MS = 1;
/** ...and so are those within this fraction of the best. */
export const NEAR_RATIO = 0.5;
/** A measurement older than this is taken again before the next pick. */
export const REMEASURE_MS = 5 * 60_000;

/**
 * The order to try masters in: the near ones shuffled, then the rest by round trip (ms), then the
 * unmeasured ones shuffled. random: a uniform number in [0, 1).
 */
export function rankMasters(
  candidates: readonly number[],
  rtts: ReadonlyMap<number, number>,
  random: () => number,
): number[] {
  const measured = candidates.filter((s) => rtts.has(s)).sort((a, b) => rtts.get(a)! - rtts.get(b)! || a - b);
  const unmeasured = candidates.filter((s) => !rtts.has(s)).sort((a, b) => a - b);
  if (measured.length === 0) return shuffle(unmeasured, random);
  const near = nearGroup(measured, rtts);
  const far = measured.slice(near.length);
  return [...shuffle(near, random), ...far, ...shuffle(unmeasured, random)];
}

/** The measured candidates within max(NEAR_SLACK_MS, NEAR_RATIO × best) of the best, nearest first. */
function nearGroup(measured: readonly number[], rtts: ReadonlyMap<number, number>): number[] {
  const sorted = [...measured].sort((a, b) => rtts.get(a)! - rtts.get(b)! || a - b);
  if (sorted.length === 0) return [];
  const best = rtts.get(sorted[0]!)!;
  const limit = best + Math.max(NEAR_SLACK_MS, NEAR_RATIO * best);
  return sorted.filter((s) => rtts.get(s)! <= limit);
}

export class ObserverMasterList {
  private readonly random: () => number;
  private readonly refreshMs: number;
  /** The voters and the leader the order was ranked for. */
  private key = '';
  private order: number[] = [];
  private next = 0;
  /** The last measurement (ms by sid), and when it was taken (-Infinity: never). */
  private rtts = new Map<number, number>();
  private measuredKey = '';
  private measuredAt = Number.NEGATIVE_INFINITY;
  /** Candidates that failed since the last measurement. */
  private readonly failures = new Set<number>();
  /** The master synced from was lost: measure before the next pick. */
  private lostMaster = false;

  /** random: a uniform number in [0, 1), Math.random in the shell (a seeded one in tests). */
  constructor(random: () => number, refreshMs = REMEASURE_MS) {
    this.random = random;
    this.refreshMs = refreshMs;
  }

  /** The masters to measure before the next pick (empty: the last measurement still holds). */
  toMeasure(config: QuorumConfig, port: number, leaderSid: number, now: number): MasterAddress[] {
    const candidates = candidatesOf(config, leaderSid);
    if (candidates.length === 0) return [];
    const due =
      keyOf(config, leaderSid) !== this.measuredKey ||
      now - this.measuredAt >= this.refreshMs ||
      this.lostMaster ||
      candidates.every((s) => this.failures.has(s));
    return due ? candidates.map((sid) => addressOf(config, sid, port)) : [];
  }

  /** Ranks the candidates by a new measurement (ms by sid; a missing sid could not be measured). */
  measured(config: QuorumConfig, leaderSid: number, rtts: ReadonlyMap<number, number>, now: number): void {
    this.rtts = new Map(rtts);
    this.measuredKey = keyOf(config, leaderSid);
    this.measuredAt = now;
    this.lostMaster = false;
    this.rank(config, leaderSid);
  }

  /** The master to try next for this config and leader (null: connect to the leader itself). */
  pick(config: QuorumConfig, port: number, leaderSid: number): MasterAddress | null {
    // Not measured for these voters (or this leader): ranked with what is known of them.
    if (keyOf(config, leaderSid) !== this.key) this.rank(config, leaderSid);
    if (this.order.length === 0) return null;
    const sid = this.order[this.next]!;
    this.next = (this.next + 1) % this.order.length;
    return addressOf(config, sid, port);
  }

  /** The observer could not connect to (or sync from) this master: it goes to the end of the order. */
  failed(sid: number): void {
    const i = this.order.indexOf(sid);
    if (i < 0) return;
    this.failures.add(sid);
    this.order.splice(i, 1);
    this.order.push(sid);
    if (i < this.next) this.next--;
    if (this.next >= this.order.length) this.next = 0;
  }

  /** The observer synced from this master and lost it: failed, and measure again before the next pick. */
  lost(sid: number): void {
    this.failed(sid);
    this.lostMaster = true;
  }

  /**
   * Whether the last measurement shows a master nearer than `current` (one in the near group while
   * `current` is not): an observer that chose before its followers were all up moves to it.
   */
  nearerThan(config: QuorumConfig, leaderSid: number, current: number): number | null {
    const candidates = candidatesOf(config, leaderSid).filter((s) => this.rtts.has(s));
    if (candidates.length === 0) return null;
    const near = nearGroup(candidates, this.rtts);
    if (near.includes(current)) return null;
    return near[0] ?? null;
  }

  /** Every candidate master, to measure now whatever the last measurement says. */
  candidates(config: QuorumConfig, port: number, leaderSid: number): MasterAddress[] {
    return candidatesOf(config, leaderSid).map((sid) => addressOf(config, sid, port));
  }

  /** Whether every candidate answered the last measurement. */
  allMeasured(config: QuorumConfig, leaderSid: number): boolean {
    return candidatesOf(config, leaderSid).every((s) => this.rtts.has(s));
  }

  /** The round trip measured to this master, in ms (undefined: not measured). */
  rttOf(sid: number): number | undefined {
    return this.rtts.get(sid);
  }

  private rank(config: QuorumConfig, leaderSid: number): void {
    this.key = keyOf(config, leaderSid);
    this.order = rankMasters(candidatesOf(config, leaderSid), this.rtts, this.random);
    this.next = 0;
    this.failures.clear();
  }
}

/** The voters but the leader, by sid. */
function candidatesOf(config: QuorumConfig, leaderSid: number): number[] {
  return [...config.members.values()]
    .filter((m) => m.role === 'participant' && m.sid !== leaderSid)
    .map((m) => m.sid)
    .sort((a, b) => a - b);
}

function keyOf(config: QuorumConfig, leaderSid: number): string {
  return `${leaderSid}/${candidatesOf(config, leaderSid).join(',')}`;
}

function addressOf(config: QuorumConfig, sid: number, port: number): MasterAddress {
  return { sid, host: config.members.get(sid)!.host, port };
}

/** Fisher–Yates. */
function shuffle<T>(xs: readonly T[], random: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
