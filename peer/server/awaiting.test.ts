import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Awaiting, AwaitingReplies } from './awaiting.ts';
import type { ClientConnection } from './connection.ts';

const waiter = (name: string): Awaiting & { name: string } => ({
  name,
  conn: {} as ClientConnection,
  done: () => {},
});

test('a waiter is found by session and xid, once', () => {
  const w = new AwaitingReplies();
  const a = waiter('a');
  const b = waiter('b');
  w.expect(1n, 7, a);
  w.expect(2n, 7, b);
  assert.equal(w.take(1n, 8), undefined);
  assert.equal(w.take(3n, 7), undefined);
  assert.equal(w.take(2n, 7), b);
  assert.equal(w.take(1n, 7), a);
  assert.equal(w.take(1n, 7), undefined);
});

test('requests that reuse an xid still in flight are answered in the order they came', () => {
  const w = new AwaitingReplies();
  const sent = ['first', 'second', 'third'].map(waiter);
  for (const a of sent) w.expect(5n, 1, a);
  assert.equal(w.take(5n, 1), sent[0]);
  w.expect(5n, 1, waiter('fourth'));
  assert.deepEqual(
    [w.take(5n, 1), w.take(5n, 1), w.take(5n, 1)].map((a) => (a as { name?: string } | undefined)?.name),
    ['second', 'third', 'fourth'],
  );
  assert.equal(w.take(5n, 1), undefined);
  // The xid is free again: a new request with it is waited for alone.
  const again = waiter('again');
  w.expect(5n, 1, again);
  assert.equal(w.take(5n, 1), again);
  assert.equal(w.take(5n, 1), undefined);
});
