import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ObserverMasterList, rankMasters } from './observer-master-list.ts';
import { verifierFor } from './zab-testutil.ts';

/** A fixed sequence of "random" numbers, repeated. */
function seq(...xs: number[]): () => number {
  let i = 0;
  return () => xs[i++ % xs.length]!;
}

const config = (voters: number[], observers: number[] = [9]) => verifierFor(voters, observers).config;

test('masters are the voters but the leader, at their quorum host and the observer-master port', () => {
  const list = new ObserverMasterList(seq(0.5));
  const picks = Array.from({ length: 8 }, () => list.pick(config([1, 2, 3, 4, 5]), 7000, 3));
  for (const p of picks) {
    assert.ok(p && p.sid !== 3 && p.sid <= 5, `picked ${p?.sid}`);
    assert.equal(p.port, 7000);
    assert.equal(p.host, '127.0.0.1');
  }
  // Round robin: every follower comes up once in each run of four.
  assert.deepEqual(new Set(picks.slice(0, 4).map((p) => p!.sid)), new Set([1, 2, 4, 5]));
  assert.deepEqual(
    picks.slice(4).map((p) => p!.sid),
    picks.slice(0, 4).map((p) => p!.sid),
  );
});

test('the order is shuffled, so observers spread over the followers', () => {
  const first = (r: () => number) => new ObserverMasterList(r).pick(config([1, 2, 3, 4, 5]), 7000, 99)!.sid;
  const seen = new Set([first(seq(0)), first(seq(0.99)), first(seq(0.3, 0.7, 0.1)), first(seq(0.6, 0.2))]);
  assert.ok(seen.size > 1, `always ${[...seen]}`);
});

test('a new set of voters is shuffled again; the same set keeps its place in the round', () => {
  const list = new ObserverMasterList(seq(0.25, 0.75));
  const a = list.pick(config([1, 2, 3]), 7000, 1)!.sid;
  const b = list.pick(config([1, 2, 3], [9, 10]), 7000, 1)!.sid;
  assert.notEqual(a, b, 'an observer added does not restart the round');
  const c = list.pick(config([1, 2, 3, 4]), 7000, 1)!;
  assert.ok([2, 3, 4].includes(c.sid));
});

test('with no voter but the leader there is no master: the observer goes to the leader itself', () => {
  const list = new ObserverMasterList(Math.random);
  assert.equal(list.pick(config([1]), 7000, 1), null);
});

