// The learner's write path: session revalidation answers, and what becomes of pending ones when
// the leader goes away (no verdict: the client's connection is dropped, its session not declared
// expired).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommitSink } from '../server/write-path.ts';
import { LearnerWritePath } from './write-paths.ts';

function path() {
  const asked: bigint[] = [];
  const p = new LearnerWritePath(
    () => {},
    (id) => asked.push(id),
    {} as CommitSink,
  );
  return { p, asked };
}

test("revalidations wait for the leader's answer; one question per session", async () => {
  const { p, asked } = path();
  const a = p.revalidate(7n, 30_000);
  const b = p.revalidate(7n, 30_000);
  const c = p.revalidate(8n, 30_000);
  assert.deepEqual(asked, [7n, 8n]);
  p.revalidated(7n, true);
  p.revalidated(8n, false);
  assert.deepEqual(await Promise.all([a, b, c]), [true, true, false]);
});

test('a leader that goes away leaves pending revalidations without a verdict', async () => {
  const { p } = path();
  const a = p.revalidate(7n, 30_000);
  const b = p.revalidate(9n, 30_000);
  p.abandon();
  await assert.rejects(a, /leader is gone/);
  await assert.rejects(b, /leader is gone/);
  // A later question is asked afresh.
  const c = p.revalidate(7n, 30_000);
  p.revalidated(7n, true);
  assert.equal(await c, true);
});
