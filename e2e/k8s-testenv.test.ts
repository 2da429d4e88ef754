// The Kubernetes test environment the operator's integration tests run against (e2e/lib/k8s-testenv.ts): a real
// control plane on loopback whose workloads get Running/Ready pods from kwok, whose CRDs enforce CEL rules and
// whose RBAC denies what is not granted. Needs the binaries from e2e/k8s/build-testenv.sh.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  type ControlPlane,
  distinctRequests,
  FAKE_NODE,
  startControlPlane,
  waitReadyReplicas,
  toYaml as yaml,
} from './lib/k8s-testenv.ts';

const SA_NAMESPACE = 'rbac-a';
const SA_USER = `system:serviceaccount:${SA_NAMESPACE}:reader`;

/** Local addresses of the TCP listening sockets the given processes hold (from /proc; Linux). */
function listeningAddresses(pids: number[]): string[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(safeReadlink(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    }
  }
  const out: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address, state 0A = LISTEN, inode
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) out.push(decodeProcAddress(f[1]!));
    }
  }
  return out;
}

function safeReadlink(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

/** "0100007F:1F90" → "127.0.0.1:8080"; IPv6 entries are returned as raw hex. */
function decodeProcAddress(hex: string): string {
  const [addr, port] = hex.split(':') as [string, string];
  const ip =
    addr.length === 8
      ? [3, 2, 1, 0].map((i) => Number.parseInt(addr.slice(i * 2, i * 2 + 2), 16)).join('.')
      : `[${addr}]`;
  return `${ip}:${Number.parseInt(port, 16)}`;
}

/** PIDs of processes whose command line mentions dir (the control plane's temp dir). */
function processesUsing(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

describe('Kubernetes test environment', () => {
  let cp: ControlPlane;
  let startedInMs = 0;

  before(
    async () => {
      const t0 = Date.now();
      cp = await startControlPlane({ auditUsers: [SA_USER] });
      startedInMs = Date.now() - t0;
    },
    { timeout: 300_000 },
  );
  after(() => cp?.stop());

  test('every component runs and listens on 127.0.0.1 only', (t) => {
    const pids = cp.pids();
    assert.deepEqual(Object.keys(pids).sort(), [
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kwok',
    ]);
    const listening = listeningAddresses(Object.values(pids));
    assert.ok(listening.length >= 3, `etcd (client, peer) and the apiserver listen: ${listening.join(', ')}`);
    for (const a of listening) assert.match(a, /^127\.0\.0\.1:\d+$/, `listener ${a}`);
    t.diagnostic(`started in ${(startedInMs / 1000).toFixed(1)} s; listening on ${listening.join(', ')}`);
  });

  test('a Deployment and a StatefulSet get Running, Ready pods on the kwok node', {
    timeout: 180_000,
  }, async () => {
    const ns = 'workloads';
    const labels = (app: string) => ({ matchLabels: { app } });
    const pod = (app: string) => ({
      metadata: { labels: { app } },
      // Nothing pulls or runs the image: kwok only writes pod status.
      spec: { containers: [{ name: app, image: 'example.invalid/none:0' }] },
    });
    await cp.kubectl(['create', 'namespace', ns]);
    await cp.kubectl(['-n', ns, 'apply', '-f', '-'], {
      input: yaml(
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web' },
          spec: { replicas: 2, selector: labels('web'), template: pod('web') },
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'db' },
          spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 2181 }] },
        },
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name: 'db' },
          spec: { replicas: 3, serviceName: 'db', selector: labels('db'), template: pod('db') },
        },
      ),
    });
    await waitReadyReplicas(cp, ns, 'deployment/web', 2);
    await waitReadyReplicas(cp, ns, 'statefulset/db', 3);

    const pods = JSON.parse(await cp.kubectl(['-n', ns, 'get', 'pods', '-o', 'json'])) as {
      items: {
        metadata: { name: string };
        spec: { nodeName?: string };
        status: { phase?: string; conditions?: { type: string; status: string }[] };
      }[];
    };
    const names = pods.items.map((p) => p.metadata.name).sort();
    assert.equal(names.length, 5, names.join(', '));
    assert.deepEqual(
      names.filter((n) => n.startsWith('db-')),
      ['db-0', 'db-1', 'db-2'],
    );
    for (const p of pods.items) {
      assert.equal(p.spec.nodeName, FAKE_NODE, `${p.metadata.name} scheduled on the fake node`);
      assert.equal(p.status.phase, 'Running', p.metadata.name);
      assert.equal(p.status.conditions?.find((c) => c.type === 'Ready')?.status, 'True', p.metadata.name);
    }
  });

  test('a CRD with a CEL validation rule rejects an invalid object', { timeout: 120_000 }, async () => {
    await cp.kubectl(['apply', '-f', '-'], {
      input: yaml({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'widgets.smoke.zkensemble.test' },
        spec: {
          group: 'smoke.zkensemble.test',
          scope: 'Namespaced',
          names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: {
                      type: 'object',
                      required: ['min', 'max'],
                      properties: { min: { type: 'integer' }, max: { type: 'integer' } },
                      'x-kubernetes-validations': [
                        { rule: 'self.min <= self.max', message: 'min must not exceed max' },
                      ],
                    },
                  },
                },
              },
            },
          ],
        },
      }),
    });
    await cp.kubectl([
      'wait',
      '--for=condition=Established',
      'crd/widgets.smoke.zkensemble.test',
      '--timeout=60s',
    ]);
    const widget = (name: string, min: number, max: number) =>
      yaml({
        apiVersion: 'smoke.zkensemble.test/v1',
        kind: 'Widget',
        metadata: { name, namespace: 'default' },
        spec: { min, max },
      });

    await cp.kubectl(['apply', '-f', '-'], { input: widget('good', 1, 3) });
    assert.equal(
      await cp.kubectl(['-n', 'default', 'get', 'widget', 'good', '-o', 'jsonpath={.spec.max}']),
      '3',
    );
    const bad = await cp.tryKubectl(['apply', '-f', '-'], { input: widget('bad', 5, 3) });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Invalid value/);
    assert.match(bad.stderr, /min must not exceed max/);
    const absent = await cp.tryKubectl(['-n', 'default', 'get', 'widget', 'bad']);
    assert.match(absent.stderr, /NotFound/);
  });

  test('a ServiceAccount can do what its Role grants and gets 403 otherwise', {
    timeout: 120_000,
  }, async () => {
    const other = 'rbac-b';
    await cp.kubectl(['apply', '-f', '-'], {
      input: yaml(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SA_NAMESPACE } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: other } },
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader', namespace: SA_NAMESPACE } },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'configmap-reader', namespace: SA_NAMESPACE },
          rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'reader', namespace: SA_NAMESPACE },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
          subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: SA_NAMESPACE }],
        },
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'c1', namespace: SA_NAMESPACE },
          data: { a: '1' },
        },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: other }, data: { a: '2' } },
      ),
    });
    const kubeconfig = await cp.serviceAccountKubeconfig(SA_NAMESPACE, 'reader');
    const asReader = (...args: string[]) => cp.tryKubectl(args, { kubeconfig });

    const whoami = await asReader('auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}');
    assert.equal(whoami.stdout, SA_USER, whoami.stderr);
    const got = await asReader('-n', SA_NAMESPACE, 'get', 'configmap', 'c1', '-o', 'jsonpath={.data.a}');
    assert.deepEqual([got.code, got.stdout], [0, '1'], got.stderr);
    const listed = await asReader('-n', SA_NAMESPACE, 'get', 'configmaps', '-o', 'name');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /configmap\/c1/);

    const denied: [string[], RegExp][] = [
      [['-n', SA_NAMESPACE, 'create', 'configmap', 'c2'], /cannot create resource "configmaps"/],
      [['-n', SA_NAMESPACE, 'get', 'secrets'], /cannot list resource "secrets"/],
      [['-n', other, 'get', 'configmap', 'c1'], /cannot get resource "configmaps" .* namespace "rbac-b"/],
      [['get', 'nodes'], /cannot list resource "nodes" .* at the cluster scope/],
    ];
    for (const [args, reason] of denied) {
      const r = await asReader(...args);
      assert.notEqual(r.code, 0, `${args.join(' ')} must be denied`);
      assert.match(r.stderr, / is forbidden: User "system:serviceaccount:rbac-a:reader"/, args.join(' '));
      assert.match(r.stderr, reason);
    }

    // The audit log names every (verb, resource) the ServiceAccount used, and which were refused.
    const expected = [
      'create core/configmaps',
      'get core/configmaps',
      'list core/configmaps',
      'list core/nodes',
    ];
    let used: string[] = [];
    for (let i = 0; i < 40 && !expected.every((e) => used.includes(e)); i++) {
      await new Promise((r) => setTimeout(r, 250));
      used = distinctRequests(cp.auditRecords(SA_USER));
    }
    for (const e of [...expected, 'list core/secrets'])
      assert.ok(used.includes(e), `${e} in ${used.join('; ')}`);
    const refused = cp.auditRecords(SA_USER).filter((r) => r.code === 403);
    assert.deepEqual(distinctRequests(refused), [
      'create core/configmaps',
      'get core/configmaps',
      'list core/nodes',
      'list core/secrets',
    ]);
    assert.ok(
      cp.auditRecords().every((r) => r.user === SA_USER),
      'only the audited user is logged',
    );
  });

  test('stop() ends every process and removes the temp dir', { timeout: 60_000 }, async () => {
    const pids = Object.values(cp.pids());
    assert.equal(pids.length, 5);
    assert.deepEqual(processesUsing(cp.dir).sort(), [...pids].sort());
    await cp.stop();
    for (const pid of pids)
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} is gone`);
    assert.deepEqual(processesUsing(cp.dir), []);
    assert.equal(existsSync(cp.dir), false);
    await cp.stop(); // idempotent
  });
});
