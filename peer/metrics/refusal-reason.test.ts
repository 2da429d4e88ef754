import assert from 'node:assert/strict';
import { test } from 'node:test';
import { refusalReason } from './refusal-reason.ts';

test('the refusal texts of learner-guard.ts and quorum-link.ts map to a few label values', () => {
  assert.equal(refusalReason('address not in learner.allowList'), 'allow_list');
  assert.equal(refusalReason('no valid client certificate'), 'tls_certificate');
  assert.equal(refusalReason('TLS: peer did not return a certificate'), 'tls_handshake');
  assert.equal(refusalReason('wrong shared secret'), 'shared_secret');
  assert.equal(refusalReason('learner handshake timed out'), 'handshake');
  assert.equal(refusalReason('connection closed during the learner handshake'), 'handshake');
  assert.equal(refusalReason('admission failed: boom'), 'other');
});
