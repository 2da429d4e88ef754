import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataTree } from '../tree/datatree.ts';
import { purge, startAutopurge } from './purge.ts';
import { writeSnapshot } from './snapshot.ts';
import { createEntry, withTempDir } from './testutil.ts';
import { TxnLog } from './txnlog.ts';

/** Logs starting at 1, 0x10, 0x20, 0x30 and snapshots at 5, 0x15, 0x25, 0x35, plus a broken snapshot.40. */
async function populate(dataDir: string, logDir: string): Promise<void> {
  const log = await TxnLog.open(logDir, { preAllocSize: 4096 });
  for (const start of [1, 0x10, 0x20, 0x30]) {
    for (let z = start; z < start + 3; z++) log.append(createEntry(z, `/p${z}`), z);
    log.roll();
  }
  await log.close();
  const tree = new DataTree();
  for (const z of [5, 0x15, 0x25, 0x35]) await writeSnapshot(dataDir, tree, new Map(), z);
  await writeFile(join(dataDir, 'version-2', 'snapshot.40'), 'crashed mid-write');
}

const listing = async (dir: string) => (await readdir(join(dir, 'version-2'))).sort();

test('purge keeps the N newest valid snapshots and the logs needed to replay from the oldest kept', async () => {
  await withTempDir(async (tmp) => {
    const dataDir = join(tmp, 'data');
    const logDir = join(tmp, 'logs');
    await populate(dataDir, logDir);
    await assert.rejects(purge(dataDir, logDir, 2), RangeError);
    const deleted = await purge(dataDir, logDir, 3);
    // The oldest kept snapshot is 0x15; log.10 starts at or before it, so replaying from 0x15 needs it.
    assert.deepEqual(
      deleted.sort(),
      [join(logDir, 'version-2', 'log.1'), join(dataDir, 'version-2', 'snapshot.5')].sort(),
    );
    assert.deepEqual(await listing(dataDir), ['snapshot.15', 'snapshot.25', 'snapshot.35', 'snapshot.40']);
    assert.deepEqual(await listing(logDir), ['log.10', 'log.20', 'log.30']);
    // Idempotent.
    assert.deepEqual(await purge(dataDir, logDir, 3), []);
  });
});

test('purge with enough retention or no snapshots deletes nothing; the same dir can hold both', async () => {
  await withTempDir(async (dataDir) => {
    assert.deepEqual(await purge(dataDir, dataDir, 3), []);
    await populate(dataDir, dataDir);
    assert.deepEqual(await purge(dataDir, dataDir, 4), []);
    assert.equal((await listing(dataDir)).length, 9);
    const deleted = await purge(dataDir, dataDir, 3);
    assert.equal(deleted.length, 2);
    assert.deepEqual(await listing(dataDir), [
      'log.10',
      'log.20',
      'log.30',
      'snapshot.15',
      'snapshot.25',
      'snapshot.35',
      'snapshot.40',
    ]);
  });
});

test('startAutopurge runs at once, clamps the retain count to 3, and is off for interval 0', async () => {
  await withTempDir(async (dataDir) => {
    await populate(dataDir, dataDir);
    assert.equal(typeof startAutopurge({ dataDir, purgeIntervalHours: 0 }), 'function');
    const purged = new Promise<string[]>((resolve, reject) => {
      const stop = startAutopurge({
        dataDir,
        snapRetainCount: 1,
        purgeIntervalHours: 1,
        onPurged: (d) => {
          stop();
          resolve(d);
        },
        onError: reject,
      });
    });
    const ac = new AbortController();
    const deleted = await Promise.race([
      purged,
      sleep(10_000, null, { signal: ac.signal }).catch(() => null),
    ]);
    ac.abort();
    assert.ok(deleted, 'autopurge did not run');
    assert.equal(deleted.length, 2);
  });
});
