import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  observerAutoscaler,
  observerDeployment,
  observerHeadlessService,
  regionClientService,
} from './observers.ts';
import { at, ensemble, SETTINGS, selects } from './testutil.ts';

const e = ensemble({
  observers: {
    regions: [
      { name: 'eu-west', replicas: 2 },
      { name: 'us-east', autoscaling: { minReplicas: 2, maxReplicas: 8, cpuUtilization: 70 } },
      {
        name: 'ap',
        autoscaling: { maxReplicas: 4, connectionsPerObserver: 500 },
        resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '2Gi' } },
        scheduling: { nodeSelector: { pool: 'edge' } },
      },
      { name: 'anywhere', scheduling: { nodeSelector: {} } },
    ],
  },
});
const [euWest, usEast, ap, anywhere] = e.spec.observers.regions as [
  (typeof e.spec.observers.regions)[0],
  (typeof e.spec.observers.regions)[0],
  (typeof e.spec.observers.regions)[0],
  (typeof e.spec.observers.regions)[0],
];
const dep = observerDeployment(e, SETTINGS, euWest, 'h');

test('observer Deployment: per region, replicas from the spec, surge before taking one away', () => {
  assert.equal(at(dep, 'metadata.name'), 'zk-observer-eu-west');
  assert.equal(at(dep, 'metadata.labels')['zkensemble.dev/region'], 'eu-west');
  assert.equal(at(dep, 'spec.replicas'), 2);
  assert.deepEqual(at(dep, 'spec.strategy'), {
    type: 'RollingUpdate',
    rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
  });
  assert.ok(selects(at(dep, 'spec.selector.matchLabels'), at(dep, 'spec.template.metadata.labels')));
  assert.equal(at(dep, 'spec.selector.matchLabels')['app.kubernetes.io/component'], 'observer');
  assert.equal(at(dep, 'spec.selector.matchLabels')['zkensemble.dev/region'], 'eu-west');
});

test('with autoscaling the Deployment leaves replicas to the HPA', () => {
  assert.equal(at(observerDeployment(e, SETTINGS, usEast, 'h'), 'spec.replicas'), undefined);
});

test('observer pods: region env, server id from the annotation through the downward API, emptyDir data', () => {
  const pod = at(dep, 'spec.template.spec');
  const c = pod.containers[0];
  const env = Object.fromEntries(
    c.env
      .filter((v: { value?: string }) => v.value)
      .map((v: { name: string; value: string }) => [v.name, v.value]),
  );
  assert.deepEqual(env, { ZKE_ROLE: 'observer', ZKE_REGION: 'eu-west', ZKE_ENSEMBLE: 'zk' });
  const podinfo = pod.volumes.find((v: { name: string }) => v.name === 'podinfo');
  assert.deepEqual(podinfo.downwardAPI.items, [
    { path: 'server-id', fieldRef: { fieldPath: "metadata.annotations['zkensemble.dev/server-id']" } },
  ]);
  assert.ok(
    c.volumeMounts.some(
      (m: { name: string; mountPath: string }) => m.name === 'podinfo' && m.mountPath === '/etc/podinfo',
    ),
  );
  assert.deepEqual(
    pod.volumes.find((v: { name: string }) => v.name === 'data'),
    { name: 'data', emptyDir: {} },
  );
  assert.equal(pod.terminationGracePeriodSeconds, 30);
  assert.deepEqual(c.resources, { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '512Mi' } });
});

test('placement: the region label by default, the region override otherwise, {} for none', () => {
  assert.deepEqual(at(dep, 'spec.template.spec.nodeSelector'), {
    'topology.kubernetes.io/region': 'eu-west',
  });
  const apDep = observerDeployment(e, SETTINGS, ap, 'h');
  assert.deepEqual(at(apDep, 'spec.template.spec.nodeSelector'), { pool: 'edge' });
  assert.equal(
    at(observerDeployment(e, SETTINGS, anywhere, 'h'), 'spec.template.spec.nodeSelector'),
    undefined,
  );
  assert.equal(
    at(apDep, 'spec.template.spec.containers.0.resources.requests.cpu'),
    '1',
    'region resources win',
  );
});

test("observers spread over the region's zones and hosts, softly, per ReplicaSet revision", () => {
  const spread = at(dep, 'spec.template.spec.topologySpreadConstraints');
  assert.deepEqual(
    spread.map((s: { topologyKey: string; whenUnsatisfiable: string }) => [
      s.topologyKey,
      s.whenUnsatisfiable,
    ]),
    [
      ['topology.kubernetes.io/zone', 'ScheduleAnyway'],
      ['kubernetes.io/hostname', 'ScheduleAnyway'],
    ],
  );
  for (const s of spread) {
    assert.deepEqual(s.labelSelector.matchLabels, at(dep, 'spec.selector.matchLabels'));
    assert.deepEqual(s.matchLabelKeys, ['pod-template-hash']);
  }
});

test('HPA: CPU utilization, or connections per observer as a Pods metric, scaling down gently', () => {
  assert.equal(observerAutoscaler(e, euWest), null);
  const cpu = observerAutoscaler(e, usEast)!;
  assert.equal(at(cpu, 'apiVersion'), 'autoscaling/v2');
  assert.deepEqual(at(cpu, 'spec.scaleTargetRef'), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: 'zk-observer-us-east',
  });
  assert.equal(at(cpu, 'spec.minReplicas'), 2);
  assert.equal(at(cpu, 'spec.maxReplicas'), 8);
  assert.deepEqual(at(cpu, 'spec.metrics'), [
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
  ]);
  assert.deepEqual(at(cpu, 'spec.behavior.scaleDown.policies'), [
    { type: 'Pods', value: 1, periodSeconds: 60 },
  ]);
  const conns = observerAutoscaler(e, ap)!;
  assert.equal(at(conns, 'spec.minReplicas'), 1);
  assert.deepEqual(at(conns, 'spec.metrics'), [
    {
      type: 'Pods',
      pods: {
        metric: { name: 'zookeeper_num_alive_connections' },
        target: { type: 'AverageValue', averageValue: '500' },
      },
    },
  ]);
});

test("region Services: headless for the region's members, and a client Service that prefers the client's zone", () => {
  const headless = observerHeadlessService(e, euWest);
  assert.equal(at(headless, 'metadata.name'), 'zk-observers-eu-west');
  assert.equal(at(headless, 'spec.clusterIP'), 'None');
  assert.equal(at(headless, 'spec.publishNotReadyAddresses'), true);
  assert.deepEqual(at(headless, 'spec.selector'), at(dep, 'spec.selector.matchLabels'));
  const client = regionClientService(e, SETTINGS, euWest);
  assert.equal(at(client, 'metadata.name'), 'zk-eu-west');
  assert.equal(at(client, 'spec.trafficDistribution'), 'PreferClose');
  assert.equal(at(client, 'spec.internalTrafficPolicy'), undefined);
  assert.deepEqual(at(client, 'spec.selector'), at(dep, 'spec.selector.matchLabels'));
  assert.deepEqual(at(client, 'spec.ports'), [
    { name: 'client', port: 2181, targetPort: 'client', protocol: 'TCP' },
  ]);
});
