import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleGcTrigger, startIdleGc } from './idle-gc.ts';

const policy = { quietMs: 5000, minYoung: 3 };

test('collects once a busy spell has gone quiet, not during it and not twice for it', () => {
  const t = new IdleGcTrigger(policy);
  assert.equal(t.due(100_000), false, 'nothing happened yet');
  for (let at = 0; at <= 1000; at += 250) t.allocating(at);
  assert.equal(t.due(1500), false, 'still busy');
  assert.equal(t.due(5700), false, 'not yet 5 s since the one before the last');
  assert.equal(t.due(5750), true);
  t.collected();
  assert.equal(t.due(60_000), false, 'collected: nothing new since');
});

test('a trickle of collections is quiet; a short spell is not worth a collection', () => {
  const t = new IdleGcTrigger(policy);
  t.allocating(0);
  t.allocating(6000);
  assert.equal(t.due(7000), false, 'two collections are not a busy spell');
  t.allocating(12_000);
  assert.equal(t.due(13_000), true, 'one collection per 6 s is quiet; three since the last full one');
});

test('a full collection of V8’s own during the spell starts the count again', () => {
  const t = new IdleGcTrigger(policy);
  for (let at = 0; at < 4; at++) t.allocating(at);
  t.collected();
  t.allocating(10);
  assert.equal(t.due(20_000), false);
});

test('in a real process: a busy spell of promoted garbage is followed by one collection', async () => {
  let calls = 0;
  let freed = 0;
  const stop = startIdleGc({ quietMs: 300, minYoung: 2 }, (bytes) => {
    calls++;
    freed = bytes;
  });
  try {
    // Objects that live across a few young collections, so they are promoted, then die.
    let keep: unknown[] = [];
    for (let round = 0; round < 40; round++) {
      keep = Array.from({ length: 20_000 }, (_, i) => ({ i, s: `v${i}-${round}` }));
      await new Promise((r) => setImmediate(r));
    }
    keep = [];
    const deadline = Date.now() + 20_000;
    while (calls === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(calls, 1, 'one collection after the spell');
    assert.ok(freed > 0, `freed ${freed} bytes`);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(calls, 1, 'and no more while nothing happens');
    void keep;
  } finally {
    stop();
  }
});
