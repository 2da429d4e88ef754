// A work queue keyed by namespace/name, like client-go's: a key is processed by one worker at a time;
// adding a key that is being processed marks it dirty so it runs once more afterwards; failures come
// back after an exponential backoff per key, which a success resets.

export interface QueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  workers?: number;
}

export type Handler = (key: string) => Promise<void>;

export class WorkQueue {
  private readonly pending: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly workers: number;
  private running = 0;
  private handler: Handler | undefined;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: QueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
    this.workers = opts.workers ?? 2;
  }

  start(handler: Handler): void {
    this.handler = handler;
    this.pump();
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pending.push(key);
    this.pump();
  }

  /** Delay before the next retry of a key that failed `failures` times in a row. */
  backoff(failures: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, failures - 1));
  }

  addAfter(key: string, delayMs: number): void {
    if (this.stopped || this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    t.unref();
    this.timers.set(key, t);
  }

  get length(): number {
    return this.pending.length;
  }

  /** Stops taking work; resolves when the running handlers finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.pending.length = 0;
    this.queued.clear();
    if (this.running > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler) return;
    while (!this.stopped && this.running < this.workers && this.pending.length > 0) {
      const key = this.pending.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.process(handler, key);
    }
  }

  private async process(handler: Handler, key: string): Promise<void> {
    let failed = false;
    try {
      await handler(key);
      this.failures.delete(key);
    } catch {
      failed = true;
    }
    this.active.delete(key);
    this.running--;
    if (failed) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.dirty.delete(key);
      this.addAfter(key, this.backoff(n));
    } else if (this.dirty.delete(key)) {
      this.add(key);
    }
    if (this.running === 0 && this.stopped) for (const w of this.idleWaiters.splice(0)) w();
    this.pump();
  }
}
