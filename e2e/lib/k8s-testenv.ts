// A real Kubernetes control plane for integration tests, on loopback: etcd, kube-apiserver (RBAC on),
// kube-controller-manager, kube-scheduler and kwok with one fake Node, so Deployments and StatefulSets get pods
// that turn Running/Ready without any container running. The binaries come from e2e/k8s/build-testenv.sh (a cache
// outside the repo); certificates from openssl. Every process is stopped by PID and the temp dir removed on stop().
// Pod and Service IPs are fake 10.x addresses: nothing may ever dial them.

import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import https from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../peer/ensemble/local.ts';
import { createCa, createKeyPair, issueCert } from './pki.ts';
import { isRunning, stopChild } from './process.ts';
import { until } from './wait.ts';

/** Must match the defaults in e2e/k8s/build-testenv.sh. */
export const K8S_VERSION = process.env.K8S_VERSION ?? '1.36.3';
const BUILD_SCRIPT = 'e2e/k8s/build-testenv.sh';
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok'];
const HOST = '127.0.0.1';
export const FAKE_NODE = 'kwok-node-0';
/** Client-certificate user names; the admin and the components are in system:masters. */
export const ADMIN_USER = 'testenv-admin';
const COMPONENTS = ['kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
type Component = (typeof COMPONENTS)[number];
const componentUser = (c: Component) => `testenv-${c}`;

/** Where build-testenv.sh puts the binaries for a version (also helm, for the chart tests). */
export function testenvBinDir(version = K8S_VERSION): string {
  const cache = process.env.ZKE_CACHE_DIR ?? join(homedir(), '.cache', 'zkensemble');
  return join(cache, `k8s-v${version}`);
}

export interface ControlPlaneOptions {
  /** Directory with the binaries; default testenvBinDir(). */
  binDir?: string;
  /**
   * Write an audit log (Metadata level) of the requests these users make; `[]` audits every user except the
   * control-plane components. Read it with auditRecords().
   */
  auditUsers?: string[];
  /** Bound for the whole start-up (default 240 s: generous for a loaded 2-core machine). */
  startTimeoutMs?: number;
}

export interface KubectlOptions {
  /** Default: the admin kubeconfig. */
  kubeconfig?: string;
  /** Written to kubectl's stdin (for `apply -f -`). */
  input?: string;
  /** Default 60 s. */
  timeoutMs?: number;
}

/** Objects as a multi-document stream for `kubectl apply -f -` (JSON is YAML). */
export const toYaml = (...objects: object[]) => objects.map((o) => JSON.stringify(o)).join('\n---\n');

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One audited request (an audit.k8s.io/v1 Event, reduced). */
export interface AuditRecord {
  user: string;
  verb: string;
  /** '' for the core group. */
  apiGroup: string;
  /** '' for non-resource requests (then see uri). */
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  code: number;
  uri: string;
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  server: string;
  /** Admin kubeconfig (group system:masters: bypasses RBAC). Use it for setup and assertions only. */
  kubeconfig: string;
  caFile: string;
  binDir: string;
  /** Temp dir with the PKI, kubeconfigs, etcd data and logs/<component>.log. */
  dir: string;
  /** Runs the matching kubectl; rejects with kubectl's stderr if it exits non-zero. Resolves to stdout. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<string>;
  /** Like kubectl() but resolves with the exit code and both streams (for expected failures such as 403). */
  tryKubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** A kubeconfig authenticating as an existing ServiceAccount, by a token from `kubectl create token`. */
  serviceAccountKubeconfig(namespace: string, name: string, duration?: string): Promise<string>;
  /** Requests in the audit log (needs auditUsers), optionally those of one user only. */
  auditRecords(user?: string): AuditRecord[];
  /** name → pid of every running component. */
  pids(): Record<string, number>;
  /** The end of a component's log, for failure messages. */
  logTail(name: string, lines?: number): string;
  /** Stops every process by PID (SIGTERM, then SIGKILL) and removes dir. Idempotent. */
  stop(): Promise<void>;
}

/** Waits (up to 2 min) until .status.readyReplicas of a workload (`deployment/web`, `sts/db`) reaches n. */
export async function waitReadyReplicas(
  cp: ControlPlane,
  namespace: string,
  workload: string,
  n: number,
): Promise<void> {
  await cp.kubectl(
    ['-n', namespace, 'wait', `--for=jsonpath={.status.readyReplicas}=${n}`, workload, '--timeout=120s'],
    { timeoutMs: 130_000 },
  );
}

interface Proc {
  name: string;
  child: ChildProcess;
}

/** Starts the whole control plane and waits until a pod could run on the fake node. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = opts.binDir ?? testenvBinDir();
  const missing = [...BINARIES, 'kwok-stages.yaml'].filter((b) => !existsSync(join(binDir, b)));
  if (missing.length > 0) {
    throw new Error(
      `Kubernetes test binaries missing in ${binDir}: ${missing.join(', ')}. Build them with ${BUILD_SCRIPT} ` +
        '(Go >= 1.26 and the Go module proxy; about 20 min the first time, seconds afterwards).',
    );
  }
  const deadline = Date.now() + (opts.startTimeoutMs ?? 240_000);
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'zke-k8s-'));
    const procs: Proc[] = [];
    const ports = await pickPorts();
    const cp = controlPlane(
      binDir,
      dir,
      `https://${HOST}:${ports.api}`,
      procs,
      opts.auditUsers !== undefined,
    );
    try {
      await boot(cp, ports, procs, opts, deadline);
      return cp;
    } catch (e) {
      const tails = procs.map((p) => `--- ${p.name} (last lines) ---\n${cp.logTail(p.name, 15)}`).join('\n');
      await cp.stop();
      // A port picked as free can be taken by someone else before etcd or the apiserver binds it: start over.
      if (attempt < 3 && /address already in use/.test(tails) && Date.now() < deadline) continue;
      throw new Error(`control plane did not start: ${(e as Error).message}\n${tails}`);
    }
  }
}

async function boot(
  cp: ControlPlane,
  { etcd: etcdPort, etcdPeer: etcdPeerPort, api: apiPort }: Ports,
  procs: Proc[],
  opts: ControlPlaneOptions,
  deadline: number,
): Promise<void> {
  const { binDir, dir } = cp;
  const pki = join(dir, 'pki');
  mkdirSync(pki);
  mkdirSync(join(dir, 'logs'));
  await makePki(pki);
  const bin = (b: string) => join(binDir, b);
  const start = (name: string, args: string[]) => procs.push(spawnLogged(name, bin(name), args, dir));
  const stillRunning = () => {
    const dead = procs.find((p) => !isRunning(p.child));
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode})`);
  };

  start('etcd', [
    '--name=testenv',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=http://${HOST}:${etcdPort}`,
    `--advertise-client-urls=http://${HOST}:${etcdPort}`,
    `--listen-peer-urls=http://${HOST}:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://${HOST}:${etcdPeerPort}`,
    `--initial-cluster=testenv=http://${HOST}:${etcdPeerPort}`,
    // Throw-away data: durability costs fsyncs a loaded machine cannot spare.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ]);
  await waitFor('etcd /health', deadline, async () => {
    stillRunning();
    const r = await fetch(`http://${HOST}:${etcdPort}/health`).catch(() => null);
    return r?.ok === true;
  });

  const apiArgs = [
    `--etcd-servers=http://${HOST}:${etcdPort}`,
    `--bind-address=${HOST}`,
    `--secure-port=${apiPort}`,
    // Without it the apiserver looks for a default-route interface; the endpoint reconciler would then try to
    // publish 127.0.0.1 for the `kubernetes` Service, which validation rejects.
    `--advertise-address=${HOST}`,
    '--endpoint-reconciler-type=none',
    `--cert-dir=${join(dir, 'apiserver')}`,
    `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
    `--client-ca-file=${join(pki, 'ca.crt')}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=https://${HOST}:${apiPort}`,
    `--service-account-key-file=${join(pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--profiling=false',
  ];
  if (opts.auditUsers !== undefined) {
    writeFileSync(join(dir, 'audit-policy.yaml'), renderAuditPolicy(opts.auditUsers));
    apiArgs.push(
      `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
      `--audit-log-path=${join(dir, 'logs', 'audit.log')}`,
      '--audit-log-format=json',
    );
  }
  start('kube-apiserver', apiArgs);
  // /readyz is readable anonymously and waits for the RBAC bootstrap (roles, bindings) too.
  const ca = readFileSync(join(pki, 'ca.crt'));
  await waitFor('kube-apiserver /readyz', deadline, async () => {
    stillRunning();
    return (await httpsStatus(`${cp.server}/readyz`, ca)) === 200;
  });

  writeFileSync(cp.kubeconfig, renderKubeconfig(cp.server, pemFile(pki, 'ca.crt'), clientCert(pki, 'admin')));
  for (const c of COMPONENTS) {
    writeFileSync(
      join(dir, `${c}.kubeconfig`),
      renderKubeconfig(cp.server, pemFile(pki, 'ca.crt'), clientCert(pki, c)),
    );
  }
  const kubeconfigOf = (c: Component) => `--kubeconfig=${join(dir, `${c}.kubeconfig`)}`;
  // --secure-port=0: no HTTPS endpoint at all (nothing needs their health or metrics).
  start('kube-controller-manager', [
    kubeconfigOf('kube-controller-manager'),
    `--bind-address=${HOST}`,
    '--secure-port=0',
    '--leader-elect=false',
    `--service-account-private-key-file=${join(pki, 'sa.key')}`,
    `--root-ca-file=${join(pki, 'ca.crt')}`,
  ]);
  start('kube-scheduler', [
    kubeconfigOf('kube-scheduler'),
    `--bind-address=${HOST}`,
    '--secure-port=0',
    '--leader-elect=false',
  ]);
  start('kwok', [
    kubeconfigOf('kwok'),
    `--config=${join(binDir, 'kwok-stages.yaml')}`,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    '--node-lease-duration-seconds=40',
    '--cidr=10.0.1.0/24',
    '--node-ip=10.0.0.10',
  ]);

  await cp.kubectl(['apply', '-f', '-'], { input: FAKE_NODE_MANIFEST });
  // Ready when kwok has initialised the node and the controller-manager has created the `default`
  // ServiceAccount (pods in a namespace need it to pass admission).
  await waitFor(`node ${FAKE_NODE} Ready`, deadline, async () => {
    stillRunning();
    const r = await cp.tryKubectl([
      'get',
      'node',
      FAKE_NODE,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    return r.stdout.trim() === 'True';
  });
  await waitFor('ServiceAccount default/default', deadline, async () => {
    stillRunning();
    return (await cp.tryKubectl(['-n', 'default', 'get', 'serviceaccount', 'default'])).code === 0;
  });
}

function controlPlane(
  binDir: string,
  dir: string,
  server: string,
  procs: Proc[],
  audited: boolean,
): ControlPlane {
  let stopping: Promise<void> | undefined;
  const kubeconfig = join(dir, 'admin.kubeconfig');
  const runKubectl = (args: string[], o: KubectlOptions = {}) =>
    run(join(binDir, 'kubectl'), [`--kubeconfig=${o.kubeconfig ?? kubeconfig}`, ...args], {
      input: o.input,
      timeoutMs: o.timeoutMs ?? 60_000,
      // Its discovery cache goes into the temp dir rather than $HOME/.kube.
      env: { ...process.env, KUBECONFIG: '', KUBECACHEDIR: join(dir, 'kube-cache') },
    });
  const cp: ControlPlane = {
    server,
    kubeconfig,
    caFile: join(dir, 'pki', 'ca.crt'),
    binDir,
    dir,
    tryKubectl: runKubectl,
    async kubectl(args, o) {
      const r = await runKubectl(args, o);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    async serviceAccountKubeconfig(namespace, name, duration = '6h') {
      const token = (
        await cp.kubectl(['-n', namespace, 'create', 'token', name, `--duration=${duration}`])
      ).trim();
      const file = join(dir, `sa-${namespace}-${name}.kubeconfig`);
      writeFileSync(file, renderKubeconfig(server, readFileSync(cp.caFile, 'utf8'), { token }));
      return file;
    },
    auditRecords(user) {
      if (!audited) throw new Error('auditRecords() needs startControlPlane({ auditUsers })');
      const file = join(dir, 'logs', 'audit.log');
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      return parseAuditLog(text).filter((r) => user === undefined || r.user === user);
    },
    pids() {
      return Object.fromEntries(
        procs.filter((p) => p.child.pid !== undefined).map((p) => [p.name, p.child.pid!]),
      );
    },
    logTail(name, lines = 30) {
      try {
        return readFileSync(join(dir, 'logs', `${name}.log`), 'utf8')
          .trimEnd()
          .split('\n')
          .slice(-lines)
          .join('\n');
      } catch {
        return '(no log)';
      }
    },
    stop() {
      stopping ??= (async () => {
        // Reverse start order: clients of the apiserver first, etcd last.
        for (const p of [...procs].reverse()) await stopProcess(p);
        rmSync(dir, { recursive: true, force: true });
        process.off('exit', killOnExit);
      })();
      return stopping;
    },
  };
  // A test process that exits without stop() (a cancelled hook, an uncaught error) must not leave the
  // control plane running: kill what is left, synchronously, by PID.
  const killOnExit = () => {
    for (const p of procs) if (isRunning(p.child)) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);
  return cp;
}

interface Ports {
  etcd: number;
  etcdPeer: number;
  api: number;
}

/** Different free loopback ports below the ephemeral range. */
async function pickPorts(): Promise<Ports> {
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freeLoopbackPort());
  const [etcd, etcdPeer, api] = [...ports] as [number, number, number];
  return { etcd, etcdPeer, api };
}

