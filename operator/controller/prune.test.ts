import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObj } from './kube.ts';
import { objectsToPrune } from './prune.ts';

const obj = (kind: string, name: string, uid = 'u1', extra: Partial<KubeObj['metadata']> = {}): KubeObj => ({
  kind,
  metadata: {
    name,
    ownerReferences: [
      { apiVersion: 'zkensemble.dev/v1alpha1', uid, kind: 'ZkEnsemble', name: 'zk', controller: true },
    ],
    ...extra,
  },
});

test('deletes owned objects that are no longer rendered, and only those', () => {
  const existing = [
    obj('Deployment', 'zk-observer-east'),
    obj('Deployment', 'zk-observer-west'),
    obj('Service', 'zk-observer-west'), // same name, other kind: judged separately
    obj('Deployment', 'zk-observer-old', 'other-uid'), // a previous ensemble of the same name
    obj('HorizontalPodAutoscaler', 'zk-observer-west', 'u1', { deletionTimestamp: '2026-01-01T00:00:00Z' }),
  ];
  const desired = [
    { kind: 'Deployment', metadata: { name: 'zk-observer-east' } },
    { kind: 'Service', metadata: { name: 'zk-observer-west' } },
  ];
  assert.deepEqual(
    objectsToPrune(existing, desired, 'u1').map((o) => `${o.kind}/${o.metadata.name}`),
    ['Deployment/zk-observer-west'],
  );
});
