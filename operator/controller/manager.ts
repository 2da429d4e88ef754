// The operator process: leader election, then watches of ZkEnsembles and of the workloads and observer
// pods they own feeding a work queue; metrics and health over HTTP from the start (a standby replica is
// healthy and ready too, it just does not reconcile).

import type { Server } from 'node:http';
import express from 'express';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Logger } from '../../peer/log.ts';
import type { EnsembleAccess } from '../membership/ensemble-access.ts';
import type { OperatorSettings } from '../render/contract.ts';
import {
  COMPONENT_LABEL,
  INSTANCE_LABEL,
  labelSelector,
  MANAGED_BY,
  MANAGED_BY_LABEL,
} from '../render/labels.ts';
import { eventRecorder } from './events.ts';
import { isConflict, type KubeClient, type KubeObj } from './kube.ts';
import { LeaderElector } from './leader.ts';
import { WorkQueue } from './queue.ts';
import { reconcile } from './reconcile.ts';
import { collectionPath, ENSEMBLES, PODS, type Resource, resourceOf } from './resources.ts';

export interface ManagerOptions {
  client: KubeClient;
  log: Logger;
  settings: OperatorSettings;
  /** Watch one namespace only; default all. */
  namespace?: string;
  /** Where the Lease lives. */
  leaseNamespace: string;
  leaseName?: string;
  identity: string;
  /** host:port of the health/metrics server. */
  listen: string;
  resyncMs?: number;
  /** How soon an ensemble still changing (membership, rolling restart) is looked at again. Default 5 s. */
  progressMs?: number;
  /** How to reach running ensembles (default: directly, as in-cluster). */
  access?: (password: string) => EnsembleAccess;
  leaseDurationSeconds?: number;
  retryPeriodMs?: number;
}

const MANAGED = labelSelector({ [MANAGED_BY_LABEL]: MANAGED_BY });
const WATCHED: { resource: Resource; labelSelector?: string }[] = [
  { resource: ENSEMBLES },
  { resource: resourceOf('apps/v1', 'StatefulSet'), labelSelector: MANAGED },
  { resource: resourceOf('apps/v1', 'Deployment'), labelSelector: MANAGED },
  {
    resource: PODS,
    labelSelector: labelSelector({ 'app.kubernetes.io/name': 'zkensemble', [COMPONENT_LABEL]: 'observer' }),
  },
];

/** The ensemble an event is about: the object itself, or the ensemble its labels name. */
export function ensembleKey(kind: string, o: KubeObj): string | undefined {
  const ns = o.metadata.namespace;
  if (!ns) return undefined;
  if (kind === 'ZkEnsemble') return `${ns}/${o.metadata.name}`;
  const owner = o.metadata.labels?.[INSTANCE_LABEL];
  return owner ? `${ns}/${owner}` : undefined;
}

export class Manager {
  readonly registry = new Registry();
  private readonly o: ManagerOptions;
  private readonly queue = new WorkQueue();
  private readonly elector: LeaderElector;
  private readonly abort = new AbortController();
  private readonly known = new Set<string>();
  private server: Server | undefined;
  private resync: NodeJS.Timeout | undefined;
  private synced = 0;
  private readonly reconciles: Counter<'result'>;
  private readonly errors: Counter;
  private readonly duration: Histogram<'result'>;