function spawnLogged(name: string, file: string, args: string[], dir: string): Proc {
  const fd = openSync(join(dir, 'logs', `${name}.log`), 'a');
  const env = { ...process.env };
  delete env.KUBECONFIG;
  const child = spawn(file, args, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  child.on('error', () => {}); // surfaces as a non-null exitCode / the exit event
  return { name, child };
}

async function stopProcess(p: Proc): Promise<void> {
  // A binary that failed to spawn has no pid and may never emit 'exit'.
  if (p.child.pid !== undefined) await stopChild(p.child, { graceMs: 10_000 });
}

/** Polls check until it holds, within the start-up deadline. */
async function waitFor(what: string, deadline: number, check: () => Promise<boolean>): Promise<void> {
  await until(what, Math.max(0, deadline - Date.now()), check, { everyMs: 250 });
}

function httpsStatus(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function run(
  file: string,
  args: string[],
  o: { input?: string | undefined; timeoutMs: number; env: NodeJS.ProcessEnv },
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: o.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout,
        stderr: signal ? `${stderr}killed by ${signal}` : stderr,
      });
    });
    child.stdin.end(o.input ?? '');
  });
}

// ---- PKI (openssl): one CA for serving and client certs; x509 authn maps CN -> user, O -> group ----------------

interface ClientCert {
  certPem: string;
  keyPem: string;
}

