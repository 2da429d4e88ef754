import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planVoterRestarts, type VoterPodState } from './restart-plan.ts';

const pod = (sid: number, s: Partial<VoterPodState> = {}): VoterPodState => ({
  name: `zk-voter-${sid - 1}`,
  sid,
  ready: true,
  updated: false,
  ...s,
});

test('followers first, highest id first, the leader last', () => {
  const plan = planVoterRestarts([pod(1), pod(2), pod(3)], 2);
  assert.deepEqual(plan.order, ['zk-voter-2', 'zk-voter-0', 'zk-voter-1']);
  assert.deepEqual(plan.next, {
    action: 'restart',
    pod: 'zk-voter-2',
    reason: 'follower on the old template',
  });
});

test('walking through a 3-voter roll: wait for each restarted voter before the next', () => {
  const pods = [pod(1), pod(2), pod(3)];
  const leader = 1;
  const restarted: string[] = [];
  for (let round = 0; round < 10; round++) {
    const { next } = planVoterRestarts(pods, leader);
    if (next.action === 'done') break;
    assert.equal(next.action, 'restart');
    if (next.action !== 'restart') return;
    restarted.push(next.pod);
    const p = pods.find((x) => x.name === next.pod)!;
    p.updated = true;
    p.ready = false;
    assert.equal(planVoterRestarts(pods, leader).next.action, 'wait', 'the restarted voter is not back yet');
    p.ready = true;
  }
  assert.deepEqual(restarted, ['zk-voter-2', 'zk-voter-1', 'zk-voter-0']);
});

test('an outdated voter that is not ready goes first, even while others catch up', () => {
  const plan = planVoterRestarts(
    [pod(1), pod(2, { ready: false }), pod(3, { updated: true, ready: false })],
    1,
  );
  assert.deepEqual(plan.next, {
    action: 'restart',
    pod: 'zk-voter-1',
    reason: 'not ready on the old template',
  });
});

test('waits while a pod terminates, while the leader is unknown, or when a restart would break the quorum', () => {
  const terminating = planVoterRestarts([pod(1), pod(2), pod(3, { updated: true, terminating: true })], 1);
  assert.match(terminating.next.action === 'wait' ? terminating.next.reason : '', /terminating/);
  const noLeader = planVoterRestarts([pod(1), pod(2), pod(3)], undefined);
  assert.match(noLeader.next.action === 'wait' ? noLeader.next.reason : '', /no known leader/);
  const five = [
    pod(1),
    pod(2),
    pod(3),
    pod(4, { updated: true, ready: true }),
    pod(5, { updated: true, ready: true }),
  ];
  assert.equal(planVoterRestarts(five, 1).next.action, 'restart');
  const missingPod = planVoterRestarts([pod(1), pod(2)], 1, 3);
  assert.match(
    missingPod.next.action === 'wait' ? missingPod.next.reason : '',
    /would leave 1 of 3 voters ready/,
  );
});

test('a single voter is restarted (there is no safer way), and a finished roll is done', () => {
  assert.deepEqual(planVoterRestarts([pod(1)], 1).next, {
    action: 'restart',
    pod: 'zk-voter-0',
    reason: 'the leader, last',
  });
  assert.deepEqual(planVoterRestarts([pod(1, { updated: true }), pod(2, { updated: true })], 1).next, {
    action: 'done',
  });
  const back = planVoterRestarts([pod(1, { updated: true }), pod(2, { updated: true, ready: false })], 1);
  assert.equal(back.next.action, 'wait');
});
