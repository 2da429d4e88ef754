// Executes the Zab cores' disk effects: log appends with group commit (reporting `fsynced` with the
// highest durable zxid) and epoch files (reporting `persisted`).

import { log } from '../log.ts';
import { writeEpoch } from '../persistence/epochs.ts';
import type { TxnLog } from '../persistence/txnlog.ts';
import type { DiskCompletion, DiskEffect } from '../quorum/zab-common.ts';

export class DiskDriver {
  private readonly txnLog: TxnLog;
  private readonly dataDir: string;
  private readonly done: (c: DiskCompletion) => void;
  private appendedZxid = -1;
  private flushing = false;
  private stopped = false;

  constructor(txnLog: TxnLog, dataDir: string, done: (c: DiskCompletion) => void) {
    this.txnLog = txnLog;
    this.dataDir = dataDir;
    this.done = done;
  }

  execute(e: DiskEffect): void {
    if (e.type === 'log-append') {
      this.txnLog.append(e.data, e.zxid);
      this.appendedZxid = Math.max(this.appendedZxid, e.zxid);
      if (!this.flushing) void this.flush();
      return;
    }
    writeEpoch(this.dataDir, e.which === 'accepted' ? 'acceptedEpoch' : 'currentEpoch', e.epoch).then(
      () => !this.stopped && this.done({ kind: 'persisted', which: e.which, epoch: e.epoch }),
      (err) => {
        log.fatal({ err }, 'cannot write the epoch file; shutting down');
        process.exit(3);
      },
    );
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      for (;;) {
        await new Promise<void>((r) => setImmediate(r));
        const target = this.appendedZxid;
        await this.txnLog.flush();
        if (this.stopped) return;
        this.done({ kind: 'fsynced', zxid: target });
        if (this.appendedZxid === target) return;
      }
    } catch (err) {
      log.fatal({ err }, 'txn log write failed; shutting down');
      process.exit(3);
    } finally {
      this.flushing = false;
    }
  }

  /** Stops reporting completions (the role that owned this driver has ended). */
  stop(): void {
    this.stopped = true;
  }
}
