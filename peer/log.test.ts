// Secrets never reach the log: fields that may carry them are redacted at any depth we log.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { makeLogger } from './log.ts';

test('passwords, auth data, shared secrets, the super digest and TLS keys are redacted', () => {
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const log = makeLogger('info', sink);
  log.info(
    {
      password: 'pw-1',
      passwd: 'pw-2',
      auth: 'user:pw-3',
      secret: 'pw-4',
      superDigest: 'super:pw-5',
      tls: { privateKey: 'pw-6', sharedSecret: 'pw-7' },
      key: 'someFutureSetting',
    },
    'hello',
  );
  const line = JSON.parse(out) as Record<string, unknown>;
  assert.doesNotMatch(out, /pw-\d/);
  assert.equal(line.password, '[redacted]');
  assert.deepEqual(line.tls, { privateKey: '[redacted]', sharedSecret: '[redacted]' });
  // Config key names are not secrets: the unknown-key warning names them.
  assert.equal(line.key, 'someFutureSetting');
});
