// Decides when to snapshot (ZooKeeper's randomized snapCount / snapSizeLimitInKb rule), rolls the
// txn log and writes a fuzzy snapshot in the background, one at a time.

import type { ZooConfig } from '../config/zoocfg.ts';
import { log } from '../log.ts';
import type { DataTree } from '../tree/datatree.ts';
import { writeSnapshot } from './snapshot.ts';
import { SnapshotPolicy } from './snapshot-policy.ts';
import type { TxnLog } from './txnlog.ts';

export class Snapshotter {
  private readonly policy: SnapshotPolicy;
  private readonly dataDir: string;
  private readonly txnLog: TxnLog;
  private txnsSinceRoll = 0;
  private running = false;

  constructor(cfg: ZooConfig, txnLog: TxnLog) {
    this.policy = new SnapshotPolicy({ snapCount: cfg.snapCount, snapSizeLimitKb: cfg.snapSizeLimitInKb });
    this.dataDir = cfg.dataDir;
    this.txnLog = txnLog;
  }

  /** Counts one applied txn; starts a snapshot when the policy says so (only then are sessions read). */
  applied(tree: DataTree, sessions: () => Map<bigint, number>): void {
    this.txnsSinceRoll++;
    if (this.running || !this.policy.shouldSnapshot(this.txnsSinceRoll, this.txnLog.bytesSinceRoll)) return;
    this.policy.reset();
    this.txnsSinceRoll = 0;
    this.running = true;
    this.txnLog.roll();
    const zxid = tree.lastProcessedZxid;
    const t0 = Date.now();
    writeSnapshot(this.dataDir, tree, sessions(), zxid)
      .then((file) => log.info({ file, ms: Date.now() - t0 }, 'snapshot written'))
      .catch((err) => log.error({ err }, 'snapshot failed'))
      .finally(() => {
        this.running = false;
      });
  }
}
