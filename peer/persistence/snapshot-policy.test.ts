import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SnapshotPolicy } from './snapshot-policy.ts';

test('the txn threshold is snapCount/2 + rand[0, snapCount/2)', () => {
  const low = new SnapshotPolicy({ random: () => 0 });
  assert.equal(low.txnThreshold, 50_000);
  assert.equal(low.shouldSnapshot(50_000, 0), false);
  assert.equal(low.shouldSnapshot(50_001, 0), true);
  const high = new SnapshotPolicy({ random: () => 0.99999999 });
  assert.equal(high.txnThreshold, 99_999);
  const mid = new SnapshotPolicy({ snapCount: 10, random: () => 0.5 });
  assert.equal(mid.txnThreshold, 5 + 2);
  // A snapCount below 2 is raised to 2, as ZooKeeper does.
  assert.equal(new SnapshotPolicy({ snapCount: 1 }).snapCount, 2);
});

test('members draw different thresholds', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 20; i++) seen.add(new SnapshotPolicy().txnThreshold);
  assert.ok(seen.size > 1);
  for (const t of seen) assert.ok(t >= 50_000 && t < 100_000);
});

test('the size trigger: bytes over snapSizeLimit/2 + rand; disabled when the limit is <= 0', () => {
  const p = new SnapshotPolicy({ snapCount: 1000, snapSizeLimitKb: 4, random: () => 0 });
  assert.equal(p.shouldSnapshot(1, 2048), false);
  assert.equal(p.shouldSnapshot(1, 2049), true);
  const off = new SnapshotPolicy({ snapCount: 1000, snapSizeLimitKb: 0, random: () => 0 });
  assert.equal(off.shouldSnapshot(1, 1e15), false);
});

test('reset() draws the next threshold', () => {
  let r = 0;
  const draws = [0, 0.5];
  // Without a size limit, each draw is the txn threshold's random part.
  const p = new SnapshotPolicy({ snapCount: 10, snapSizeLimitKb: 0, random: () => draws[r++]! });
  assert.equal(p.txnThreshold, 5);
  assert.equal(p.shouldSnapshot(6, 0), true);
  p.reset();
  assert.equal(p.txnThreshold, 5 + 2);
  assert.equal(p.shouldSnapshot(6, 0), false);
  assert.equal(p.shouldSnapshot(8, 0), true);
});
