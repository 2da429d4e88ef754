// The operator's side of a test control plane (e2e/lib/k8s-testenv.ts): the ZkEnsemble CRD, the
// operator's own ServiceAccount and RBAC, and `zkensemble operator` run as a process with that
// ServiceAccount's token (kwok runs no containers), so a test also proves the RBAC is enough.

import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { CRD_PATH } from '../../operator/api/generate.ts';
import { OPERATOR_NAME, renderOperatorManifests } from '../../operator/manifests.ts';
import { type ControlPlane, toYaml } from './k8s-testenv.ts';
import { stopChild } from './process.ts';
import { REPO_ROOT } from './servers.ts';
import { until } from './wait.ts';

/** Where the operator's ServiceAccount and its leader-election Lease live. */
export const OP_NS = 'zkensemble-system';

/** Applies crds/ and waits until the API server serves ZkEnsembles. */
export async function installCrd(cp: ControlPlane): Promise<void> {
  await cp.kubectl(['apply', '--server-side', '-f', CRD_PATH]);
  await cp.kubectl([
    'wait',
    '--for=condition=Established',
    'crd/zkensembles.zkensemble.dev',
    '--timeout=60s',
  ]);
}

/**
 * Creates OP_NS with the operator's ServiceAccount and RBAC as operator/manifests.ts renders them
 * (not its Deployment), and returns a kubeconfig with that ServiceAccount's token.
 */
export async function operatorServiceAccount(cp: ControlPlane): Promise<string> {
  await cp.kubectl(['create', 'namespace', OP_NS]);
  const rbac = renderOperatorManifests({ namespace: OP_NS, image: 'zkensemble:test' }).filter(
    (o) => o.kind !== 'Deployment',
  );
  await cp.kubectl(['apply', '-f', '-'], { input: toYaml(...rbac) });
  return cp.serviceAccountKubeconfig(OP_NS, OPERATOR_NAME);
}

export interface OperatorProcess {
  child: ChildProcess;
  /** Everything it wrote so far (pino JSON lines). */
  log: string;
  /** host:port of its health and metrics server. */
  listen: string;
}

/** Stops it (SIGTERM, then SIGKILL after 10 s) and returns its exit code. */
export async function stopOperator(o: OperatorProcess | undefined): Promise<number | null> {
  if (!o) return null;
  await stopChild(o.child, { graceMs: 10_000 });
  return o.child.exitCode;
}

/**
 * `bin/zkensemble operator --kubeconfig K --lease-namespace OP_NS --listen 127.0.0.1:0 ...args`;
 * resolves once it serves HTTP. The caller stops it (stopOperator).
 */
export async function startOperator(
  kubeconfig: string,
  args: string[] = [],
  opts: { env?: Record<string, string>; onOutput?: (chunk: string) => void } = {},
): Promise<OperatorProcess> {
  const child = spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'bin', 'zkensemble'),
      'operator',
      ...['--kubeconfig', kubeconfig, '--lease-namespace', OP_NS, '--listen', '127.0.0.1:0'],
      ...args,
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env, KUBECONFIG: '' },
    },
  );
  const o: OperatorProcess = { child, log: '', listen: '' };
  const collect = (c: Buffer) => {
    o.log += c;
    opts.onOutput?.(String(c));
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  o.listen = await until(
    'operator started',
    30_000,
    () => {
      const line = o.log.split('\n').find((l) => l.includes('"operator started"'));
      return line ? (JSON.parse(line).listen as string) : undefined;
    },
    { detail: () => o.log.slice(-2000) },
  );
  return o;
}
