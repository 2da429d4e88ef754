import assert from 'node:assert/strict';
import { open, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createEntry, withVersionDir } from './testutil.ts';
import { frameEntry, LOG_HEADER_SIZE, paddedFileSize, TxnLog } from './txnlog.ts';
import { CorruptLogError, LogFileReader, lastLoggedZxid, readLogs } from './txnlog-reader.ts';

async function collect(dir: string, from = 0) {
  const out = [];
  for await (const e of readLogs(dir, from)) out.push(e);
  return out;
}

const paths = (entries: { txn: { type: number } }[]) =>
  entries.map((e) => ('path' in e.txn ? (e.txn as { path: string }).path : `#${e.txn.type}`));

test('paddedFileSize follows FilePadding', () => {
  assert.equal(paddedFileSize(16, 16, 65536 * 1024), 16 + 64 * 1024 * 1024);
  assert.equal(paddedFileSize(6000, 10_000, 1000), 11_000);
  assert.equal(paddedFileSize(100, 10_000, 1000), 10_000);
  assert.equal(paddedFileSize(5000, 100, 1000), 6000);
  assert.equal(paddedFileSize(5000, 100, 0), 100);
});

test('entries round-trip through a ZKLG file with preallocation', async () => {
  await withVersionDir(async (dir) => {
    const log = await TxnLog.open(dir, { preAllocSize: 8192 });
    for (let z = 1; z <= 50; z++) log.append(createEntry(z, `/n${z}`), z);
    await log.flush();
    await log.close();
    assert.deepEqual(await readdir(dir), ['log.1']);
    const raw = await readFile(join(dir, 'log.1'));
    assert.equal(raw.toString('latin1', 0, 4), 'ZKLG');
    assert.equal(raw.readInt32BE(4), 2);
    assert.equal(raw.readBigInt64BE(8), 0n);
    // First entry follows the header: checksum long, length, bytes, 'B'.
    const first = createEntry(1, '/n1');
    assert.deepEqual(raw.subarray(LOG_HEADER_SIZE, LOG_HEADER_SIZE + first.length + 13), frameEntry(first));
    assert.equal(raw[LOG_HEADER_SIZE + 12 + first.length], 0x42);
    // Preallocated: the size is a multiple of the padding past the header, the tail is zeros.
    assert.equal((raw.length - 16) % 8192, 0);
    assert.ok(raw.length > 8192);
    const entries = await collect(dir);
    assert.equal(entries.length, 50);
    assert.deepEqual(
      entries.map((e) => e.header.zxid),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(paths(entries)[49], '/n50');
    assert.equal((entries[3]!.txn as { data: Buffer }).data.toString(), 'd/n4');
    assert.equal(await lastLoggedZxid(dir), 50);
  });
});

test('concurrent flushes coalesce into group-commit rounds', async () => {
  await withVersionDir(async (dir) => {
    const log = await TxnLog.open(dir, { preAllocSize: 4096 });
    const flushes: Promise<void>[] = [];
    for (let z = 1; z <= 100; z++) {
      log.append(createEntry(z, `/g${z}`), z);
      flushes.push(log.flush());
    }
    await Promise.all(flushes);
    // The first flush starts a round with one entry; the other 99 gather into the next one.
    assert.equal(log.fsyncs, 2);
    // Appends during a running round are picked up by a later flush.
    log.append(createEntry(101, '/late'), 101);
    const a = log.flush();
    log.append(createEntry(102, '/later'), 102);
    const b = log.flush();
    await Promise.all([a, b]);
    assert.equal(log.fsyncs, 4);
    await log.flush(); // nothing queued: no round
    assert.equal(log.fsyncs, 4);
    await log.close();
    assert.equal((await collect(dir)).length, 102);
  });
});

test('flush resolves only after the entries are on disk', async () => {
  await withVersionDir(async (dir) => {
    const log = await TxnLog.open(dir, { preAllocSize: 4096 });
    log.append(createEntry(7, '/x'), 7);
    await log.flush();
    // Read with a fresh reader while the log is still open.
    assert.deepEqual(paths(await collect(dir)), ['/x']);
    await log.close();
  });
});

test('forceSync=false writes without fsync', async () => {
  await withVersionDir(async (dir) => {
    const log = await TxnLog.open(dir, { forceSync: false, preAllocSize: 4096 });
    log.append(createEntry(1, '/a'), 1);
    await log.flush();
    assert.equal(log.fsyncs, 0);
    await log.close();
    assert.equal((await collect(dir)).length, 1);
  });
});

test('roll starts a new file named after its first zxid; readLogs spans files from a zxid', async () => {
  await withVersionDir(async (dir) => {
    const log = await TxnLog.open(dir, { preAllocSize: 4096 });
    for (let z = 1; z <= 5; z++) log.append(createEntry(z, `/a${z}`), z);
    await log.flush();
    assert.ok(log.bytesSinceRoll > 0);
    log.roll();
    assert.equal(log.bytesSinceRoll, 0);
    for (let z = 6; z <= 10; z++) log.append(createEntry(z, `/a${z}`), z);
    log.roll();
    log.roll(); // a second roll without appends in between changes nothing
    for (let z = 11; z <= 30; z++) log.append(createEntry(z, `/a${z}`), z);
    await log.flush();
    await log.close();
    assert.deepEqual((await readdir(dir)).sort(), ['log.1', 'log.6', 'log.b']);
    assert.equal((await collect(dir)).length, 30);
    const from8 = await collect(dir, 8);
    assert.deepEqual(
      from8.map((e) => e.header.zxid),
      Array.from({ length: 23 }, (_, i) => i + 8),
    );
    assert.ok(from8[0]!.file.endsWith('log.6'));
    assert.deepEqual((await collect(dir, 12)).map((e) => e.header.zxid)[0], 12);
    assert.equal((await collect(dir, 31)).length, 0);
  });
});

test('a reopened log never appends to an existing file', async () => {
  await withVersionDir(async (dir) => {
    let log = await TxnLog.open(dir, { preAllocSize: 4096 });
    for (let z = 1; z <= 3; z++) log.append(createEntry(z, `/r${z}`), z);
    await log.close();
    log = await TxnLog.open(dir, { preAllocSize: 4096 });
    log.append(createEntry(4, '/r4'), 4);
    await log.close();
    assert.deepEqual((await readdir(dir)).sort(), ['log.1', 'log.4']);
    assert.deepEqual(paths(await collect(dir)), ['/r1', '/r2', '/r3', '/r4']);
  });
});

async function writeLog(dir: string, n: number, preAllocSize = 4096): Promise<number[]> {
  const log = await TxnLog.open(dir, { preAllocSize });
  const offsets: number[] = [];
  let off = LOG_HEADER_SIZE;
  for (let z = 1; z <= n; z++) {
    const e = createEntry(z, `/t${z}`, 'x'.repeat(40));
    offsets.push(off);
    off += e.length + 13;
    log.append(e, z);
  }
  await log.close();
  offsets.push(off);
  return offsets;
}

async function patch(file: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await open(file, 'r+');
  await fh.write(bytes, 0, bytes.length, offset);
  await fh.close();
}

test('a record cut short by EOF ends the log cleanly', async () => {
  await withVersionDir(async (dir) => {
    const offs = await writeLog(dir, 10, 0);
    const file = join(dir, 'log.1');
    assert.equal((await stat(file)).size, offs[10]);
    await truncate(file, offs[9]! + 20); // mid-way through record 10
    const entries = await collect(dir);
    assert.equal(entries.length, 9);
    const r = new LogFileReader(file);
    for await (const _ of r.records());
    assert.deepEqual(r.end, { validEnd: offs[9], size: offs[9]! + 20, reason: 'partial' });
    assert.equal(await r.hasGarbageAfterEnd(), true);
  });
});

test('a torn final record inside preallocated space (missing trailer or bad checksum) ends the log', async () => {
  await withVersionDir(async (dir) => {
    const offs = await writeLog(dir, 10);
    const file = join(dir, 'log.1');
    // The last record's second half never reached the disk: zeros, so no 'B' trailer.
    const cut = offs[9]! + 30;
    await patch(file, cut, Buffer.alloc(offs[10]! - cut));
    assert.equal((await collect(dir)).length, 9);
    const r = new LogFileReader(file);
    for await (const _ of r.records());
    assert.equal(r.end?.reason, 'trailer');
    assert.equal(r.end?.validEnd, offs[9]);
    // Trailer present but the bytes in between wrong: a checksum failure at the tail is a torn write too.
    await writeLog(dir, 10);
    await patch(file, offs[9]! + 25, Buffer.from('garbage'));
    assert.equal((await collect(dir)).length, 9);
  });
});

test('a checksum mismatch in the middle of the log is an error naming file and offset', async () => {
  await withVersionDir(async (dir) => {
    const offs = await writeLog(dir, 10);
    const file = join(dir, 'log.1');
    await patch(file, offs[4]! + 30, Buffer.from('!'));
    await assert.rejects(collect(dir), (e: unknown) => {
      assert.ok(e instanceof CorruptLogError);
      assert.equal(e.file, file);
      assert.equal(e.offset, offs[4]);
      assert.match(e.message, /log\.1 corrupt at offset \d+: checksum/);
      return true;
    });
  });
});

test('an impossible length followed by data is an error; a zero length is the end', async () => {
  await withVersionDir(async (dir) => {
    const offs = await writeLog(dir, 10);
    const file = join(dir, 'log.1');
    const bad = Buffer.alloc(4);
    bad.writeInt32BE(-5);
    await patch(file, offs[3]! + 8, bad);
    await assert.rejects(collect(dir), CorruptLogError);
    await writeLog(dir, 10);
    await patch(file, offs[3]!, Buffer.alloc(12));
    assert.equal((await collect(dir)).length, 3);
  });
});

test('a file with no header (crash right after creating it) reads as empty; a wrong magic is an error', async () => {
  await withVersionDir(async (dir) => {
    await writeLog(dir, 3);
    const empty = join(dir, 'log.4');
    await (await open(empty, 'w')).close();
    assert.equal((await collect(dir)).length, 3);
    const junk = join(dir, 'log.5');
    await writeFile(junk, 'not a txn log at all');
    await assert.rejects(collect(dir), /magic/);
  });
});
