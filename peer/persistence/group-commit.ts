// Group commit over the txn log, for the standalone write path and the ensemble members' disk
// driver alike: what is appended in one turn of the event loop is flushed as one group, and each
// group is acknowledged once durable, strictly in the order the groups were cut. A group goes to the
// log at once, without waiting for the one before: TxnLog starts its write+fsync as soon as the
// previous round is durable, while the event loop is still acknowledging that one, so the disk and
// the event loop work side by side (a standalone peer's main thread was about 80% busy at
// saturation when they took turns).

import { log } from '../log.ts';

export interface Flushable {
  /** Resolves when everything appended before the call is durable. */
  flush(): Promise<void>;
}

export class GroupCommit {
  private readonly txnLog: Flushable;
  private readonly cut: () => () => void;
  private cutScheduled = false;
  /** Settles after the last cut group is acknowledged. */
  private tail: Promise<void> = Promise.resolve();

  /**
   * `cut` is called when a group closes: it takes what the group holds and returns the
   * acknowledgement to run once the group is durable.
   */
  constructor(txnLog: Flushable, cut: () => () => void) {
    this.txnLog = txnLog;
    this.cut = cut;
  }

  /** Call after each append (or request to acknowledge): it joins the group of this turn. */
  added(): void {
    if (this.cutScheduled) return;
    this.cutScheduled = true;
    setImmediate(() => this.close());
  }

  private close(): void {
    this.cutScheduled = false;
    const acknowledge = this.cut();
    const durable = this.txnLog.flush();
    this.tail = Promise.all([this.tail, durable]).then(acknowledge, (err: unknown) => {
      // A txn log that cannot be written loses durability: stop rather than acknowledge.
      log.fatal({ err }, 'txn log write failed; shutting down');
      process.exit(3);
    });
  }

  /** Resolves once every group added so far, and any cut while waiting, is acknowledged. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.cutScheduled) await new Promise<void>((r) => setImmediate(r));
      const tail = this.tail;
      await tail;
      if (tail === this.tail && !this.cutScheduled) return;
    }
  }
}
