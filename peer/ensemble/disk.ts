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
  private cutScheduled = false;
  /** Settles after the last cut group is reported durable; reports go out in the order of the cuts. */
  private tail: Promise<void> = Promise.resolve();
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
      if (!this.cutScheduled) {
        this.cutScheduled = true;
        // Appends made in the same turn of the event loop join the group.
        setImmediate(() => this.cut());
      }
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

  /**
   * Group commit: hands what has been appended to the log as one group and reports it once durable.
   * The log starts a group's write+fsync as soon as the one before is durable, while this thread is
   * still acting on that one's report (acks, commits): the disk and the event loop work side by side.
   */
  private cut(): void {
    this.cutScheduled = false;
    const target = this.appendedZxid;
    const durable = this.txnLog.flush();
    this.tail = Promise.all([this.tail, durable]).then(
      () => {
        if (!this.stopped) this.done({ kind: 'fsynced', zxid: target });
      },
      (err: unknown) => {
        log.fatal({ err }, 'txn log write failed; shutting down');
        process.exit(3);
      },
    );
  }

  /** Stops reporting completions (the role that owned this driver has ended). */
  stop(): void {
    this.stopped = true;
  }
}
