import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLocalArgs } from './cli.ts';

test('local: voters, observers and observer-master in any order', () => {
  assert.deepEqual(parseLocalArgs([]), { voters: 0, observers: 0, observerMaster: false });
  assert.deepEqual(parseLocalArgs(['--observers', '2', '--observer-master', '--voters', '3']), {
    voters: 3,
    observers: 2,
    observerMaster: true,
  });
});

test('local: --help, an unknown option or a bad number starts nothing', () => {
  // It used to ignore what it did not know and start a peer on 127.0.0.1:2181.
  assert.deepEqual(parseLocalArgs(['--help']), { help: true });
  assert.deepEqual(parseLocalArgs(['-h']), { help: true });
  assert.match((parseLocalArgs(['--voter', '3']) as { error: string }).error, /Unknown option '--voter'/);
  assert.match(
    (parseLocalArgs(['--voters']) as { error: string }).error,
    /'--voters <value>' argument missing/,
  );
  assert.deepEqual(parseLocalArgs(['--voters', 'x']), { error: '--voters needs a whole number' });
  assert.deepEqual(parseLocalArgs(['--voters=-1']), { error: '--voters needs a whole number' });
  assert.deepEqual(parseLocalArgs(['--observers', '1']), { error: 'observers need voters (--voters N)' });
});
