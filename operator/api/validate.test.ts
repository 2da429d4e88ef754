import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ZkEnsembleSpecInput } from './types.generated.ts';
import { validateEnsemble } from './validate.ts';

const make = (spec: ZkEnsembleSpecInput, name = 'zk') => ({
  apiVersion: 'zkensemble.dev/v1alpha1' as const,
  kind: 'ZkEnsemble' as const,
  metadata: { name, namespace: 'ns' },
  spec,
});

const problems = (spec: ZkEnsembleSpecInput, name?: string) => validateEnsemble(make(spec, name));

function assertOne(spec: ZkEnsembleSpecInput, pattern: RegExp, name?: string) {
  const p = problems(spec, name);
  assert.equal(p.length, 1, `expected one problem matching ${pattern}, got ${JSON.stringify(p)}`);
  assert.match(p[0]!, pattern);
}

test('the defaults and a full, sensible spec are valid', () => {
  assert.deepEqual(problems({}), []);
  assert.deepEqual(
    problems({
      voters: { replicas: 5, storage: { size: '50Gi' } },
      observers: {
        regions: [
          { name: 'eu-west-1', replicas: 3 },
          { name: 'us-east-1', autoscaling: { minReplicas: 2, maxReplicas: 10, cpuUtilization: 70 } },
        ],
      },
      zooCfg: { tickTime: 3000, maxClientCnxns: '0', 'autopurge.purgeInterval': '6' },
      security: { learnerAllowList: ['10.0.0.0/8', 'fd00::/8'], sharedSecret: { secretName: 'zk-secret' } },
      podDisruptionBudget: { maxUnavailable: 2 },
    }),
    [],
  );
});

test('zooCfg values the peer cannot parse are reported with the key', () => {
  assertOne({ zooCfg: { tickTime: 'fast' } }, /tickTime=fast is not an integer/);
  assertOne({ zooCfg: { forceSync: 'maybe' } }, /forceSync=maybe is not a boolean/);
  assertOne(
    { zooCfg: { minSessionTimeout: 90000, maxSessionTimeout: 10000 } },
    /minSessionTimeout .* larger/,
  );
});

test('zooCfg keys the operator owns, odd keys and line breaks are refused', () => {
  assertOne({ zooCfg: { dataDir: '/elsewhere' } }, /dataDir is set by the operator/);
  assertOne({ zooCfg: { 'zookeeper.clientPort': 1 } }, /clientPort is set by the operator/);
  assertOne({ zooCfg: { 'server.9': 'evil:1:2' } }, /server\.9 is set by the operator/);
  assertOne({ zooCfg: { 'a b': 'x' } }, /not a zoo.cfg key/);
  assertOne({ zooCfg: { tickTime: '2000\nserver.9=evil:1:2' } }, /line break/);
});

test('names that cannot make DNS labels are reported', () => {
  assertOne({}, /DNS-1035 label of at most 30/, 'Zk');
  assertOne({}, /DNS-1035/, 'a-very-long-ensemble-name-over-30');
  assertOne({ observers: { regions: [{ name: 'EU' }] } }, /DNS-1123/);
  assertOne({ observers: { regions: [{ name: 'client' }] } }, /reserved/);
  assertOne({ observers: { regions: [{ name: 'observers-x' }] } }, /reserved/);
  assertOne({ observers: { regions: [{ name: 'eu' }, { name: 'eu' }] } }, /listed twice/);
});

test('voter counts, PDB and autoscaling that cannot work are reported', () => {
  assertOne({ voters: { replicas: 4 } }, /1, 3, 5 or 7/);
  assertOne({ podDisruptionBudget: { maxUnavailable: 2 } }, /take the quorum of 3 voters/);
  assertOne(
    {
      observers: {
        regions: [
          { name: 'eu', autoscaling: { minReplicas: 5, maxReplicas: 2, connectionsPerObserver: 100 } },
        ],
      },
    },
    /minReplicas is above maxReplicas/,
  );
  assertOne(
    {
      observers: {
        resources: { requests: { memory: '1Gi' } },
        regions: [{ name: 'eu', autoscaling: { maxReplicas: 3, cpuUtilization: 50 } }],
      },
    },
    /needs a CPU request/,
  );
});

test('quantities: unparsable, and requests above limits', () => {
  assertOne({ voters: { storage: { size: 'ten gigs' } } }, /not a size/);
  assertOne(
    { voters: { resources: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } } } },
    /memory request is above/,
  );
  assertOne({ voters: { resources: { requests: { cpu: 'lots' } } } }, /cpu: lots is not a quantity/);
});

test('security: bad CIDRs and an ambiguous TLS source', () => {
  assertOne(
    { security: { learnerAllowList: ['10.0.0.0/33'] } },
    /not an address or CIDR range: 10.0.0.0\/33/,
  );
  assertOne({ security: { quorumTLS: { secretName: 's', generateCA: true } } }, /exactly one/);
  assertOne({ security: { quorumTLS: {} } }, /exactly one/);
});
