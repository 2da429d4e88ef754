// `zkensemble operator [--kubeconfig PATH] [--namespace NS] ...`: runs the controller in-cluster (the
// pod's service account) or from a kubeconfig. SIGTERM/SIGINT stop it cleanly and free the Lease.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { log } from '../peer/log.ts';
import { KubeClient, loadKubeConfig } from './controller/kube.ts';
import { Manager } from './controller/manager.ts';

export const OPERATOR_USAGE = `usage: zkensemble operator [options]
  --kubeconfig PATH        kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespace NS           watch ZkEnsembles in NS only (default: all namespaces)
  --lease-namespace NS     namespace of the leader-election Lease (default: $POD_NAMESPACE or the operator's own)
  --listen HOST:PORT       health and metrics server (default $ZKE_OPERATOR_LISTEN or 127.0.0.1:8081; the chart
                           passes 0.0.0.0:8081)
  --image IMAGE            image for ensembles that do not name one (default $ZKE_IMAGE)
  --cluster-domain DOMAIN  cluster DNS suffix (default cluster.local)
  --resync SECONDS         reconcile every ensemble at least this often (default 300)`;

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function ownNamespace(): string {
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  try {
    return readFileSync(SA_NAMESPACE_FILE, 'utf8').trim();
  } catch {
    return 'default';
  }
}

/** A flag's value in seconds; a typo fails at start rather than turning into NaN timers. */
export function positiveSeconds(flag: string, value: string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${flag} must be a positive number of seconds, got "${value}"`);
  return n;
}

export async function runOperator(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'lease-namespace': { type: 'string' },
      listen: { type: 'string' },
      image: { type: 'string' },
      'cluster-domain': { type: 'string' },
      resync: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(OPERATOR_USAGE);
    return;
  }
  const kc = loadKubeConfig(values.kubeconfig);
  const client = new KubeClient(kc);
  const identity = `${process.env.POD_NAME ?? hostname()}_${randomBytes(4).toString('hex')}`;
  const manager = new Manager({
    client,
    log,
    settings: {
      image: values.image ?? process.env.ZKE_IMAGE ?? 'zkensemble:latest',
      ...(values['cluster-domain'] ? { clusterDomain: values['cluster-domain'] } : {}),
    },
    ...(values.namespace ? { namespace: values.namespace } : {}),
    leaseNamespace: values['lease-namespace'] ?? ownNamespace(),
    identity,
    listen: values.listen ?? process.env.ZKE_OPERATOR_LISTEN ?? '127.0.0.1:8081',
    resyncMs: positiveSeconds('resync', values.resync, 300) * 1000,
  });
  await manager.start();
  log.info(
    { identity, listen: manager.address(), namespace: values.namespace ?? '(all)' },
    'operator started',
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void manager.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
