import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quorumOf } from '../render/members.ts';
import { ensemble } from '../render/testutil.ts';
import { computeStatus, conditionOf, invalidSpecStatus, statusChanged } from './status.ts';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:01:00Z';
const cond = (s: ReturnType<typeof computeStatus>, type: string) => conditionOf(s, type)!;

const e = ensemble({ observers: { regions: [{ name: 'east', replicas: 2 }] } });
const observed = (ready: number, eastReady = 2) => ({
  voters: { replicas: 3, readyReplicas: ready, current: true },
  observers: new Map([['east', { replicas: 2, readyReplicas: eastReady, current: true }]]),
  members: [],
});

test('quorum is a majority of the voters', () => {
  assert.deepEqual([1, 3, 5, 7].map(quorumOf), [1, 2, 3, 4]);
});

test('Available once a quorum of voters is ready; Progressing until every member is', () => {
  const s = computeStatus(e, observed(2), T0);
  assert.equal(cond(s, 'Available').status, 'True');
  assert.equal(cond(s, 'Progressing').status, 'True');
  assert.equal(cond(s, 'Degraded').status, 'False');
  assert.equal(s.readyVoters, 2);
  assert.equal(s.voters, '2/3');
  assert.equal(s.observers, '2/2');
  assert.equal(s.observedGeneration, 1);
  const done = computeStatus(e, observed(3), T0);
  assert.equal(cond(done, 'Progressing').status, 'False');
});

test('first start-up without quorum is not Degraded; losing quorum later is', () => {
  const starting = computeStatus(e, observed(1), T0);
  assert.equal(cond(starting, 'Available').status, 'False');
  assert.equal(cond(starting, 'Degraded').status, 'False');
  const up = computeStatus(e, observed(3), T0);
  const lost = computeStatus({ ...e, status: up }, observed(1), T1);
  assert.equal(cond(lost, 'Degraded').status, 'True');
  assert.equal(cond(lost, 'Degraded').reason, 'QuorumLost');
  // Available is False by now: the QuorumLost condition itself keeps the ensemble Degraded.
  const still = computeStatus({ ...e, status: lost }, observed(1), T1);
  assert.equal(cond(still, 'Degraded').reason, 'QuorumLost');
});

test('lastTransitionTime moves only when a condition changes status, so a repeat writes nothing', () => {
  const a = computeStatus(e, observed(3), T0);
  const b = computeStatus({ ...e, status: a }, observed(3), T1);
  assert.equal(cond(b, 'Available').lastTransitionTime, T0);
  assert.equal(statusChanged(a, b), false);
  const c = computeStatus({ ...e, status: b }, observed(1), T1);
  assert.equal(cond(c, 'Available').lastTransitionTime, T1);
  assert.equal(statusChanged(b, c), true);
});

test('an invalid spec is Degraded with reason InvalidSpec and keeps Available as it was', () => {
  const up = computeStatus(e, observed(3), T0);
  const s = invalidSpecStatus({ ...e, status: up }, ['zooCfg: tickTime=fast is not an integer'], T1);
  assert.equal(cond(s, 'Degraded').status, 'True');
  assert.equal(cond(s, 'Degraded').reason, 'InvalidSpec');
  assert.match(cond(s, 'Degraded').message, /tickTime/);
  assert.equal(cond(s, 'Available').status, 'True');
});
