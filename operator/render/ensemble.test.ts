import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ZkEnsembleSpecInput } from '../api/types.generated.ts';
import { type Membership, renderEnsemble } from './ensemble.ts';
import { desiredMembers } from './members.ts';
import type { KubeObject } from './objects.ts';
import { at, ensemble, find, SETTINGS, selects } from './testutil.ts';

const FULL: ZkEnsembleSpecInput = {
  voters: { replicas: 5 },
  observers: {
    regions: [
      { name: 'eu-west', replicas: 2 },
      { name: 'us-east', autoscaling: { maxReplicas: 6, cpuUtilization: 60 } },
    ],
  },
  zooCfg: { tickTime: 1000, maxClientCnxns: 100 },
  metrics: { serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prom' } } },
  security: { quorumTLS: { generateCA: true }, sharedSecret: { secretName: 'zk-shared', key: 'token' } },
  image: { name: 'mirror.test/zkensemble:2.0.0', pullPolicy: 'Always', pullSecrets: [{ name: 'regcred' }] },
};

function render(spec: ZkEnsembleSpecInput = FULL, membership?: Membership): KubeObject[] {
  const e = ensemble(spec);
  return renderEnsemble({
    ensemble: e,
    settings: SETTINGS,
    membership: membership ?? { members: desiredMembers(e, SETTINGS, []) },
  });
}

const podTemplates = (objects: KubeObject[]) =>
  objects
    .filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment')
    .map((o) => at(o, 'spec.template'));

test('the object list for a full spec, in apply order', () => {
  assert.deepEqual(
    render().map((o) => `${o.kind}/${o.metadata.name}`),
    [
      'ServiceAccount/zk',
      'ConfigMap/zk-config',
      'ConfigMap/zk-dynamic',
      'Service/zk-voters',
      'Service/zk-client',
      'Service/zk-observers-eu-west',
      'Service/zk-eu-west',
      'Service/zk-observers-us-east',
      'Service/zk-us-east',
      'PodDisruptionBudget/zk-voters',
      'StatefulSet/zk-voter',
      'Deployment/zk-observer-eu-west',
      'Deployment/zk-observer-us-east',
      'HorizontalPodAutoscaler/zk-observer-us-east',
      'ServiceMonitor/zk',
    ],
  );
});

test('the defaults render voters only, with no HPA and no ServiceMonitor', () => {
  assert.deepEqual(
    render({}).map((o) => o.kind),
    ['ServiceAccount', 'ConfigMap', 'ConfigMap', 'Service', 'Service', 'PodDisruptionBudget', 'StatefulSet'],
  );
});

test('every object is in the namespace, owned by the ZkEnsemble (controller), and labelled', () => {
  for (const o of render()) {
    assert.equal(o.metadata.namespace, 'prod', o.metadata.name);
    assert.deepEqual(o.metadata.ownerReferences, [
      {
        apiVersion: 'zkensemble.dev/v1alpha1',
        kind: 'ZkEnsemble',
        name: 'zk',
        uid: '0000-1111',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    const l = o.metadata.labels!;
    assert.equal(l['app.kubernetes.io/name'], 'zkensemble');
    assert.equal(l['app.kubernetes.io/instance'], 'zk');
    assert.equal(l['app.kubernetes.io/managed-by'], 'zkensemble-operator');
    assert.ok(l['app.kubernetes.io/component']);
  }
});

test('same input, same output; key order of spec.zooCfg does not matter', () => {
  assert.deepEqual(render(), render());
  const reordered = { ...FULL, zooCfg: { maxClientCnxns: 100, tickTime: 1000 } };
  assert.deepEqual(JSON.stringify(render(reordered)), JSON.stringify(render()));
});

test('every Service selects pods of some workload, and only the ones it is meant for', () => {
  const objects = render();
  const templates = podTemplates(objects);
  const voterLabels = at(find(objects, 'StatefulSet', 'zk-voter'), 'spec.template.metadata.labels');
  const euLabels = at(find(objects, 'Deployment', 'zk-observer-eu-west'), 'spec.template.metadata.labels');
  const usLabels = at(find(objects, 'Deployment', 'zk-observer-us-east'), 'spec.template.metadata.labels');
  for (const svc of objects.filter((o) => o.kind === 'Service')) {
    const sel = at(svc, 'spec.selector');
    assert.ok(
      templates.some((t) => selects(sel, t.metadata.labels)),
      `${svc.metadata.name} selects nothing`,
    );
  }
  const picks = (name: string) =>
    [voterLabels, euLabels, usLabels].map((l) =>
      selects(at(find(objects, 'Service', name), 'spec.selector'), l),
    );
  assert.deepEqual(picks('zk-client'), [true, true, true]);
  assert.deepEqual(picks('zk-voters'), [true, false, false]);
  assert.deepEqual(picks('zk-eu-west'), [false, true, false]);
  assert.deepEqual(picks('zk-observers-us-east'), [false, false, true]);
});

test('names fit in DNS labels for the longest allowed ensemble and region names', () => {
  const name = 'a'.repeat(30);
  const e = ensemble({ observers: { regions: [{ name: 'r'.repeat(20) }] } }, name);
  const objects = renderEnsemble({
    ensemble: e,
    settings: SETTINGS,
    membership: { members: desiredMembers(e, SETTINGS, []) },
  });
  for (const o of objects) assert.ok(o.metadata.name.length <= 63, `${o.kind} ${o.metadata.name}`);
  assert.ok(
    `${name}-voter`.length <= 52,
    'StatefulSet names leave room for the controller-revision-hash label',
  );
});

test('the config volume projects both ConfigMaps, the quorum TLS and shared secrets into /etc/zkensemble', () => {
  const objects = render();
  for (const t of podTemplates(objects)) {
    const config = t.spec.volumes.find((v: { name: string }) => v.name === 'config');
    assert.equal(config.projected.defaultMode, 0o440);
    assert.deepEqual(config.projected.sources, [
      { configMap: { name: 'zk-config', items: [{ key: 'zoo.cfg', path: 'zoo.cfg' }] } },
      { configMap: { name: 'zk-dynamic', items: [{ key: 'zoo.cfg.dynamic', path: 'zoo.cfg.dynamic' }] } },
      {
        secret: {
          name: 'zk-quorum-tls',
          items: [
            { key: 'tls-combined.pem', path: 'tls/tls-combined.pem' },
            { key: 'ca.crt', path: 'tls/ca.crt' },
          ],
        },
      },
      { secret: { name: 'zk-shared', items: [{ key: 'token', path: 'secret/shared-secret' }] } },
    ]);
  }
  const user = podTemplates(render({ security: { quorumTLS: { secretName: 'mine' } } }))[0];
  const tls = user.spec.volumes[0].projected.sources[2].secret;
  assert.equal(tls.name, 'mine');
});

test('image, pull policy and pull secrets from the spec; the operator default otherwise', () => {
  for (const t of podTemplates(render())) {
    assert.equal(t.spec.containers[0].image, 'mirror.test/zkensemble:2.0.0');
    assert.equal(t.spec.containers[0].imagePullPolicy, 'Always');
    assert.deepEqual(t.spec.imagePullSecrets, [{ name: 'regcred' }]);
  }
  const t = podTemplates(render({}))[0];
  assert.equal(t.spec.containers[0].image, SETTINGS.image);
  assert.equal(t.spec.imagePullSecrets, undefined);
});

test('a zoo.cfg change changes every pod template (a rolling restart); a membership change does not', () => {
  const base = podTemplates(render());
  const changed = podTemplates(render({ ...FULL, zooCfg: { tickTime: 1500 } }));
  for (const [i, t] of base.entries())
    assert.notEqual(
      t.metadata.annotations['zkensemble.dev/config-hash'],
      changed[i].metadata.annotations['zkensemble.dev/config-hash'],
    );
  const e = ensemble(FULL);
  const grown = render(FULL, {
    members: [...desiredMembers(e, SETTINGS, []), { sid: 5000, role: 'observer', host: '10.0.0.9' }],
    version: 0x200000001,
  });
  assert.deepEqual(podTemplates(grown), base);
  assert.match(
    at(find(grown, 'ConfigMap', 'zk-dynamic'), 'data')['zoo.cfg.dynamic'],
    /server\.5000=10\.0\.0\.9.*\nversion=200000001\n$/,
  );
});

test('ServiceMonitor: scrapes /metrics on the admin port of the headless Services, role and region as labels', () => {
  const objects = render();
  const sm = find(objects, 'ServiceMonitor', 'zk');
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(sm.metadata.labels!.release, 'prom');
  assert.deepEqual(at(sm, 'spec.endpoints'), [
    { port: 'admin', path: '/metrics', scheme: 'http', interval: '15s' },
  ]);
  assert.deepEqual(at(sm, 'spec.namespaceSelector'), { matchNames: ['prod'] });
  assert.deepEqual(at(sm, 'spec.podTargetLabels'), ['app.kubernetes.io/component', 'zkensemble.dev/region']);
  const { matchLabels, matchExpressions } = at(sm, 'spec.selector');
  const scraped = objects
    .filter((o) => o.kind === 'Service')
    .filter((s) => selects(matchLabels, s.metadata.labels))
    .filter((s) =>
      matchExpressions.every((x: { key: string; values: string[] }) =>
        x.values.includes(s.metadata.labels![x.key]!),
      ),
    )
    .map((s) => s.metadata.name);
  assert.deepEqual(scraped, ['zk-voters', 'zk-observers-eu-west', 'zk-observers-us-east']);
  for (const name of scraped)
    assert.ok(
      at(find(objects, 'Service', name), 'spec.ports').some((p: { name: string }) => p.name === 'admin'),
    );
});

test('the ServiceAccount mounts no token', () => {
  assert.equal(at(find(render(), 'ServiceAccount', 'zk'), 'automountServiceAccountToken'), false);
});

test('rendering needs an ensemble read from the API (namespace and uid)', () => {
  const e = ensemble({});
  const noUid = { ...e, metadata: { name: 'zk', namespace: 'prod' } };
  assert.throws(
    () =>
      renderEnsemble({
        ensemble: noUid,
        settings: SETTINGS,
        membership: { members: desiredMembers(e, SETTINGS, []) },
      }),
    /no uid/,
  );
});
