import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentTxns } from './recent-txns.ts';

const entry = (zxid: number, size = 100) => Buffer.alloc(size, zxid % 251);

test('entries after a zxid, and the last n, come back byte for byte and in order', () => {
  const r = new RecentTxns(10);
  for (let z = 1; z <= 5; z++) r.add(z, entry(z, 50 + z));
  assert.deepEqual(r.after(5), []);
  assert.deepEqual(r.after(3), [entry(4, 54), entry(5, 55)]);
  assert.equal(r.after(9), null);
  assert.deepEqual(
    r.tail(2).map((p) => [p.zxid, p.data.length]),
    [
      [4, 54],
      [5, 55],
    ],
  );
  assert.equal(r.tail(100).length, 5);
  r.clear();
  assert.equal(r.after(5), null);
  assert.deepEqual(r.tail(3), []);
});

test('at least `keep` entries are kept across chunks; older chunks go, and are reused', () => {
  const r = new RecentTxns(1000);
  // 1 KiB entries: a 256 KiB chunk holds about 256 of them.
  for (let z = 1; z <= 20_000; z++) r.add(z, entry(z, 1024));
  assert.ok(r.size >= 1000 && r.size < 1000 + 300, `kept ${r.size}`);
  assert.equal(r.after(19_500)?.length, 500);
  assert.equal(r.after(18_000), null);
  const tail = r.tail(1000);
  assert.equal(tail[0]!.zxid, 19_001);
  assert.deepEqual(tail[999]!.data, entry(20_000, 1024));
  // What comes back is a copy: later adds reuse the chunks without changing it.
  const copy = r.after(19_999)![0]!;
  for (let z = 20_001; z <= 25_000; z++) r.add(z, entry(z, 1024));
  assert.deepEqual(copy, entry(20_000, 1024));
});

test('an entry bigger than a chunk gets its own; huge entries are kept by bytes, not by count', () => {
  const r = new RecentTxns(1000);
  r.add(1, entry(1, 100));
  r.add(2, entry(2, 300 * 1024));
  r.add(3, entry(3, 100));
  assert.deepEqual(
    r.after(1)!.map((b) => b.length),
    [300 * 1024, 100],
  );
  // 1 MiB values: far fewer than 1000 are kept (about 64 MiB of them), the newest always.
  for (let z = 4; z < 200; z++) r.add(z, entry(z, 1 << 20));
  assert.ok(r.size < 100, `kept ${r.size}`);
  assert.equal(r.tail(1)[0]!.zxid, 199);
});
