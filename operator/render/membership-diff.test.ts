import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Member } from './members.ts';
import { membershipDiff } from './membership-diff.ts';

const v = (sid: number, host = `zk-voter-${sid - 1}.zk-voters`): Member => ({ sid, role: 'voter', host });
const o = (sid: number, host = `10.0.0.${sid % 250}`): Member => ({ sid, role: 'observer', host });
const all = (...sids: number[]) => new Set(sids);

test('nothing to do when the memberships match', () => {
  const m = [v(1), v(2), v(3), o(1000)];
  assert.deepEqual(membershipDiff(m, m, { synced: all(1, 2, 3), leaderSid: 1 }), { steps: [], refused: [] });
});

test('observers join and leave together in one step, whatever the voters look like', () => {
  const d = membershipDiff([v(1), v(2), v(3), o(1000), o(1002)], [v(1), v(2), v(3), o(1000), o(1001)], {
    synced: all(1),
  });
  assert.equal(d.steps.length, 1);
  assert.deepEqual(
    d.steps[0]!.joining.map((m) => m.sid),
    [1002],
  );
  assert.deepEqual(d.steps[0]!.leaving, [1001]);
  assert.deepEqual(d.refused, []);
});

test('an observer with a new address is re-joined', () => {
  const d = membershipDiff([v(1), o(1000, '10.9.9.9')], [v(1), o(1000, '10.0.0.1')], { synced: all(1) });
  assert.deepEqual(
    d.steps.map((s) => s.joining.map((m) => m.host)),
    [['10.9.9.9']],
  );
});

test('scale-up 1 → 3: one voter per step, each once it is synced', () => {
  const desired = [v(1), v(2), v(3)];
  const d = membershipDiff(desired, [v(1)], { synced: all(1, 2, 3), leaderSid: 1 });
  assert.deepEqual(
    d.steps.map((s) => [s.joining.map((m) => m.sid), s.leaving]),
    [
      [[2], []],
      [[3], []],
    ],
  );
  const waiting = membershipDiff(desired, [v(1)], { synced: all(1, 2), leaderSid: 1 });
  assert.equal(waiting.steps.length, 1);
  assert.deepEqual(
    waiting.refused.map((r) => r.sid),
    [3],
  );
  assert.match(waiting.refused[0]!.reason, /not running and synced/);
});

test('scale-down 5 → 3: highest followers first, the leader last, one per step', () => {
  const current = [v(1), v(2), v(3), v(4), v(5)];
  const d = membershipDiff([v(1), v(2), v(3)], current, { synced: all(1, 2, 3, 4, 5), leaderSid: 5 });
  assert.deepEqual(
    d.steps.map((s) => s.leaving),
    [[4], [5]],
  );
  assert.match(d.steps[1]!.reason, /leader/);
});

test('a removal that would leave no synced quorum is refused, and so is everything after it', () => {
  // 5 voters, 4 and 5 to go, but 2 and 3 are down: after removing 4, {1,2,3,5} needs 3 synced, has 2.
  const d = membershipDiff([v(1), v(2), v(3)], [v(1), v(2), v(3), v(4), v(5)], {
    synced: all(1, 4, 5),
    leaderSid: 1,
  });
  assert.deepEqual(d.steps, []);
  assert.deepEqual(
    d.refused.map((r) => r.sid),
    [5, 4],
  );
  assert.match(d.refused[0]!.reason, /no quorum/);
  assert.match(d.refused[1]!.reason, /waits for the change of server\.5/);
});

test('no reconfig at all without a synced quorum of the current voters', () => {
  const d = membershipDiff([v(1), v(2), v(3), v(4), v(5)], [v(1), v(2), v(3)], { synced: all(1, 4, 5) });
  assert.deepEqual(d.steps, []);
  assert.match(d.refused[0]!.reason, /only 1 of 3 voters are synced/);
});

test('the last voter is never removed; role changes are refused', () => {
  assert.match(membershipDiff([o(1000)], [v(1)], { synced: all(1) }).refused[0]!.reason, /last voter/);
  const d = membershipDiff([v(1), v(2), v(3), o(4)], [v(1), v(2), v(3), v(4)], { synced: all(1, 2, 3, 4) });
  assert.deepEqual(d.steps, []);
  assert.match(d.refused[0]!.reason, /cannot change from voter to observer/);
});

test('a voter with a new address is changed alone, with a quorum left without it', () => {
  const d = membershipDiff([v(1), v(2, 'new-host'), v(3)], [v(1), v(2), v(3)], {
    synced: all(1, 2, 3),
    leaderSid: 1,
  });
  assert.deepEqual(
    d.steps.map((s) => s.joining.map((m) => `${m.sid}@${m.host}`)),
    [['2@new-host']],
  );
  const blocked = membershipDiff([v(1), v(2, 'new-host'), v(3)], [v(1), v(2), v(3)], { synced: all(1, 2) });
  assert.match(blocked.refused[0]!.reason, /quorum without it/);
});

test('adds come before removals when voters are replaced', () => {
  const d = membershipDiff([v(1), v(2), v(4)], [v(1), v(2), v(3)], { synced: all(1, 2, 3, 4), leaderSid: 1 });
  assert.deepEqual(
    d.steps.map((s) => [s.joining.map((m) => m.sid), s.leaving]),
    [
      [[4], []],
      [[], [3]],
    ],
  );
});

test('duplicate ids are a programming error', () => {
  assert.throws(() => membershipDiff([v(1), v(1)], [v(1)], { synced: all(1) }), /appears twice/);
});
