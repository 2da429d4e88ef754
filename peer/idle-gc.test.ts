import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleGcTrigger, startIdleGc } from './idle-gc.ts';

const policy = { quietMs: 5000, busyGapMs: 1000, minYoung: 3, minIntervalMs: 60_000 };

test('collects once a busy spell has gone quiet, not during it and not twice for it', () => {
  const t = new IdleGcTrigger(policy);
  assert.equal(t.due(100_000), false, 'nothing happened yet');
  for (let at = 0; at <= 1000; at += 250) t.allocating(at);
  assert.equal(t.due(1500), false, 'still busy');
  assert.equal(t.due(5700), false, 'not yet 5 s since the one before the last');
  assert.equal(t.due(5750), true);
  t.ran(5750);
  assert.equal(t.due(60_000), false, 'collected: nothing new since');
});

test('a steady trickle of young collections never adds up to a spell', () => {
  const t = new IdleGcTrigger(policy);
  // One every 6 s for an hour: pings on idle sessions, metrics scrapes.
  for (let at = 0; at < 3_600_000; at += 6000) {
    t.allocating(at);
    assert.equal(t.due(at + 5999), false, `at ${at} ms`);
  }
});

test('a steady light load with collections 3 s apart is neither busy nor quiet', () => {
  const t = new IdleGcTrigger(policy);
  for (let at = 0; at < 600_000; at += 3000) {
    t.allocating(at);
    assert.equal(t.due(at + 2999), false, `at ${at} ms`);
  }
});

test('spells closer together than the least interval share one collection', () => {
  const t = new IdleGcTrigger(policy);
  const spell = (from: number) => {
    for (let at = from; at < from + 1000; at += 100) t.allocating(at);
  };
  spell(0);
  assert.equal(t.due(6000), true);
  t.ran(6000);
  spell(10_000);
  assert.equal(t.due(16_000), false, 'only 10 s after the last one');
  assert.equal(t.due(66_000), true, 'the spell still waits for its collection');
});

test('a full collection of V8’s own during the spell starts the count again', () => {
  const t = new IdleGcTrigger(policy);
  for (let at = 0; at < 400; at += 100) t.allocating(at);
  t.collected();
  t.allocating(450);
  assert.equal(t.due(20_000), false);
});

test('in a real process: a busy spell of promoted garbage is followed by one collection', async () => {
  let calls = 0;
  let freed = 0;
  const stop = startIdleGc({ quietMs: 300, busyGapMs: 1000, minYoung: 2, minIntervalMs: 0 }, (bytes) => {
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
