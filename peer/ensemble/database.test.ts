import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentTxns } from '../persistence/recent-txns.ts';
import { recover } from '../persistence/recovery.ts';
import { assertSameTree, Scribe, withTempDir } from '../persistence/testutil.ts';
import { TxnLog } from '../persistence/txnlog.ts';
import { OpCode } from '../protocol/constants.ts';
import type { Proposal } from '../quorum/zab-common.ts';
import { DataTree } from '../tree/datatree.ts';
import { backToDisk, COMMIT_LOG_COUNT, committedLogOf, type Db, loadFromDisk } from './database.ts';

const PREALLOC = 16 * 1024;

/**
 * A data dir with txns 1-10 logged and applied to db's tree, then 11-14 logged only (proposals a
 * role ended before it committed): a session opened, two creates, the session closed.
 */
async function behindItsLog(dir: string): Promise<{ db: Db; log: TxnLog }> {
  await recover(dir);
  const log = await TxnLog.open(dir, { preAllocSize: PREALLOC });
  const loaded = await loadFromDisk(dir, dir, log.recent);
  const s = new Scribe(loaded.tree, loaded.sessions, log);
  s.apply(OpCode.createSession, { type: OpCode.createSession, timeOut: 30_000 }, 0x77n);
  for (let i = 0; i < 8; i++) s.create(`/n${i}`, `v${i}`);
  s.setData('/n3', 'changed');
  await log.flush();
  const loaded10 = await loadFromDisk(dir, dir, log.recent);
  const db: Db = { ...loaded10, txnLog: log, snapshotter: null as never, treeOnDisk: true };
  assert.equal(db.tree.lastProcessedZxid, 10);
  // The same log, written by a scribe working on its own copy of the tree.
  const ahead = new Scribe((await loadFromDisk(dir, dir, new RecentTxns(1))).tree, new Map(db.sessions), log);
  ahead.apply(OpCode.createSession, { type: OpCode.createSession, timeOut: 5_000 }, 0x88n);
  ahead.create('/late', 'x');
  ahead.create('/late/child', 'y', { owner: 0x88n });
  ahead.apply(OpCode.closeSession, { type: OpCode.closeSession, paths: null }, 0x77n);
  await log.flush();
  return { db, log };
}

/** keptFrom: the first zxid the log still keeps in memory (all of them by default). */
async function assertMatchesDisk(dir: string, db: Db, keptFrom = 0): Promise<void> {
  const recent = new RecentTxns(COMMIT_LOG_COUNT);
  const disk = await loadFromDisk(dir, dir, recent);
  assertSameTree(db.tree, disk.tree);
  assert.equal(db.tree.lastProcessedZxid, disk.tree.lastProcessedZxid);
  assert.equal(db.tree.digest(), disk.tree.digest());
  assert.deepEqual(db.sessions, disk.sessions);
  // What a DIFF would be served from: the same txns, byte for byte.
  const hex = (ps: Proposal[]) => ps.map((p) => [p.zxid, p.data.toString('hex')]);
  const logged = recent.tail(COMMIT_LOG_COUNT);
  assert.deepEqual(hex(committedLogOf(db)), hex(logged.filter((p) => p.zxid >= keptFrom)));
  assert.equal(committedLogOf(db).at(-1)?.zxid, db.tree.lastProcessedZxid);
}

/** Runs body on behindItsLog's db in a temp dir; the log is closed after it, pass or fail. */
async function withDbBehindItsLog(body: (dir: string, db: Db, log: TxnLog) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const { db, log } = await behindItsLog(dir);
    try {
      await body(dir, db, log);
    } finally {
      await log.close();
    }
  });
}

test('after a role the logged txns above the tree are applied from the appends kept in memory', async () => {
  await withDbBehindItsLog(async (dir, db) => {
    const back = await backToDisk(dir, dir, db);
    assert.deepEqual(back, { how: 'fast-forwarded', txns: 4 });
    assert.equal(db.tree.lastProcessedZxid, 14);
    assert.ok(db.tree.has('/late/child'));
    assert.deepEqual([...db.sessions.keys()], [0x88n]);
    await assertMatchesDisk(dir, db);
  });
});

test('with nothing kept in memory (after a SNAP) the txns are read from the files', async () => {
  await withDbBehindItsLog(async (dir, db, log) => {
    // A SNAP clears what the log keeps; here the tree is still the disk's, read from the files.
    log.recent.clear();
    const back = await backToDisk(dir, dir, db);
    assert.deepEqual(back, { how: 'fast-forwarded', txns: 4 });
    // What was read from the tree's last txn on is what the log keeps now.
    await assertMatchesDisk(dir, db, 10);
  });
});

test('a tree the disk does not hold is loaded again: a SNAP not yet written, a last txn not logged', async () => {
  await withDbBehindItsLog(async (dir, db) => {
    db.treeOnDisk = false;
    assert.deepEqual(await backToDisk(dir, dir, db), { how: 'reloaded', txns: null });
    assert.equal(db.treeOnDisk, true);
    await assertMatchesDisk(dir, db);

    // A tree at a zxid that no log entry has (as a SNAP leaves it): not fast-forwarded from there.
    const snapped = new DataTree();
    snapped.lastProcessedZxid = 0x500000001;
    db.tree = snapped;
    assert.deepEqual(await backToDisk(dir, dir, db), { how: 'reloaded', txns: null });
    await assertMatchesDisk(dir, db);
  });
});

test('a fast-forward that fails is replaced by a reload, and says why', async () => {
  await withDbBehindItsLog(async (dir, db, log) => {
    // What the log keeps in memory after the tree's last txn is not a txn entry.
    log.recent.clear();
    log.recent.add(10, Buffer.from('not a txn entry header'));
    log.recent.add(11, Buffer.from([1, 2, 3]));
    const back = await backToDisk(dir, dir, db);
    assert.equal(back.how, 'reloaded');
    assert.equal(back.txns, null);
    assert.ok(back.fastForwardError && back.fastForwardError.length > 0, JSON.stringify(back));
    await assertMatchesDisk(dir, db);
  });
});
