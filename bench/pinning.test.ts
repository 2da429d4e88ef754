import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { listOf, ownCores, pin, threadsNotPinned } from './pinning.ts';

test('CPU lists are written as the kernel writes them', () => {
  assert.equal(listOf([0]), '0');
  assert.equal(listOf([3, 0, 1, 2, 5]), '0-3,5');
  assert.equal(listOf([1, 3, 5]), '1,3,5');
});

test('voters get the first half of the CPUs, observers the rest', () => {
  assert.equal(ownCores(1), null);
  assert.deepEqual(ownCores(2), { voters: [0], observers: [1] });
  assert.deepEqual(ownCores(5), { voters: [0, 1], observers: [2, 3, 4] });
});

test('pin() moves every thread of a running process, and back', {
  skip: availableParallelism() < 2,
}, async () => {
  // A Node process has several threads (V8 platform workers, libuv's pool once used).
  const child = spawn(process.execPath, [
    '-e',
    'require("fs").readFile(__filename, () => {}); setInterval(() => {}, 1000)',
  ]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const pid = child.pid!;
    const all = Array.from({ length: availableParallelism() }, (_, i) => i);
    assert.equal(threadsNotPinned(pid, all), 0, 'unpinned at first');
    await pin(pid, [1]);
    assert.equal(threadsNotPinned(pid, [1]), 0, 'every thread on CPU 1');
    assert.ok(threadsNotPinned(pid, all) > 1, 'several threads, none allowed everywhere');
    await pin(pid, all);
    assert.equal(threadsNotPinned(pid, all), 0, 'allowed everywhere again');
  } finally {
    child.kill('SIGKILL');
  }
});
