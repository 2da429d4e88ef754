// The ZkEnsemble CRD and the rendered objects against a real API server (e2e/lib/k8s-testenv.ts):
// the CRD is accepted (structural, CEL rules compile within the cost budget), the server's defaults
// are the ones operator/api/defaults.ts applies, invalid specs are refused with their messages, and
// every rendered object passes strict server-side apply and gets running pods from kwok.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withDefaults } from '../operator/api/defaults.ts';
import type { ZkEnsemble, ZkEnsembleSpecInput } from '../operator/api/types.generated.ts';
import { renderEnsemble } from '../operator/render/ensemble.ts';
import { desiredMembers } from '../operator/render/members.ts';
import { type ControlPlane, startControlPlane, waitReadyReplicas } from './lib/k8s-testenv.ts';
import { installCrd } from './lib/operator-env.ts';

const NS = 'zke';
const SETTINGS = { image: 'zkensemble:test' };

const ensemble = (name: string, spec?: ZkEnsembleSpecInput) => ({
  apiVersion: 'zkensemble.dev/v1alpha1',
  kind: 'ZkEnsemble',
  metadata: { name, namespace: NS },
  ...(spec ? { spec } : {}),
});

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

describe('ZkEnsemble API on a real API server', { timeout: 400_000 }, () => {
  let cp: ControlPlane;
  const apply = (obj: unknown) => cp.tryKubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
  const get = async (name: string): Promise<ZkEnsemble> =>
    JSON.parse(await cp.kubectl(['-n', NS, 'get', 'zke', name, '-o', 'json']));

  before(async () => {
    cp = await startControlPlane();
    await installCrd(cp);
    await cp.kubectl(['create', 'namespace', NS]);
  });
  after(() => cp?.stop());

  test('the server fills in the same defaults as withDefaults', async () => {
    const full: ZkEnsembleSpecInput = {
      voters: { replicas: 5, storage: { storageClassName: 'ssd' } },
      observers: {
        regions: [
          { name: 'eu-west', replicas: 2 },
          { name: 'us', autoscaling: { maxReplicas: 6, cpuUtilization: 60 } },
        ],
      },
      zooCfg: { tickTime: 1000, maxClientCnxns: '100' },
      metrics: { serviceMonitor: { enabled: true, labels: { release: 'prom' } } },
      security: {
        quorumTLS: { generateCA: true },
        sharedSecret: { secretName: 's' },
        learnerAllowList: ['10.0.0.0/8'],
      },
      podDisruptionBudget: { maxUnavailable: 2 },
    };
    for (const [name, spec] of [
      ['bare', undefined],
      ['full', full],
    ] as const) {
      const r = await apply(ensemble(name, spec));
      assert.equal(r.code, 0, r.stderr);
      const stored = await get(name);
      assert.deepEqual(
        sortKeys(stored.spec),
        sortKeys(withDefaults(ensemble(name, spec) as never).spec),
        name,
      );
    }
  });

  test('invalid specs are refused with the rule that says why', async () => {
    const cases: [string, ZkEnsembleSpecInput, RegExp][] = [
      ['even', { voters: { replicas: 4 } }, /voters.replicas must be odd/],
      ['nine', { voters: { replicas: 9 } }, /less than or equal to 7/],
      ['dup', { observers: { regions: [{ name: 'eu' }, { name: 'eu' }] } }, /names must be unique/],
      ['upper', { observers: { regions: [{ name: 'EU' }] } }, /DNS-1123 label/],
      ['reserved', { observers: { regions: [{ name: 'client' }] } }, /must not be "client"/],
      [
        'minmax',
        {
          observers: {
            regions: [{ name: 'eu', autoscaling: { minReplicas: 3, maxReplicas: 2, cpuUtilization: 5 } }],
          },
        },
        /minReplicas must not exceed maxReplicas/,
      ],
      [
        'notarget',
        { observers: { regions: [{ name: 'eu', autoscaling: { maxReplicas: 2 } }] } },
        /needs a target/,
      ],
      ['owned', { zooCfg: { tickTime: 100, dataDir: '/x' } }, /zooCfg key dataDir is set by the operator/],
      ['owned2', { zooCfg: { 'zookeeper.server.1': 'x:1:2' } }, /zooCfg key zookeeper.server.1 is set/],
      [
        'tls',
        { security: { quorumTLS: { secretName: 's', generateCA: true } } },
        /exactly one of secretName/,
      ],
      ['pdb', { podDisruptionBudget: { maxUnavailable: 2 } }, /maxUnavailable must not exceed/],
      ['size', { voters: { storage: { size: 'big' } } }, /spec.voters.storage.size/],
      ['a-name-much-longer-than-thirty-chars', {}, /DNS-1035 label of at most 30/],
    ];
    for (const [name, spec, message] of cases) {
      const r = await apply(ensemble(name, spec));
      assert.notEqual(r.code, 0, `${name} was accepted`);
      assert.match(r.stderr, message, name);
    }
  });

  test('the storage class cannot change; status and printer columns work', async () => {
    const r = await apply(
      ensemble('full', { voters: { replicas: 5, storage: { storageClassName: 'other' } } }),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /storageClassName cannot change/);
    const status = {
      voters: '5/5',
      observers: '2/3',
      leader: 'full-voter-2',
      readyVoters: 5,
      conditions: [
        {
          type: 'Available',
          status: 'True',
          reason: 'Quorum',
          message: 'ok',
          lastTransitionTime: '2025-01-01T00:00:00Z',
        },
      ],
      members: [{ sid: 1, pod: 'full-voter-0', role: 'voter' }],
      configVersion: '100000000',
    };
    await cp.kubectl([
      '-n',
      NS,
      'patch',
      'zke',
      'full',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);
    const table = await cp.kubectl(['-n', NS, 'get', 'zke', 'full']);
    assert.match(table, /NAME\s+VOTERS\s+OBSERVERS\s+LEADER\s+AVAILABLE\s+AGE/);
    assert.match(table, /full\s+5\/5\s+2\/3\s+full-voter-2\s+True/);
  });

  test('rendered objects pass strict server-side apply, re-apply is a no-op, pods run', async () => {
    // Pre-provisioned volumes for the voters (the test cluster has no storage provisioner).
    for (let i = 0; i < 3; i++) {
      await cp.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: `zke-pv${i}` },
          spec: {
            capacity: { storage: '10Gi' },
            accessModes: ['ReadWriteOnce'],
            hostPath: { path: `/tmp/zke-pv${i}` },
            storageClassName: '',
          },
        }),
      });
    }
    const spec: ZkEnsembleSpecInput = {
      voters: { storage: { storageClassName: '' } },
      // The fake node has no region label: place the observers anywhere.
      observers: { regions: [{ name: 'eu', replicas: 2, scheduling: { nodeSelector: {} } }] },
      metrics: { serviceMonitor: { enabled: true } },
    };
    assert.equal((await apply(ensemble('zk', spec))).code, 0);
    const e = await get('zk');
    const objects = renderEnsemble({
      ensemble: e,
      settings: SETTINGS,
      membership: { members: desiredMembers(e, SETTINGS, []) },
    });
    const ssa = (o: object) =>
      cp.tryKubectl(
        ['apply', '--server-side', '--field-manager=zkensemble-operator', '--validate=strict', '-f', '-'],
        {
          input: JSON.stringify(o),
        },
      );
    // No Prometheus operator CRDs here: the ServiceMonitor is checked by the unit tests only.
    const applicable = objects.filter((o) => o.kind !== 'ServiceMonitor');
    for (const o of applicable) {
      const r = await ssa(o);
      assert.equal(r.code, 0, `${o.kind}/${o.metadata.name}: ${r.stderr}`);
    }
    const generation = () =>
      cp.kubectl(['-n', NS, 'get', 'sts', 'zk-voter', '-o', 'jsonpath={.metadata.generation}']);
    const before = await generation();
    for (const o of applicable) assert.equal((await ssa(o)).code, 0);
    assert.equal(await generation(), before, 'a second apply of the same objects changes nothing');

    await waitReadyReplicas(cp, NS, 'sts/zk-voter', 3);
    await waitReadyReplicas(cp, NS, 'deploy/zk-observer-eu', 2);
    const slices = await cp.kubectl([
      '-n',
      NS,
      'get',
      'endpointslices',
      '-l',
      'kubernetes.io/service-name=zk-voters',
      '-o',
      'jsonpath={.items[*].endpoints[*].hostname}',
    ]);
    assert.deepEqual(
      slices.split(' ').sort(),
      ['zk-voter-0', 'zk-voter-1', 'zk-voter-2'],
      'voters have DNS names',
    );
  });
});
