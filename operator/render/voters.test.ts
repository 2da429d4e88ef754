import assert from 'node:assert/strict';
import { test } from 'node:test';
import { voterMember } from './members.ts';
import { at, ensemble, SETTINGS, selects } from './testutil.ts';
import { voterHeadlessService, voterPodDisruptionBudget, voterReplicas, voterStatefulSet } from './voters.ts';

const e = ensemble({ voters: { storage: { size: '20Gi', storageClassName: 'ssd' } } });
const committed = [0, 1, 2].map((i) => voterMember(e, i, SETTINGS));
const sts = voterStatefulSet(e, SETTINGS, committed, 'hash1');

test('voter StatefulSet: parallel pods, operator-driven updates, retained volumes, headless service', () => {
  assert.equal(at(sts, 'metadata.name'), 'zk-voter');
  assert.equal(at(sts, 'spec.serviceName'), 'zk-voters');
  assert.equal(at(sts, 'spec.replicas'), 3);
  assert.equal(at(sts, 'spec.podManagementPolicy'), 'Parallel');
  assert.deepEqual(at(sts, 'spec.updateStrategy'), { type: 'OnDelete' });
  assert.deepEqual(at(sts, 'spec.persistentVolumeClaimRetentionPolicy'), {
    whenDeleted: 'Retain',
    whenScaled: 'Retain',
  });
  const pvc = at(sts, 'spec.volumeClaimTemplates.0');
  assert.equal(pvc.metadata.name, 'data');
  assert.deepEqual(pvc.spec.accessModes, ['ReadWriteOnce']);
  assert.equal(pvc.spec.resources.requests.storage, '20Gi');
  assert.equal(pvc.spec.storageClassName, 'ssd');
  assert.equal(at(sts, 'spec.template.metadata.annotations')['zkensemble.dev/config-hash'], 'hash1');
  const noClass = voterStatefulSet(
    ensemble({ voters: { storage: { storageClassName: '' } } }),
    SETTINGS,
    committed,
    'h',
  );
  assert.equal(at(noClass, 'spec.volumeClaimTemplates.0.spec.storageClassName'), '', '"" means no class');
  const defaultClass = voterStatefulSet(ensemble(), SETTINGS, committed, 'h');
  assert.ok(
    !('storageClassName' in at(defaultClass, 'spec.volumeClaimTemplates.0.spec')),
    'unset means the default',
  );
});

test('the selector picks the template pods and is made of labels that never change', () => {
  const sel = at(sts, 'spec.selector.matchLabels');
  assert.ok(selects(sel, at(sts, 'spec.template.metadata.labels')));
  assert.deepEqual(Object.keys(sel).sort(), [
    'app.kubernetes.io/component',
    'app.kubernetes.io/instance',
    'app.kubernetes.io/name',
  ]);
  const other = voterStatefulSet(
    ensemble({ voters: { replicas: 5 }, zooCfg: { tickTime: 100 } }),
    SETTINGS,
    committed,
    'hash2',
  );
  assert.deepEqual(at(other, 'spec.selector'), at(sts, 'spec.selector'));
});

test('voter container: image, args, ports, probes on the admin port, data at /data', () => {
  const c = at(sts, 'spec.template.spec.containers.0');
  assert.equal(c.image, SETTINGS.image);
  assert.deepEqual(c.args, ['peer', '--k8s', '/etc/zkensemble']);
  assert.equal(c.command, undefined, 'the image entrypoint runs');
  assert.deepEqual(
    c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
    [
      ['client', 2181],
      ['quorum', 2888],
      ['election', 3888],
      ['admin', 8080],
    ],
  );
  assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'admin', scheme: 'HTTP' });
  assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'admin', scheme: 'HTTP' });
  assert.ok(c.startupProbe.failureThreshold * c.startupProbe.periodSeconds >= 300, 'time to load a snapshot');
  assert.deepEqual(
    c.volumeMounts.map((m: { mountPath: string }) => m.mountPath),
    ['/etc/zkensemble', '/data', '/tmp'],
  );
  const env = Object.fromEntries(
    c.env.map((v: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }) => [
      v.name,
      v.value ?? v.valueFrom!.fieldRef.fieldPath,
    ]),
  );
  assert.deepEqual(env, {
    POD_NAME: 'metadata.name',
    POD_NAMESPACE: 'metadata.namespace',
    POD_IP: 'status.podIP',
    ZKE_ROLE: 'voter',
    ZKE_ENSEMBLE: 'zk',
  });
  assert.deepEqual(c.resources, { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '1Gi' } });
});

test('restricted pod security: non-root, read-only root, no capabilities, RuntimeDefault seccomp', () => {
  const pod = at(sts, 'spec.template.spec');
  const c = pod.containers[0];
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, 1000);
  assert.equal(pod.securityContext.fsGroup, 1000);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.serviceAccountName, 'zk');
  assert.equal(pod.terminationGracePeriodSeconds, 60);
});

