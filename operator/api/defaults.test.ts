import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyDefaults, withDefaults } from './defaults.ts';
import type { Schema } from './openapi.ts';
import type { ZkEnsembleInput } from './types.generated.ts';

const bare: ZkEnsembleInput = {
  apiVersion: 'zkensemble.dev/v1alpha1',
  kind: 'ZkEnsemble',
  metadata: { name: 'zk', namespace: 'ns' },
};

test('an ensemble without spec gets the whole default spec', () => {
  const e = withDefaults(bare);
  assert.equal(e.spec.voters.replicas, 3);
  assert.equal(e.spec.voters.storage.size, '10Gi');
  assert.deepEqual(e.spec.voters.resources, {
    requests: { cpu: '500m', memory: '1Gi' },
    limits: { memory: '1Gi' },
  });
  assert.equal(e.spec.image.pullPolicy, 'IfNotPresent');
  assert.deepEqual(e.spec.observers.regions, []);
  assert.deepEqual(e.spec.zooCfg, {});
  assert.equal(e.spec.metrics.serviceMonitor.enabled, false);
  assert.equal(e.spec.metrics.serviceMonitor.interval, '30s');
  assert.deepEqual(e.spec.podDisruptionBudget, { enabled: true, maxUnavailable: 1 });
  assert.equal(e.spec.security.quorumTLS, undefined);
});

test('given values win; defaults fill in beside them and inside array items', () => {
  const input: ZkEnsembleInput = {
    ...bare,
    spec: {
      voters: { replicas: 5, storage: { storageClassName: 'fast' } },
      observers: { regions: [{ name: 'eu', autoscaling: { maxReplicas: 4, cpuUtilization: 60 } }] },
      security: { quorumTLS: { generateCA: true }, sharedSecret: { secretName: 's' } },
    },
  };
  const before = structuredClone(input);
  const e = withDefaults(input);
  assert.deepEqual(input, before, 'the input is not changed');
  assert.equal(e.spec.voters.replicas, 5);
  assert.deepEqual(e.spec.voters.storage, { storageClassName: 'fast', size: '10Gi' });
  assert.equal(e.spec.observers.regions[0]!.replicas, 1);
  assert.equal(e.spec.observers.regions[0]!.autoscaling!.minReplicas, 1);
  assert.equal(
    e.spec.observers.regions[0]!.resources,
    undefined,
    'region resources fall back at render time',
  );
  assert.equal(e.spec.security.quorumTLS!.hostnameVerification, true);
  assert.equal(e.spec.security.sharedSecret!.key, 'secret');
});

test('an object given explicitly is not merged with its default (as the API server does)', () => {
  const e = withDefaults({ ...bare, spec: { voters: { resources: { requests: { cpu: '2' } } } } });
  assert.deepEqual(e.spec.voters.resources, { requests: { cpu: '2' } });
});

test('applyDefaults defaults map values and leaves unknown fields alone', () => {
  const s: Schema = {
    type: 'object',
    properties: {
      m: {
        type: 'object',
        additionalProperties: { type: 'object', properties: { x: { type: 'integer', default: 7 } } },
      },
    },
  };
  assert.deepEqual(applyDefaults(s, { m: { a: {}, b: { x: 1 } }, other: { y: 2 } }), {
    m: { a: { x: 7 }, b: { x: 1 } },
    other: { y: 2 },
  });
});