  constructor(o: ManagerOptions) {
    this.o = o;
    this.elector = new LeaderElector({
      client: o.client,
      log: o.log,
      namespace: o.leaseNamespace,
      name: o.leaseName ?? 'zkensemble-operator',
      identity: o.identity,
      ...(o.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: o.leaseDurationSeconds } : {}),
      ...(o.retryPeriodMs !== undefined ? { retryPeriodMs: o.retryPeriodMs } : {}),
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'zkensemble_operator_' });
    this.reconciles = new Counter({
      name: 'zkensemble_operator_reconciles_total',
      help: 'Reconciles by result (applied, progressing, invalid, gone, error)',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.errors = new Counter({
      name: 'zkensemble_operator_reconcile_errors_total',
      help: 'Reconciles that failed and were retried with backoff',
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'zkensemble_operator_reconcile_duration_seconds',
      help: 'Time of one reconcile',
      labelNames: ['result'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  async start(): Promise<void> {
    await this.listen();
    this.elector.run(
      () => this.lead(),
      () => {
        // Another replica owns the ensembles now; exiting (and being restarted) is the simplest way to
        // drop every watch and in-flight reconcile, as client-go's operators do.
        this.o.log.error('lost leadership: exiting');
        process.exitCode = 1;
        void this.stop().then(() => process.exit(1));
      },
    );
  }

  private lead(): void {
    const recorder = eventRecorder(this.o.client, this.o.log, this.o.identity);
    const ctx = {
      client: this.o.client,
      settings: this.o.settings,
      recorder,
      log: this.o.log,
      ...(this.o.access ? { access: this.o.access } : {}),
    };
    this.queue.start(async (key) => {
      const [ns, name] = key.split('/') as [string, string];
      const end = this.duration.startTimer();
      try {
        const result = await reconcile(ctx, ns, name);
        if (result === 'gone') this.known.delete(key);
        // Watches do not cover the ensemble's own progress (a reconfig committing, a member syncing).
        if (result === 'progressing') this.queue.addAfter(key, this.o.progressMs ?? 5000);
        this.reconciles.inc({ result });
        end({ result });
      } catch (err) {
        this.reconciles.inc({ result: 'error' });
        this.errors.inc();
        end({ result: 'error' });
        const level = isConflict(err) ? 'info' : 'warn';
        this.o.log[level]({ ensemble: key, err: (err as Error).message }, 'reconcile failed: will retry');
        throw err;
      }
    });
    for (const w of WATCHED) void this.watchLoop(w.resource, w.labelSelector);
    this.resync = setInterval(() => {
      for (const k of this.known) this.queue.add(k);
    }, this.o.resyncMs ?? 300_000);
    this.resync.unref();
  }

  /** List, then watch from the list's resourceVersion; start over after any failure or expiry. */
  private async watchLoop(resource: Resource, labelSelector?: string): Promise<void> {
    const path = collectionPath(resource, this.o.namespace);
    let first = true;
    while (!this.abort.signal.aborted) {
      try {
        const list = await this.o.client.list(path, labelSelector);
        for (const item of list.items) this.enqueue(resource.kind, item);
        if (first) {
          first = false;
          this.synced++;
        }
        const err = await this.o.client.watch(
          path,
          {
            ...(labelSelector ? { labelSelector } : {}),
            resourceVersion: list.metadata.resourceVersion ?? '',
          },
          (type, obj) => {
            if (type === 'BOOKMARK') return;
            if (type === 'ERROR') return;
            this.enqueue(resource.kind, obj);
          },
          this.abort.signal,
        );
        if (err && !this.abort.signal.aborted)
          this.o.log.debug({ kind: resource.kind, err: String(err) }, 'watch ended; listing again');
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.o.log.warn({ kind: resource.kind, err: (err as Error).message }, 'list failed; retrying');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  private enqueue(kind: string, o: KubeObj): void {
    const key = ensembleKey(kind, o);
    if (!key) return;
    if (kind === 'ZkEnsemble') this.known.add(key);
    this.queue.add(key);
  }

  private listen(): Promise<void> {
    const app = express();
    app.get('/healthz', (_req, res) => {
      res.type('text/plain').send('ok');
    });
    app.get('/readyz', (_req, res) => {
      // A follower is ready (it serves metrics and stands by); a leader once its watches have listed.
      const ready = !this.elector.isLeader || this.synced >= WATCHED.length;
      res
        .status(ready ? 200 : 503)
        .type('text/plain')
        .send(ready ? 'ok' : 'syncing');
    });
    app.get('/metrics', async (_req, res) => {
      res.type(this.registry.contentType).send(await this.registry.metrics());
    });
    const [host, port] = splitHostPort(this.o.listen);
    return new Promise((resolve, reject) => {
      const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve()));
      this.server = server;
    });
  }

  /** The address the HTTP server listens on (port 0 resolved). */
  address(): string {
    const a = this.server?.address();
    return a && typeof a === 'object' ? `${a.address}:${a.port}` : '';
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.resync) clearInterval(this.resync);
    await this.queue.stop();
    await this.elector.release();
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    }
  }
}

export function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  if (i < 0) throw new Error(`${s}: expected host:port`);
  const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(s.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${s}: bad port`);
  return [host, port];
}
