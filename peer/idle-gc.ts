// One full garbage collection when a member goes quiet after a busy spell. A burst of writes
// leaves the leader's old generation full of requests that were promoted while in flight: after a
// 100k-create preload the leader held 35 MiB more old space and 27 MiB more external memory than a
// follower, and heap snapshots found the same 48 MiB live on every member, so all of that was
// garbage. V8 collects it only once the old generation reaches its limit again, which a member
// that has gone quiet never does; it would keep the memory until the next burst.

import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleGcPolicy {
  /**
   * Quiet: at most one young-generation collection within this long. (Not none: a member still
   * answers pings and metrics scrapes, and those allocate a little.)
   */
  quietMs: number;
  /** A young collection this soon after the one before is part of a busy spell. */
  busyGapMs: number;
  /**
   * Busy collections since the last full one that make a spell worth a collection: each may have
   * promoted objects that died soon after. (Heap readings cannot tell: right after a full
   * collection they still count what concurrent sweeping has not reached.) A trickle of young
   * collections, as from pings on many idle sessions, never adds up to one.
   */
  minYoung: number;
  /** Least time between two of these collections: each blocks the event loop (60 ms at 100k znodes). */
  minIntervalMs: number;
}

export const DEFAULT_IDLE_GC: IdleGcPolicy = {
  quietMs: 5000,
  busyGapMs: 1000,
  minYoung: 8,
  minIntervalMs: 60_000,
};

/** The decision, apart from V8 and clocks: fed collection events, says when to collect. */
export class IdleGcTrigger {
  /** The two most recent young-generation collections, older first. */
  private before = Number.NEGATIVE_INFINITY;
  private last = Number.NEGATIVE_INFINITY;
  private busy = 0;
  private lastRun = Number.NEGATIVE_INFINITY;
  private readonly policy: IdleGcPolicy;

  constructor(policy: IdleGcPolicy) {
    this.policy = policy;
  }

  /** A young-generation collection happened: the program is allocating. */
  allocating(now: number): void {
    if (now - this.last <= this.policy.busyGapMs) this.busy++;
    this.before = this.last;
    this.last = now;
  }

  /** V8 ran a full collection of its own: what the spell promoted so far is gone. */
  collected(): void {
    this.busy = 0;
  }

  /** This trigger's collection ran. */
  ran(now: number): void {
    this.busy = 0;
    this.lastRun = now;
  }

  due(now: number): boolean {
    return (
      this.busy >= this.policy.minYoung &&
      now - this.before >= this.policy.quietMs &&
      now - this.lastRun >= this.policy.minIntervalMs
    );
  }
}

function heldBytes(): number {
  const h = getHeapStatistics();
  return h.used_heap_size + h.external_memory;
}

/**
 * The engine's collector, exposed without a command-line flag (none is needed to run the peer), in
 * its memory-reducing flavour: a plain full collection frees the objects but keeps the old
 * generation's pages (measured: the leader's old space stayed at 52 MiB with 20 MiB live).
 */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (opts: object) => void;
  return () => gc({ type: 'major', flavor: 'last-resort' });
}

/** Watches collections; returns a function that stops watching. */
export function startIdleGc(
  policy: IdleGcPolicy = DEFAULT_IDLE_GC,
  onCollected: (freedBytes: number, ms: number) => void = () => {},
): () => void {
  const gc = fullGc();
  const trigger = new IdleGcTrigger(policy);
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) trigger.collected();
      else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) trigger.allocating(Date.now());
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const timer = setInterval(
    () => {
      if (!trigger.due(Date.now())) return;
      const held = heldBytes();
      const started = performance.now();
      gc();
      // The observer hears of this collection only later; don't collect twice for one spell.
      trigger.ran(Date.now());
      onCollected(held - heldBytes(), performance.now() - started);
    },
    Math.min(1000, policy.quietMs),
  );
  timer.unref();
  return () => {
    clearInterval(timer);
    observer.disconnect();
  };
}
