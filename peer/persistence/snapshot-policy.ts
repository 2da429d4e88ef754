// When to snapshot (SyncRequestProcessor.shouldSnapshot): once the txns logged since the last roll
// exceed snapCount/2 + rand[0, snapCount/2), or the bytes logged since then exceed
// snapSizeLimit/2 + rand[0, snapSizeLimit/2). The random part keeps ensemble members from all
// snapshotting at the same moment. The caller counts (peer/persistence/snapshotter.ts), asks
// shouldSnapshot, and calls reset() and rolls the log when a snapshot is triggered.

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

  constructor(opts: SnapshotPolicyOptions = {}) {
    // ZooKeeper resets a snapCount below 2 to 2.
    this.snapCount = Math.max(2, Math.floor(opts.snapCount ?? DEFAULT_SNAP_COUNT));
    const kb = opts.snapSizeLimitKb ?? DEFAULT_SNAP_SIZE_LIMIT_KB;
    this.snapSizeBytes = kb > 0 ? kb * 1024 : 0;
    this.random = opts.random ?? Math.random;
    this.reset();
  }

  /** Draws new random offsets; call whenever a snapshot is triggered. */
  reset(): void {
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
}
