// The Helm chart (charts/zkensemble-operator) with a real helm (built by e2e/k8s/build-testenv.sh): lint and
// its values schema, the rendered objects — RBAC exactly operator/manifests.ts's rules, so the two cannot
// drift — then `helm install` into a real control plane (e2e/lib/k8s-testenv.ts). Pods do not really run
// under kwok, so the operator runs here as a process with the token of the chart's ServiceAccount: that it
// reconciles the chart's example proves the chart's RBAC is enough.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { CHART_CRD_PATH, CRD_PATH } from '../operator/api/generate.ts';
import { renderOperatorManifests } from '../operator/manifests.ts';
import { type ControlPlane, startControlPlane, testenvBinDir } from './lib/k8s-testenv.ts';
import { OP_NS, type OperatorProcess, startOperator, stopOperator } from './lib/operator-env.ts';
import { REPO_ROOT } from './lib/servers.ts';
import { until } from './lib/wait.ts';

const CHART = join(REPO_ROOT, 'charts', 'zkensemble-operator');
const EXAMPLE = join(CHART, 'examples', 'two-regions.yaml');
const HELM = join(testenvBinDir(), 'helm');
const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
const RELEASE = 'zke';
const FULLNAME = 'zke-zkensemble-operator';

// Helm's cache, config and data go to a temp dir, not $HOME.
const helmHome = mkdtempSync(join(tmpdir(), 'zke-helm-'));
after(() => rmSync(helmHome, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function helm(args: string[]): Promise<Run> {
  if (!existsSync(HELM))
    throw new Error(
      `helm missing at ${HELM}: build it with e2e/k8s/build-testenv.sh (see e2e/k8s/README.md)`,
    );
  const env = {
    ...process.env,
    KUBECONFIG: '',
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  return new Promise((resolve) => {
    execFile(HELM, args, { env, timeout: 180_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args);
  assert.equal(r.code, 0, `helm ${args.join(' ')}:\n${r.stderr}`);
  return r.stdout;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML of many kinds, checked field by field
type Obj = any;

/** `helm template` of the chart in OP_NS, parsed. */
async function render(...args: string[]): Promise<Obj[]> {
  const out = await helmOk(['template', RELEASE, CHART, '--namespace', OP_NS, ...args]);
  return parseAllDocuments(out)
    .map((d) => d.toJS())
    .filter((o) => o);
}

const only = (objects: Obj[], kind: string): Obj => {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}, got ${found.length}`);
  return found[0];
};

const reference = renderOperatorManifests({ namespace: OP_NS, image: `zkensemble:${VERSION}` });
const refContainer = only(reference, 'Deployment').spec.template.spec.containers[0];

describe('the chart, rendered offline', () => {
  test('helm lint passes; the values schema rejects a wrong type and an unknown key', async () => {
    const lint = await helm(['lint', '--strict', CHART]);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
    assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);

    const badType = join(helmHome, 'bad-type.yaml');
    writeFileSync(badType, 'replicas: two\nmetrics:\n  port: "8081"\n');
    const r1 = await helm(['lint', CHART, '-f', badType]);
    assert.notEqual(r1.code, 0, 'a string where an integer belongs must fail lint');
    assert.match(r1.stdout + r1.stderr, /replicas.*integer|integer.*replicas|\/replicas/s);
    assert.match(r1.stdout + r1.stderr, /metrics\/port/);

    const r2 = await helm(['template', RELEASE, CHART, '--set', 'metrics.serviceMonitor.enabeld=true']);
    assert.notEqual(r2.code, 0, 'a misspelt key must fail');
    assert.match(r2.stderr, /enabeld/);
  });

  test('Chart.yaml carries the package version; its crds/ copy is crds/, byte for byte', () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.appVersion, VERSION);
    // operator/api/generate.test.ts checks that both are what the schema generates now.
    const chartCrd = readFileSync(join(REPO_ROOT, CHART_CRD_PATH), 'utf8');
    assert.ok(
      chartCrd === readFileSync(join(REPO_ROOT, CRD_PATH), 'utf8'),
      'run node operator/api/generate.ts',
    );
  });

  test('the default objects: RBAC exactly as operator/manifests.ts, the Deployment like its', async () => {
    const objects = await render();
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'Deployment',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    assert.ok(!objects.some((o) => o.kind === 'CustomResourceDefinition'), 'crds/ is never templated');
    for (const o of objects.filter((x) => x.kind !== 'ClusterRole' && x.kind !== 'ClusterRoleBinding'))
      assert.equal(o.metadata.namespace, OP_NS, `${o.kind} in the release namespace`);

    // RBAC: the same rules, in the same order, bound to the chart's ServiceAccount.
    assert.deepEqual(only(objects, 'ClusterRole').rules, only(reference, 'ClusterRole').rules);
    assert.deepEqual(only(objects, 'Role').rules, only(reference, 'Role').rules);
    const sa = only(objects, 'ServiceAccount').metadata.name;
    assert.equal(sa, FULLNAME);
    for (const [binding, role] of [
      ['ClusterRoleBinding', 'ClusterRole'],
      ['RoleBinding', 'Role'],
    ] as const) {
      const b = only(objects, binding);
      assert.deepEqual(b.roleRef, {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: role,
        name: only(objects, role).metadata.name,
      });
      assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: sa, namespace: OP_NS }]);
    }

    const d = only(objects, 'Deployment');
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(d.spec.replicas, only(reference, 'Deployment').spec.replicas);
    assert.equal(pod.serviceAccountName, sa);
    assert.equal(c.image, `zkensemble:${VERSION}`);
    assert.deepEqual(c.args.slice(0, 3), refContainer.args);
    assert.deepEqual(c.livenessProbe, refContainer.livenessProbe);
    assert.deepEqual(c.readinessProbe, refContainer.readinessProbe);
    assert.deepEqual(c.resources, refContainer.resources);
    assert.deepEqual(c.securityContext, refContainer.securityContext);
    assert.deepEqual(
      c.ports.map((p: Obj) => [p.name, p.containerPort]),
      refContainer.ports.map((p: Obj) => [p.name, p.containerPort]),
    );
    for (const e of refContainer.env)
      assert.deepEqual(
        c.env.find((x: Obj) => x.name === e.name),
        e,
      );
    assert.deepEqual(
      c.env.find((x: Obj) => x.name === 'LOG_LEVEL'),
      { name: 'LOG_LEVEL', value: 'info' },
    );
    const refPodSecurity = only(reference, 'Deployment').spec.template.spec.securityContext;
    assert.deepEqual(
      { ...pod.securityContext, runAsUser: undefined, runAsGroup: undefined },
      {
        ...refPodSecurity,
        runAsUser: undefined,
        runAsGroup: undefined,
      },
    );
    assert.equal(pod.securityContext.runAsUser, 1000, 'the image’s numeric user');
    const podLabels = d.spec.template.metadata.labels;
    assert.deepEqual(pick(podLabels, d.spec.selector.matchLabels), d.spec.selector.matchLabels);

    // The metrics Service reaches the pods' http port.
    const svc = only(objects, 'Service');
    assert.deepEqual(pick(podLabels, svc.spec.selector), svc.spec.selector);
    assert.deepEqual(svc.spec.ports, [{ name: 'http', port: 8081, targetPort: 'http', protocol: 'TCP' }]);

    // The Grafana dashboard, unchanged, where the sidecar looks for it.
    const cm = only(objects, 'ConfigMap');
    assert.equal(cm.metadata.labels.grafana_dashboard, '1');
    const dashboard = readFileSync(join(CHART, 'dashboards', 'zkensemble.json'), 'utf8');
    assert.deepEqual(JSON.parse(cm.data['zkensemble.json']), JSON.parse(dashboard));
  });

  test('a ServiceMonitor only when enabled and the cluster serves monitoring.coreos.com/v1', async () => {
    const API = ['--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor'];
    const ENABLED = ['--set', 'metrics.serviceMonitor.enabled=true'];
    const kinds = async (...args: string[]) => (await render(...args)).map((o) => o.kind);
    assert.ok(!(await kinds(...API)).includes('ServiceMonitor'), 'not enabled');
    assert.ok(!(await kinds(...ENABLED)).includes('ServiceMonitor'), 'no ServiceMonitor API');
    const objects = await render(...API, ...ENABLED, '--set', 'metrics.serviceMonitor.labels.release=prom');
    const sm = only(objects, 'ServiceMonitor');
    const svc = only(objects, 'Service');
    assert.equal(sm.metadata.labels.release, 'prom');
    const selector = sm.spec.selector.matchLabels;
    assert.deepEqual(pick(svc.metadata.labels, selector), selector);
    assert.deepEqual(sm.spec.namespaceSelector, { matchNames: [OP_NS] });
    assert.deepEqual(sm.spec.endpoints, [
      { port: svc.spec.ports[0].name, path: '/metrics', interval: '30s' },
    ]);
  });

  test('values reach the Deployment; an existing ServiceAccount is bound instead of a new one', async () => {
    const objects = await render(
      ...['--set', 'watchNamespace=zk,logLevel=debug,replicas=1,resyncSeconds=60'],
      ...['--set', 'image.repository=registry.test/zkensemble,image.tag=dev,ensembleImage=peer:1'],
      ...['--set', 'serviceAccount.create=false,serviceAccount.name=ops-sa,dashboard.enabled=false'],
    );
    assert.ok(!objects.some((o) => o.kind === 'ServiceAccount' || o.kind === 'ConfigMap'));
    const d = only(objects, 'Deployment');
    const c = d.spec.template.spec.containers[0];
    assert.equal(d.spec.replicas, 1);
    assert.equal(c.image, 'registry.test/zkensemble:dev');
    assert.deepEqual(c.args, [
      'operator',
      '--listen',
      '0.0.0.0:8081',
      '--cluster-domain',
      'cluster.local',
      '--resync',
      '60',
      '--namespace',
      'zk',
    ]);
    const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
    assert.equal(env.ZKE_IMAGE, 'peer:1');
    assert.equal(env.LOG_LEVEL, 'debug');
    assert.equal(d.spec.template.spec.serviceAccountName, 'ops-sa');
    for (const b of ['ClusterRoleBinding', 'RoleBinding'])
      assert.equal(only(objects, b).subjects[0].name, 'ops-sa');

    const r = await helm(['template', RELEASE, CHART, '--set', 'serviceAccount.create=false']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /serviceAccount.name is required/);
  });
});

/** The keys of `selector` with their values in `labels`: equal to selector when the labels match it. */
function pick(labels: Record<string, string>, selector: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(selector).map((k) => [k, labels[k]]));
}

describe('helm install into a real control plane', { timeout: 180_000 }, () => {
  let cp: ControlPlane;
  let op: OperatorProcess | undefined;
  /** helm install's output, with the chart's NOTES. */
  let notes = '';

  const kubectlJson = async (args: string[]) => JSON.parse(await cp.kubectl([...args, '-o', 'json']));
  /** ns '' for cluster-scoped kinds. */
  const exists = async (ns: string, kind: string, name: string) =>
    (await cp.tryKubectl([...(ns ? ['-n', ns] : []), 'get', kind, name])).code === 0;
  /** helm's flags for the release in the control plane, as its admin. */
  let kube: string[] = [];

  before(async () => {
    cp = await startControlPlane();
    kube = ['--kubeconfig', cp.kubeconfig, '--namespace', OP_NS];
  });

  after(async () => {
    await stopOperator(op);
    await cp?.stop();
  });

  test('install: the CRD first and Established, then the operator’s objects', async () => {
    // --wait: kwok turns the Deployment's pods Ready (no container runs), so this waits for the rollout.
    const out = await helmOk([
      'install',
      RELEASE,
      CHART,
      ...kube,
      '--create-namespace',
      '--wait',
      '--timeout',
      '120s',
    ]);
    assert.match(out, /STATUS: deployed/);
    assert.match(out, /kubectl -n zk port-forward service\/zk-client 2181:2181/, 'NOTES tell how to connect');
    notes = out;
    await cp.kubectl([
      'wait',
      '--for=condition=Established',
      'crd/zkensembles.zkensemble.dev',
      '--timeout=60s',
    ]);
    const d = await kubectlJson(['-n', OP_NS, 'get', 'deployment', FULLNAME]);
    assert.equal(d.status.readyReplicas, 2);
    for (const [kind, name] of [
      ['serviceaccount', FULLNAME],
      ['role', FULLNAME],
      ['rolebinding', FULLNAME],
      ['service', `${FULLNAME}-metrics`],
      ['configmap', `${FULLNAME}-dashboard`],
    ] as const)
      assert.ok(await exists(OP_NS, kind, name), `${kind} ${name}`);
    const role = await kubectlJson(['get', 'clusterrole', FULLNAME]);
    assert.deepEqual(role.rules, only(reference, 'ClusterRole').rules);
    assert.ok(await exists('', 'clusterrolebinding', FULLNAME));
    const status = JSON.parse(await helmOk(['status', RELEASE, ...kube, '-o', 'json']));
    assert.equal(status.info.status, 'deployed');
  });

  test('the operator, as the chart’s ServiceAccount, reconciles examples/two-regions.yaml', async () => {
    const kubeconfig = await cp.serviceAccountKubeconfig(OP_NS, FULLNAME);
    op = await startOperator(kubeconfig);
    const { listen } = op;

    await cp.kubectl(['create', 'namespace', 'zk']);
    // The ensemble the NOTES show passes the CRD's validation too.
    const inline = /<<'YAML'\n([\s\S]*?)\n\s*YAML\n/.exec(notes);
    assert.ok(inline, notes);
    const indent = /^ */.exec(inline[1]!)![0].length;
    const example = inline[1]!
      .split('\n')
      .map((l) => l.slice(indent))
      .join('\n');
    await cp.kubectl(['-n', 'zk', 'apply', '--dry-run=server', '-f', '-'], { input: example });
    // Applied as a user would: the API server validates it against the chart's CRD (schema and CEL).
    await cp.kubectl(['-n', 'zk', 'apply', '-f', EXAMPLE]);
    const detail = () =>
      op!.log
        .split('\n')
        .filter((l) => /"level":(40|50|60)/.test(l))
        .slice(-10)
        .join('\n');
    const sts = await until(
      'StatefulSet zk-voter',
      45_000,
      () => kubectlJson(['-n', 'zk', 'get', 'statefulset', 'zk-voter']),
      { everyMs: 500, retryErrors: true, detail },
    );
    assert.equal(sts.spec.replicas, 3);
    for (const region of ['eu-west-1', 'us-east-1']) {
      await until(`observers of ${region}`, 30_000, async () =>
        (await exists('zk', 'deployment', `zk-observer-${region}`)) &&
        (await exists('zk', 'hpa', `zk-observer-${region}`)) &&
        (await exists('zk', 'service', `zk-${region}`))
          ? true
          : undefined,
      );
    }
    assert.ok(await exists('zk', 'service', 'zk-client'));
    await until(
      // progressing: every object applied, the workloads not all ready yet.
      'a reconcile that applied every object',
      30_000,
      async () => {
        const metrics = await (await fetch(`http://${listen}/metrics`)).text();
        return /zkensemble_operator_reconciles_total\{result="(applied|progressing)"\} [1-9]/.test(metrics);
      },
      { everyMs: 500, detail },
    );
    const denied = op.log.split('\n').filter((l) => /forbidden|\b403\b/i.test(l));
    assert.deepEqual(denied, [], 'no request of the operator was refused');
  });

  test('uninstall removes the operator and its RBAC; the CRD and the ensembles stay', async () => {
    assert.equal(await stopOperator(op), 0, op!.log.slice(-2000));
    await helmOk(['uninstall', RELEASE, ...kube, '--wait', '--timeout', '60s']);
    for (const [ns, kind, name] of [
      [OP_NS, 'deployment', FULLNAME],
      [OP_NS, 'serviceaccount', FULLNAME],
      [OP_NS, 'role', FULLNAME],
      ['', 'clusterrole', FULLNAME],
      ['', 'clusterrolebinding', FULLNAME],
    ] as const)
      assert.ok(!(await exists(ns, kind, name)), `${kind} ${name} removed`);
    assert.ok(await exists('', 'crd', 'zkensembles.zkensemble.dev'), 'Helm never deletes crds/');
    assert.ok(await exists('zk', 'zkensemble', 'zk'));
  });
});
