import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialSessionId, sessionPassword } from './session-ids.ts';

// Vectors printed by java.util.Random / the Java expression ZooKeeper uses (JDK 17).
test('session passwords match java.util.Random(sessionId ^ 0xB3415C00).nextBytes(16)', () => {
  const vectors: [bigint, string][] = [
    [0x100000000n, 'f22a606497e6346320a4e6f138eacad9'],
    [0x1234567890abcdefn, 'f7721b383fd583ba74d220ede39f7b43'],
    [-5n, 'd47144b5e45e45c49c3b7fdcd66257ba'],
    [0x0100018f2a3b0000n, '2749f13c2861fec8dd197a08b1d99762'],
  ];
  for (const [id, hex] of vectors)
    assert.equal(sessionPassword(id).toString('hex'), hex, `session 0x${id.toString(16)}`);
});

test('initial session ids put the server id in the top byte like SessionTrackerImpl', () => {
  const now = 1763700000000;
  assert.equal(initialSessionId(0, now), 0x9aa4b645000000n);
  assert.equal(initialSessionId(1, now), 0x19aa4b645000000n);
  assert.equal(initialSessionId(5, now), 0x59aa4b645000000n);
});
