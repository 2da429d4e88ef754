// When to snapshot (SyncRequestProcessor.shouldSnapshot): once the txns logged since the last roll
// exceed snapCount/2 + rand[0, snapCount/2), or the bytes logged since then exceed
// snapSizeLimit/2 + rand[0, snapSizeLimit/2). The random part keeps ensemble members from all
// snapshotting at the same moment. Either feed it counts (shouldSnapshot, then reset() when a
// snapshot is triggered) or let it count (record() per txn); either way roll the log on a trigger.

/** zookeeper.snapCount default. */
export const DEFAULT_SNAP_COUNT = 100_000;
/** zookeeper.snapSizeLimitInKb default (4 GiB); <= 0 disables the size trigger. */
export const DEFAULT_SNAP_SIZE_LIMIT_KB = 4_194_304;

export interface SnapshotPolicyOptions {
  snapCount?: number;
  snapSizeLimitKb?: number;
  /** Source of randomness in [0, 1), for tests. */
  random?: () => number;
}

export class SnapshotPolicy {
  readonly snapCount: number;
  readonly snapSizeBytes: number;
  private readonly random: () => number;
  private randRoll = 0;
  private randSize = 0;
  /** Counts kept by record(). */
  txnsSinceRoll = 0;
  bytesSinceRoll = 0;

  /** new SnapshotPolicy({snapCount, snapSizeLimitKb}) or new SnapshotPolicy(snapCount, snapSizeLimitKb). */
  constructor(optsOrSnapCount: SnapshotPolicyOptions | number = {}, snapSizeLimitKb?: number) {
    const opts: SnapshotPolicyOptions =
      typeof optsOrSnapCount === 'number'
        ? { snapCount: optsOrSnapCount, ...(snapSizeLimitKb !== undefined ? { snapSizeLimitKb } : {}) }
        : optsOrSnapCount;
    // ZooKeeper resets a snapCount below 2 to 2.
    this.snapCount = Math.max(2, Math.floor(opts.snapCount ?? DEFAULT_SNAP_COUNT));
    const kb = opts.snapSizeLimitKb ?? DEFAULT_SNAP_SIZE_LIMIT_KB;
    this.snapSizeBytes = kb > 0 ? kb * 1024 : 0;
    this.random = opts.random ?? Math.random;
    this.reset();
  }

  /** Draws new random offsets and zeroes record()'s counts; call whenever a snapshot is triggered. */
  reset(): void {
    this.txnsSinceRoll = 0;
    this.bytesSinceRoll = 0;
    this.randRoll = Math.floor(this.random() * Math.floor(this.snapCount / 2));
    this.randSize =
      this.snapSizeBytes > 0 ? Math.floor(this.random() * Math.floor(this.snapSizeBytes / 2)) : 0;
  }

  /** The txn count that triggers the next snapshot (exclusive bound). */
  get txnThreshold(): number {
    return Math.floor(this.snapCount / 2) + this.randRoll;
  }

  shouldSnapshot(txnsSinceRoll: number, bytesSinceRoll: number): boolean {
    return (
      txnsSinceRoll > this.txnThreshold ||
      (this.snapSizeBytes > 0 && bytesSinceRoll > Math.floor(this.snapSizeBytes / 2) + this.randSize)
    );
  }

  /**
   * Counts one logged txn (and its size in the log, if known). Returns true when it is time to roll
   * the log and snapshot; the policy has then already reset itself.
   */
  record(_txn?: unknown, bytes = 0): boolean {
    this.txnsSinceRoll++;
    this.bytesSinceRoll += bytes;
    if (!this.shouldSnapshot(this.txnsSinceRoll, this.bytesSinceRoll)) return false;
    this.reset();
    return true;
  }
}
