import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkQueue } from './queue.ts';

const tick = () => new Promise((r) => setImmediate(r));

test('a key is processed by one worker at a time, and once more if it was added meanwhile', async () => {
  const q = new WorkQueue({ workers: 4 });
  let running = 0;
  let maxRunning = 0;
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  q.start(async () => {
    calls++;
    running++;
    maxRunning = Math.max(maxRunning, running);
    if (calls === 1) await gate;
    running--;
  });
  q.add('ns/a');
  await tick();
  q.add('ns/a');
  q.add('ns/a');
  await tick();
  assert.equal(calls, 1);
  release();
  for (let i = 0; i < 10; i++) await tick();
  assert.equal(calls, 2, 'the adds during processing collapse into one more run');
  assert.equal(maxRunning, 1);
  await q.stop();
});

test('different keys run concurrently up to the worker count', async () => {
  const q = new WorkQueue({ workers: 2 });
  const started: string[] = [];
  const gates: (() => void)[] = [];
  q.start(async (k) => {
    started.push(k);
    await new Promise<void>((r) => gates.push(r));
  });
  for (const k of ['a', 'b', 'c']) q.add(k);
  await tick();
  assert.deepEqual(started, ['a', 'b']);
  gates.shift()!();
  for (let i = 0; i < 5; i++) await tick();
  assert.deepEqual(started, ['a', 'b', 'c']);
  for (const g of gates) g();
  await q.stop();
});

test('backoff doubles per failure up to the maximum', () => {
  const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
  assert.deepEqual(
    [1, 2, 3, 4, 5, 10].map((n) => q.backoff(n)),
    [100, 200, 400, 800, 1000, 1000],
  );
});

test('a failing key is retried after its backoff, and not before', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const q = new WorkQueue({ baseDelayMs: 1000 });
  let calls = 0;
  q.start(async () => {
    calls++;
    if (calls < 3) throw new Error('boom');
  });
  q.add('k');
  await tick();
  assert.equal(calls, 1);
  t.mock.timers.tick(999);
  await tick();
  assert.equal(calls, 1);
  t.mock.timers.tick(1);
  await tick();
  assert.equal(calls, 2);
  t.mock.timers.tick(1999);
  await tick();
  assert.equal(calls, 2, 'second failure waits twice as long');
  t.mock.timers.tick(1);
  await tick();
  assert.equal(calls, 3);
  await q.stop();
});
