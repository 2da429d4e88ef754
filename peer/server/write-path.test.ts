import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PendingView } from './prep.ts';
import type { SessionTracker } from './sessions.ts';
import { type CommitSink, LocalWritePath, type PrepSettings, type TxnLogLike } from './write-path.ts';

/** A txn log whose flushes settle only when the test says so. */
function manualLog() {
  const flushes: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const log: TxnLogLike = {
    append: () => {},
    flush: () =>
      new Promise<void>((resolve, reject) => {
        flushes.push({ resolve, reject });
      }),
  };
  return { log, flushes };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

function pathOver(log: TxnLogLike, synced: number[]) {
  const sink: CommitSink = { commit: () => {}, synced: (_s, cxid) => synced.push(cxid) };
  // sync() needs neither the view nor the sessions: only the group commit runs.
  return new LocalWritePath({} as PendingView, {} as SessionTracker, log, {} as PrepSettings, sink, 0);
}

test('a group goes to the log while the one before is still in flight, and groups commit in order', async () => {
  const { log, flushes } = manualLog();
  const synced: number[] = [];
  const path = pathOver(log, synced);
  path.sync(1n, 1);
  path.sync(1n, 2);
  await turn();
  assert.equal(flushes.length, 1, 'requests of one turn form one group');
  path.sync(1n, 3);
  await turn();
  assert.equal(flushes.length, 2, 'the second group is handed over before the first is durable');
  flushes[1]!.resolve();
  await turn();
  assert.deepEqual(synced, [], 'nothing commits ahead of an earlier group');
  flushes[0]!.resolve();
  await path.drain();
  assert.deepEqual(synced, [1, 2, 3]);
});

test('drain waits for a group cut after it was called', async () => {
  const { log, flushes } = manualLog();
  const synced: number[] = [];
  const path = pathOver(log, synced);
  path.sync(1n, 7);
  let drained = false;
  const d = path.drain().then(() => {
    drained = true;
  });
  await turn();
  await turn();
  assert.equal(drained, false);
  flushes[0]!.resolve();
  await d;
  assert.deepEqual(synced, [7]);
});
