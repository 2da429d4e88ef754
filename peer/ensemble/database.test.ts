import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recover } from '../persistence/recovery.ts';
import { assertSameTree, Scribe, withTempDir } from '../persistence/testutil.ts';
import { TxnLog } from '../persistence/txnlog.ts';
import { OpCode } from '../protocol/constants.ts';
import { DataTree } from '../tree/datatree.ts';
import { backToDisk, type Db, loadFromDisk } from './database.ts';

const PREALLOC = 16 * 1024;

/**
 * A data dir with txns 1-10 logged and applied to db's tree, then 11-14 logged only (proposals a
 * role ended before it committed): a session opened, two creates, the session closed.
 */
async function behindItsLog(dir: string): Promise<{ db: Db; log: TxnLog }> {
  await recover(dir);
  const log = await TxnLog.open(dir, { preAllocSize: PREALLOC });
  const loaded = await loadFromDisk(dir, dir);
  const s = new Scribe(loaded.tree, loaded.sessions, log);
  s.apply(OpCode.createSession, { type: OpCode.createSession, timeOut: 30_000 }, 0x77n);
  for (let i = 0; i < 8; i++) s.create(`/n${i}`, `v${i}`);
  s.setData('/n3', 'changed');
  await log.flush();
  const db: Db = {
    ...(await loadFromDisk(dir, dir)),
    txnLog: log,
    snapshotter: null as never,
    treeOnDisk: true,
  };
  assert.equal(db.tree.lastProcessedZxid, 10);
  // The same log, written by a scribe working on its own copy of the tree.
  const ahead = new Scribe((await loadFromDisk(dir, dir)).tree, new Map(db.sessions), log);
  ahead.apply(OpCode.createSession, { type: OpCode.createSession, timeOut: 5_000 }, 0x88n);
  ahead.create('/late', 'x');
  ahead.create('/late/child', 'y', { owner: 0x88n });
  ahead.apply(OpCode.closeSession, { type: OpCode.closeSession, paths: null }, 0x77n);
  await log.flush();
  return { db, log };
}

async function assertMatchesDisk(dir: string, db: Db): Promise<void> {
  const disk = await loadFromDisk(dir, dir);
  assertSameTree(db.tree, disk.tree);
  assert.equal(db.tree.lastProcessedZxid, disk.tree.lastProcessedZxid);
  assert.equal(db.tree.digest(), disk.tree.digest());
  assert.deepEqual(db.sessions, disk.sessions);
  assert.deepEqual(
    db.committedLog.map((p) => [p.zxid, p.data.toString('hex')]),
    disk.committedLog.map((p) => [p.zxid, p.data.toString('hex')]),
  );
}

test('after a role the logged txns above the tree are applied from the appends kept in memory', async () => {
  await withTempDir(async (dir) => {
    const { db } = await behindItsLog(dir);
    const back = await backToDisk(dir, dir, db);
    assert.deepEqual(back, { how: 'fast-forwarded', txns: 4 });
    assert.equal(db.tree.lastProcessedZxid, 14);
    assert.ok(db.tree.has('/late/child'));
    assert.deepEqual([...db.sessions.keys()], [0x88n]);
    await assertMatchesDisk(dir, db);
    await db.txnLog.close();
  });
});

test('the first role after a start, with nothing kept in memory, reads the txns from the files', async () => {
  await withTempDir(async (dir) => {
    const { db, log } = await behindItsLog(dir);
    await log.close();
    db.txnLog = await TxnLog.open(dir, { preAllocSize: PREALLOC });
    const back = await backToDisk(dir, dir, db);
    assert.deepEqual(back, { how: 'fast-forwarded', txns: 4 });
    await assertMatchesDisk(dir, db);
    await db.txnLog.close();
  });
});

test('a tree the disk does not hold is loaded again: a SNAP not yet written, a last txn not logged', async () => {
  await withTempDir(async (dir) => {
    const { db } = await behindItsLog(dir);
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
    await db.txnLog.close();
  });
});

test('the last appends are kept for fast-forwarding until forgotten', async () => {
  await withTempDir(async (dir) => {
    await recover(dir);
    const log = await TxnLog.open(dir, { preAllocSize: PREALLOC });
    const s = new Scribe(new DataTree(), new Map(), log);
    for (let i = 0; i < 3; i++) s.create(`/k${i}`);
    assert.deepEqual(log.appendedAfter(3), []);
    assert.equal(log.appendedAfter(1)?.length, 2);
    assert.equal(log.appendedAfter(7), null);
    // Thousands of appends later the oldest are gone, the last thousand are kept.
    for (let i = 3; i < 3000; i++) s.create(`/k${i}`);
    assert.equal(log.appendedAfter(1), null);
    assert.equal(log.appendedAfter(2000)?.length, 1000);
    log.forgetAppends();
    assert.equal(log.appendedAfter(3000), null);
    await log.close();
  });
});