test('voters spread across hosts (required) and zones (preferred) by default; user constraints replace them', () => {
  const spread = at(sts, 'spec.template.spec.topologySpreadConstraints');
  assert.deepEqual(
    spread.map((s: { topologyKey: string; whenUnsatisfiable: string }) => [
      s.topologyKey,
      s.whenUnsatisfiable,
    ]),
    [
      ['topology.kubernetes.io/zone', 'ScheduleAnyway'],
      ['kubernetes.io/hostname', 'DoNotSchedule'],
    ],
  );
  for (const s of spread)
    assert.ok(selects(s.labelSelector.matchLabels, at(sts, 'spec.template.metadata.labels')));
  const custom = voterStatefulSet(
    ensemble({
      voters: {
        scheduling: {
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: 'rack', whenUnsatisfiable: 'DoNotSchedule' },
          ],
          nodeSelector: { pool: 'zk' },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'zk', effect: 'NoSchedule' }],
          priorityClassName: 'critical',
        },
      },
    }),
    SETTINGS,
    committed,
    'h',
  );
  const pod = at(custom, 'spec.template.spec');
  assert.equal(pod.topologySpreadConstraints.length, 1);
  assert.equal(pod.topologySpreadConstraints[0].topologyKey, 'rack');
  assert.deepEqual(pod.topologySpreadConstraints[0].labelSelector, at(sts, 'spec.selector'));
  assert.deepEqual(pod.nodeSelector, { pool: 'zk' });
  assert.equal(pod.tolerations[0].key, 'dedicated');
  assert.equal(pod.priorityClassName, 'critical');
});

test('the StatefulSet never shrinks below a voter still in the committed membership', () => {
  const five = [0, 1, 2, 3, 4].map((i) => voterMember(e, i, SETTINGS));
  assert.equal(voterReplicas(ensemble({ voters: { replicas: 3 } }), five), 5);
  assert.equal(voterReplicas(ensemble({ voters: { replicas: 3 } }), five.slice(0, 4)), 4);
  assert.equal(voterReplicas(ensemble({ voters: { replicas: 5 } }), committed), 5, 'growth is immediate');
  assert.equal(voterReplicas(ensemble({ voters: { replicas: 3 } }), []), 3);
  assert.equal(
    voterReplicas(ensemble({ voters: { replicas: 1 } }), [{ sid: 4000, role: 'observer', host: '10.0.0.1' }]),
    1,
    'observers do not count',
  );
});

test('headless Service publishes not-ready voters, selects exactly the voter pods', () => {
  const svc = voterHeadlessService(e);
  assert.equal(at(svc, 'metadata.name'), 'zk-voters');
  assert.equal(at(svc, 'spec.clusterIP'), 'None');
  assert.equal(at(svc, 'spec.publishNotReadyAddresses'), true);
  assert.deepEqual(at(svc, 'spec.selector'), at(sts, 'spec.selector.matchLabels'));
  assert.deepEqual(
    at(svc, 'spec.ports').map((p: { name: string; port: number; targetPort: string }) => [
      p.name,
      p.port,
      p.targetPort,
    ]),
    [
      ['client', 2181, 'client'],
      ['quorum', 2888, 'quorum'],
      ['election', 3888, 'election'],
      ['admin', 8080, 'admin'],
    ],
  );
});

test('PDB: one voter at a time by default, never more than the quorum can lose, drains not blocked by sick pods', () => {
  const pdb = voterPodDisruptionBudget(e)!;
  assert.equal(at(pdb, 'apiVersion'), 'policy/v1');
  assert.equal(at(pdb, 'spec.maxUnavailable'), 1);
  assert.equal(at(pdb, 'spec.unhealthyPodEvictionPolicy'), 'AlwaysAllow');
  assert.deepEqual(at(pdb, 'spec.selector'), at(sts, 'spec.selector'));
  const five = voterPodDisruptionBudget(
    ensemble({ voters: { replicas: 5 }, podDisruptionBudget: { maxUnavailable: 2 } }),
  );
  assert.equal(at(five, 'spec.maxUnavailable'), 2);
  const clamped = voterPodDisruptionBudget(
    ensemble({ voters: { replicas: 3 }, podDisruptionBudget: { maxUnavailable: 3 } }),
  );
  assert.equal(at(clamped, 'spec.maxUnavailable'), 1);
  const single = voterPodDisruptionBudget(ensemble({ voters: { replicas: 1 } }));
  assert.equal(at(single, 'spec.maxUnavailable'), 1, 'a single voter can still be drained');
  assert.equal(voterPodDisruptionBudget(ensemble({ podDisruptionBudget: { enabled: false } })), null);
});
