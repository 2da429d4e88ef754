import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensembleKey, splitHostPort } from './manager.ts';

test('events map to the ensemble they concern', () => {
  const meta = (name: string, labels?: Record<string, string>) => ({
    metadata: { name, namespace: 'prod', ...(labels ? { labels } : {}) },
  });
  assert.equal(ensembleKey('ZkEnsemble', meta('zk')), 'prod/zk');
  assert.equal(
    ensembleKey('Pod', meta('zk-observer-east-abc', { 'app.kubernetes.io/instance': 'zk' })),
    'prod/zk',
  );
  assert.equal(ensembleKey('Deployment', meta('unrelated')), undefined);
  assert.equal(ensembleKey('ZkEnsemble', { metadata: { name: 'zk' } }), undefined);
});

test('listen addresses', () => {
  assert.deepEqual(splitHostPort('127.0.0.1:8081'), ['127.0.0.1', 8081]);
  assert.deepEqual(splitHostPort('[::1]:0'), ['::1', 0]);
  assert.throws(() => splitHostPort('localhost'));
  assert.throws(() => splitHostPort('127.0.0.1:99999'));
});