/** A seeded uniform random (mulberry32): a different, repeatable shuffle per seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ms = (entries: Record<number, number>) =>
  new Map(Object.entries(entries).map(([k, v]) => [Number(k), v]));

test('ranking: the near masters shuffled, then the far ones by round trip, then the unmeasured', () => {
  // Best 0.3 ms: near is within 0.3 + max(1, 0.15) ms.
  const rtts = ms({ 1: 0.5, 2: 0.3, 4: 1.3, 5: 30, 6: 12, 8: 1.31 });
  const orders = Array.from({ length: 16 }, (_, seed) =>
    rankMasters([1, 2, 4, 5, 6, 7, 8, 9], rtts, seeded(seed)),
  );
  for (const o of orders) {
    assert.deepEqual(new Set(o.slice(0, 3)), new Set([1, 2, 4]), `near first in ${o}`);
    assert.deepEqual(o.slice(3, 6), [8, 6, 5], `far ones by round trip in ${o}`);
    assert.deepEqual(new Set(o.slice(6)), new Set([7, 9]), `unmeasured last in ${o}`);
  }
  const nearOrders = new Set(orders.map((o) => o.slice(0, 3).join(',')));
  assert.ok(nearOrders.size >= 3, `the near ones are shuffled: ${[...nearOrders]}`);
  assert.ok(new Set(orders.map((o) => o.slice(6).join(','))).size === 2, 'so are the unmeasured');
});

test('ranking: near is within 50% of the best when that is more than 1 ms', () => {
  const rtts = ms({ 1: 20, 2: 29.9, 3: 30.1, 4: 45 });
  for (let seed = 0; seed < 8; seed++) {
    const o = rankMasters([1, 2, 3, 4], rtts, seeded(seed));
    assert.deepEqual(new Set(o.slice(0, 2)), new Set([1, 2]));
    assert.deepEqual(o.slice(2), [3, 4]);
  }
  // Nothing measured: all shuffled, as without ranking.
  const seen = new Set(
    Array.from({ length: 8 }, (_, s) => rankMasters([1, 2, 3], new Map(), seeded(s)).join(',')),
  );
  assert.ok(seen.size > 1);
});

test('an observer measures first, picks a near master, and round robins over the ranked order', () => {
  const cfg = config([1, 2, 3, 4, 5]);
  const list = new ObserverMasterList(seeded(7));
  const todo = list.toMeasure(cfg, 7000, 3, 0);
  assert.deepEqual(
    todo.map((m) => m.sid),
    [1, 2, 4, 5],
    'every voter but the leader',
  );
  for (const m of todo) assert.deepEqual([m.host, m.port], ['127.0.0.1', 7000]);
  list.measured(cfg, 3, ms({ 1: 40, 2: 0.2, 4: 0.4 }), 0);
  assert.deepEqual(list.toMeasure(cfg, 7000, 3, 1000), [], 'measured: nothing to do');
  const picks = Array.from({ length: 8 }, () => list.pick(cfg, 7000, 3)!.sid);
  assert.deepEqual(new Set(picks.slice(0, 2)), new Set([2, 4]));
  assert.deepEqual(picks.slice(2, 4), [1, 5]);
  assert.deepEqual(picks.slice(4), picks.slice(0, 4));
  assert.equal(list.rttOf(2), 0.2);
  assert.equal(list.rttOf(5), undefined);
});

test('a failed master goes to the end of the order until the next measurement', () => {
  const cfg = config([1, 2, 3, 4]);
  const list = new ObserverMasterList(seeded(1));
  list.measured(cfg, 4, ms({ 1: 0.2, 2: 0.3, 3: 25 }), 0);
  const first = list.pick(cfg, 7000, 4)!.sid;
  const other = first === 1 ? 2 : 1;
  list.failed(first);
  assert.deepEqual(
    Array.from({ length: 3 }, () => list.pick(cfg, 7000, 4)!.sid),
    [other, 3, first],
    'the failed near master comes after the far one',
  );
  assert.deepEqual(list.toMeasure(cfg, 7000, 4, 1), [], 'one failure does not call for a measurement');
  // A new measurement restores it.
  list.measured(cfg, 4, ms({ 1: 0.2, 2: 0.3, 3: 25 }), 2);
  assert.ok([1, 2].includes(list.pick(cfg, 7000, 4)!.sid));
  assert.ok([1, 2].includes(list.pick(cfg, 7000, 4)!.sid));
  assert.equal(list.pick(cfg, 7000, 4)!.sid, 3);
});

test('measured again when the voters or the leader change, when stale, after losing the master, after all failed', () => {
  const cfg = config([1, 2, 3]);
  const list = new ObserverMasterList(seeded(2), 60_000);
  const due = (c = cfg, leader = 3, now = 1000) => list.toMeasure(c, 7000, leader, now).length > 0;
  assert.ok(due(), 'never measured');
  list.measured(cfg, 3, ms({ 1: 0.1, 2: 50 }), 0);
  assert.ok(!due());
  assert.ok(!due(config([1, 2, 3], [9, 10])), 'an observer more changes nothing');
  assert.ok(due(cfg, 1), 'another leader');
  assert.ok(due(config([1, 2, 3, 4])), 'another voter');
  assert.ok(due(cfg, 3, 60_000), 'a minute later');
  const m = list.pick(cfg, 7000, 3)!.sid;
  assert.equal(m, 1);
  list.lost(m);
  assert.ok(due(), 'after losing the master it synced from');
  list.measured(cfg, 3, ms({ 2: 50 }), 2000);
  assert.deepEqual(
    [list.pick(cfg, 7000, 3)!.sid, list.pick(cfg, 7000, 3)!.sid],
    [2, 1],
    'the lost master, unmeasured, comes last',
  );
  list.failed(2);
  assert.ok(!due(cfg, 3, 3000));
  list.failed(1);
  assert.ok(due(cfg, 3, 3000), 'every master failed');
  // With no voter but the leader there is nothing to measure.
  assert.deepEqual(list.toMeasure(config([1]), 7000, 1, 0), []);
});

test('a master chosen before every follower answered is left for a nearer one that answers later', () => {
  const cfg = config([1, 2, 3, 4]);
  const list = new ObserverMasterList(seeded(3));
  // Follower 2 is down at the first measurement: 1 (far) is the only choice.
  list.measured(cfg, 3, ms({ 1: 40 }), 0);
  assert.equal(list.allMeasured(cfg, 3), false);
  assert.equal(list.pick(cfg, 7000, 3)!.sid, 1);
  assert.equal(list.nearerThan(cfg, 3, 1), null, 'nothing nearer known yet');
  assert.deepEqual(
    list.candidates(cfg, 7000, 3).map((m) => m.sid),
    [1, 2, 4],
  );
  list.measured(cfg, 3, ms({ 1: 40, 2: 0.3, 4: 0.5 }), 10_000);
  assert.equal(list.allMeasured(cfg, 3), true);
  assert.equal(list.nearerThan(cfg, 3, 1), 2, 'the nearest of the near group');
  assert.equal(list.nearerThan(cfg, 3, 4), null, 'already on a near one');
});