const SERVER_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' +
  'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n';
const CLIENT_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';

async function makePki(pki: string): Promise<void> {
  const ca = await createCa(pki, 'ca', 'zke-testenv-ca');
  const sign = (name: string, subject: string, ext: string) => issueCert(pki, name, { subject, ext, ca });
  await Promise.all([
    sign('apiserver', '/CN=kube-apiserver', SERVER_EXT),
    sign('admin', `/O=system:masters/CN=${ADMIN_USER}`, CLIENT_EXT),
    ...COMPONENTS.map((c) => sign(c, `/O=system:masters/CN=${componentUser(c)}`, CLIENT_EXT)),
    createKeyPair(pki, 'sa'),
  ]);
}

function pemFile(pki: string, name: string): string {
  return readFileSync(join(pki, name), 'utf8');
}

function clientCert(pki: string, name: string): ClientCert {
  return { certPem: pemFile(pki, `${name}.crt`), keyPem: pemFile(pki, `${name}.key`) };
}

// ---- pure renderers ------------------------------------------------------------------------------------------

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A kubeconfig with one cluster, user and context (JSON is valid YAML). */
export function renderKubeconfig(
  server: string,
  caPem: string,
  user: ClientCert | { token: string },
): string {
  const credentials =
    'token' in user
      ? { token: user.token }
      : { 'client-certificate-data': b64(user.certPem), 'client-key-data': b64(user.keyPem) };
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'testenv', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
      users: [{ name: 'testenv', user: credentials }],
      contexts: [{ name: 'testenv', context: { cluster: 'testenv', user: 'testenv' } }],
      'current-context': 'testenv',
    },
    null,
    2,
  )}\n`;
}

/** Metadata for the given users (or everyone but the components when none are given), nothing else. */
export function renderAuditPolicy(users: string[]): string {
  const rules =
    users.length > 0
      ? [{ level: 'Metadata', users }, { level: 'None' }]
      : [
          { level: 'None', users: [...COMPONENTS.map(componentUser), 'system:apiserver'] },
          { level: 'Metadata' },
        ];
  return `${JSON.stringify(
    { apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'], rules },
    null,
    2,
  )}\n`;
}

interface AuditEvent {
  stage?: string;
  verb?: string;
  requestURI?: string;
  user?: { username?: string };
  objectRef?: {
    apiGroup?: string;
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
  };
  responseStatus?: { code?: number };
}

/** One record per completed request (watches also log ResponseStarted; those are skipped). */
export function parseAuditLog(text: string): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // a line being written right now
    }
    if (e.stage !== 'ResponseComplete' && e.stage !== 'Panic') continue;
    out.push({
      user: e.user?.username ?? '',
      verb: e.verb ?? '',
      apiGroup: e.objectRef?.apiGroup ?? '',
      resource: e.objectRef?.resource ?? '',
      subresource: e.objectRef?.subresource ?? '',
      namespace: e.objectRef?.namespace ?? '',
      name: e.objectRef?.name ?? '',
      code: e.responseStatus?.code ?? 0,
      uri: e.requestURI ?? '',
    });
  }
  return out;
}

/** Distinct "verb group/resource[/subresource]" strings ("core" for the core group), sorted: what RBAC grants. */
export function distinctRequests(records: readonly AuditRecord[]): string[] {
  const keys = records
    .filter((r) => r.resource !== '')
    .map((r) => `${r.verb} ${r.apiGroup || 'core'}/${r.resource}${r.subresource ? `/${r.subresource}` : ''}`);
  return [...new Set(keys)].sort();
}

const FAKE_NODE_MANIFEST = `${JSON.stringify({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: FAKE_NODE,
    // kwok manages only nodes with this annotation; no taint, so ordinary pods schedule onto it.
    annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
    labels: {
      'kubernetes.io/hostname': FAKE_NODE,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      type: 'kwok',
    },
  },
  status: {
    allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
    capacity: { cpu: '32', memory: '256Gi', pods: '110' },
  },
})}\n`;
