import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canAcquire } from './leader.ts';

const now = Date.parse('2026-01-01T00:00:30Z');

test('a free, own or expired Lease can be taken; a live one held by another cannot', () => {
  assert.equal(canAcquire({}, 'a', now), true);
  assert.equal(canAcquire({ holderIdentity: null }, 'a', now), true);
  const held = { holderIdentity: 'b', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:20.000000Z' };
  assert.equal(canAcquire(held, 'a', now), false);
  assert.equal(canAcquire(held, 'b', now), true);
  assert.equal(canAcquire({ ...held, renewTime: '2026-01-01T00:00:10.000000Z' }, 'a', now), true);
});
