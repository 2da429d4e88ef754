import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leastStolen, STEAL_LIMIT_CORES } from './workloads/throughput.ts';

/** Attempts that report these stolen cores in turn; which ones ran, and what was logged. */
function attempts(stolen: Array<number | null>) {
  let i = 0;
  const retries: number[] = [];
  return {
    measure: async () => ({ attempt: i, stolen: stolen[i++] ?? 0 }),
    onRetry: (s: number) => retries.push(s),
    retries,
    ran: () => i,
  };
}

test('a window nobody stole from is measured once', async () => {
  const a = attempts([0.01]);
  const r = await leastStolen(a.measure, (x) => x.stolen, a.onRetry);
  assert.deepEqual([r.attempt, r.stealRetries, a.ran()], [0, 0, 1]);
  const b = attempts([null]);
  assert.equal((await leastStolen(b.measure, (x) => x.stolen, b.onRetry)).stealRetries, 0);
});

test('a window with too much stolen is measured again until one is clean', async () => {
  const a = attempts([0.4, STEAL_LIMIT_CORES / 2]);
  const r = await leastStolen(a.measure, (x) => x.stolen, a.onRetry);
  assert.deepEqual([r.attempt, r.stealRetries, a.ran()], [1, 1, 2]);
  assert.deepEqual(a.retries, [0.4]);
});

test('at most two retries; the attempt with the least stolen is kept', async () => {
  const a = attempts([0.4, 0.2, 0.5, 0.0]);
  const r = await leastStolen(a.measure, (x) => x.stolen, a.onRetry);
  assert.deepEqual([r.attempt, r.stealRetries, a.ran()], [1, 2, 3]);
  assert.deepEqual(a.retries, [0.4, 0.2]);
});
