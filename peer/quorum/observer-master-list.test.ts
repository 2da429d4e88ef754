import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ObserverMasterList } from './observer-master-list.ts';
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
