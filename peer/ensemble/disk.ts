// Executes the Zab cores' disk effects: log appends with group commit (reporting `fsynced` with the
// highest durable zxid) and epoch files (reporting `persisted`).

import { log } from '../log.ts';
import { writeEpoch } from '../persistence/epochs.ts';
import { GroupCommit } from '../persistence/group-commit.ts';
import type { TxnLog } from '../persistence/txnlog.ts';
import type { DiskCompletion, DiskEffect } from '../quorum/zab-common.ts';

export class DiskDriver {
  private readonly txnLog: TxnLog;
  private readonly dataDir: string;
  private readonly done: (c: DiskCompletion) => void;
  private appendedZxid = -1;
  private readonly groups: GroupCommit;
  private stopped = false;

  constructor(txnLog: TxnLog, dataDir: string, done: (c: DiskCompletion) => void) {
    this.txnLog = txnLog;
    this.dataDir = dataDir;
    this.done = done;
    this.groups = new GroupCommit(txnLog, () => {
      const zxid = this.appendedZxid;
      return () => {
        if (!this.stopped) this.done({ kind: 'fsynced', zxid });
      };
    });
  }

  execute(e: DiskEffect): void {
    if (e.type === 'log-append') {
      this.txnLog.append(e.data, e.zxid);
      this.appendedZxid = Math.max(this.appendedZxid, e.zxid);
      this.groups.added();
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

  /** Stops reporting completions (the role that owned this driver has ended). */
  stop(): void {
    this.stopped = true;
  }
}
