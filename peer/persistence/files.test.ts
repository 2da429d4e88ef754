import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  LOG_PREFIX,
  listDataFiles,
  logFileName,
  logFilesFrom,
  SNAPSHOT_PREFIX,
  snapshotFileName,
  zxidFromName,
} from './files.ts';

test('file names use unpadded lowercase hex', () => {
  assert.equal(logFileName(1), 'log.1');
  assert.equal(logFileName(0x100000001), 'log.100000001');
  assert.equal(snapshotFileName(0xabc), 'snapshot.abc');
  assert.equal(snapshotFileName(0), 'snapshot.0');
});

test('zxidFromName reads names like ZooKeeper does', () => {
  assert.equal(zxidFromName('log.1a', LOG_PREFIX), 0x1a);
  assert.equal(zxidFromName('snapshot.100000003.gz', SNAPSHOT_PREFIX), 0x100000003);
  assert.equal(zxidFromName('snapshot.1a', LOG_PREFIX), -1);
  assert.equal(zxidFromName('log', LOG_PREFIX), -1);
  assert.equal(zxidFromName('log.xyz', LOG_PREFIX), -1);
  assert.equal(zxidFromName('tmp.snapshot.1a', SNAPSHOT_PREFIX), -1);
});

test('listDataFiles sorts by zxid, not by name; logFilesFrom picks what a replay needs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zke-files-'));
  try {
    for (const n of ['log.1', 'log.a', 'log.2', 'log.100000001', 'snapshot.5', 'other', 'log.zz']) {
      await writeFile(join(dir, n), '');
    }
    const logs = await listDataFiles(dir, LOG_PREFIX);
    assert.deepEqual(
      logs.map((f) => f.name),
      ['log.1', 'log.2', 'log.a', 'log.100000001'],
    );
    assert.deepEqual(
      (await listDataFiles(dir, LOG_PREFIX, false)).map((f) => f.zxid),
      [0x100000001, 10, 2, 1],
    );
    assert.deepEqual(
      logFilesFrom(logs, 5).map((f) => f.name),
      ['log.2', 'log.a', 'log.100000001'],
    );
    assert.deepEqual(
      logFilesFrom(logs, 10).map((f) => f.name),
      ['log.a', 'log.100000001'],
    );
    assert.deepEqual(
      logFilesFrom(logs, 0).map((f) => f.name),
      ['log.1', 'log.2', 'log.a', 'log.100000001'],
    );
    assert.deepEqual(await listDataFiles(join(dir, 'missing'), LOG_PREFIX), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
