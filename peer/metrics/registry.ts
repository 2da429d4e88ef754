// Prometheus metrics for one server: ZooKeeper's metric names (zk-protocol.md §7: raw names, counters
// without `_total`, a null gauge as 0) and zkensemble_* series for what ZooKeeper does not export
// (replication lag, learner masters, per-learner queues, refused learner and election
// connections). Every value is read from live state when scraped (collect callbacks); nothing is
// counted twice. Every series carries the labels role, region and ensemble; role is re-read on
// each scrape, so it moves with failovers.

import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import { counterValues, type MonitorValues, monitorValues, processInfo } from '../admin/monitor.ts';
import { isReady, type LearnerInfo, type RoleStatus, replicationLag } from '../admin/status.ts';
import { SERVER_VERSION } from '../admin/version.ts';
import type { Tally } from '../server/stats.ts';
import { REFUSAL_REASONS, type RefusalReason } from './refusal-reason.ts';

export interface MetricLabels {
  region: string;
  ensemble: string;
}

/** ZooKeeper gauges exported from mntr's values (leader-only ones are 0 elsewhere, as ZooKeeper's). */
export const ZK_GAUGES = [
  'avg_latency',
  'max_latency',
  'min_latency',
  'packets_received',
  'packets_sent',
  'num_alive_connections',
  'outstanding_requests',
  'uptime',
  'znode_count',
  'watch_count',
  'ephemerals_count',
  'approximate_data_size',
  'global_sessions',
  'local_sessions',
  'open_file_descriptor_count',
  'max_file_descriptor_count',
  'connection_drop_probability',
  'outstanding_tls_handshake',
  'auth_failed_count',
  'quorum_size',
  'learners',
  'synced_followers',
  'synced_non_voting_followers',
  'synced_observers',
  'leader_uptime',
  'last_proposal_size',
  'min_proposal_size',
  'max_proposal_size',
] as const;

/** ZooKeeper summaries, exported with _count and _sum (no quantiles are kept). */
export const ZK_SUMMARIES = {
  election_time: (s: RoleStatus) => s.stats.electionTime,
  follower_sync_time: (s: RoleStatus) => s.stats.followerSyncTime,
  observer_sync_time: (s: RoleStatus) => s.stats.observerSyncTime,
  propagation_latency: (s: RoleStatus) => s.stats.propagation,
  dbinittime: (s: RoleStatus) => s.stats.dbInitTime,
} as const;

/** A summary read from a Tally at scrape time: prom-client's Summary can only be fed observations. */
class TallySummary {
  readonly name: string;
  readonly help: string;
  readonly type = 'summary';
  readonly aggregator = 'sum';
  private readonly read: () => Tally;

  constructor(name: string, help: string, read: () => Tally) {
    this.name = name;
    this.help = help;
    this.read = read;
  }

  get() {
    const t = this.read();
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [
        { metricName: `${this.name}_sum`, labels: {}, value: t.sum },
        { metricName: `${this.name}_count`, labels: {}, value: t.count },
      ],
    };
  }

  reset(): void {}
}

export interface PeerMetricsOptions {
  /** process_* and nodejs_* series (prom-client's default metrics). */
  processMetrics?: boolean;
}

export class PeerMetrics {
  readonly registry = new Registry();
  private readonly status: RoleStatus;
  private readonly labels: MetricLabels;
  /** mntr's values, computed once per scrape and read by every gauge. */
  private values: MonitorValues | null = null;

  constructor(status: RoleStatus, labels: MetricLabels, opts: PeerMetricsOptions = {}) {
    this.status = status;
    this.labels = labels;
    const registers = [this.registry];
    const value = (name: string): number => {
      const v = this.values?.[name];
      return typeof v === 'number' ? v : 0;
    };
    for (const name of ZK_GAUGES) {
      new Gauge({
        name,
        help: name,
        registers,
        collect() {
          this.set(value(name));
        },
      });
    }
    // ZooKeeper counters: ServerMetrics names, no `_total` (its simpleclient 0.9 exporter adds none).
    for (const name of Object.keys(counterValues(status.stats)) as (keyof ReturnType<
      typeof counterValues
    >)[]) {
      const read = (): number => counterValues(status.stats)[name];
      new Counter({
        name,
        help: name,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    }
    for (const [name, read] of Object.entries(ZK_SUMMARIES))
      this.registry.registerMetric(new TallySummary(name, name, () => read(status)) as unknown as Metric);
    this.ownMetrics(registers);
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  private ownMetrics(registers: Registry[]): void {
    const status = this.status;
    new Gauge({
      name: 'observer_master_id',
      help: 'sid of the learner master an observer syncs from; -1 elsewhere',
      registers,
      collect() {
        const v = status.view();
        this.set(v?.mode === 'observer' ? (v.master()?.sid ?? -1) : -1);
      },
    });
    new Gauge({
      name: 'zkensemble_info',
      help: 'Constant 1, labelled with the server id and version',
      labelNames: ['server_id', 'version'],
      registers,
      collect() {
        this.reset();
        this.set({ server_id: String(status.sid), version: SERVER_VERSION }, 1);
      },
    });
    new Gauge({
      name: 'zkensemble_ready',
      help: '1 while serving clients and (in an ensemble) synced with an established leader',
      registers,
      collect() {
        this.set(isReady(status) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'zkensemble_last_processed_zxid',
      help: 'zxid of the last txn applied to the data tree',
      registers,
      collect() {
        this.set(status.server()?.lastProcessedZxid ?? status.stats.lastAppliedZxid);
      },
    });
    const learnerLag = () => {
      const v = status.view();
      return v && v.mode !== 'leader' ? replicationLag(status.stats, Date.now()) : { txns: 0, ms: 0 };
    };
    new Gauge({
      name: 'zkensemble_learner_lag_txns',
      help: 'Txns the leader has that this follower or observer has not applied (0 on the leader)',
      registers,
      collect() {
        this.set(learnerLag().txns);
      },
    });
    new Gauge({
      name: 'zkensemble_learner_lag_ms',
      help: 'How long this follower or observer has been behind its leader, in ms (0 when caught up)',
      registers,
      collect() {
        this.set(learnerLag().ms);
      },
    });
    new Gauge({
      name: 'zkensemble_learner_master',
      help: 'Constant 1 on a follower or observer, labelled with the master it is synced to',
      labelNames: ['master_sid', 'master_address'],
      registers,
      collect() {
        this.reset();
        const m = status.view()?.master();
        if (m) this.set({ master_sid: String(m.sid), master_address: m.address }, 1);
      },
    });
    new Gauge({
      name: 'zkensemble_learner_master_rtt_seconds',
      help: 'Observer with observer masters: round trip to its master, measured when it chose it',
      labelNames: ['master_sid', 'master_address'],
      registers,
      collect() {
        this.reset();
        const m = status.view()?.master();
        if (m?.rttMs !== undefined)
          this.set({ master_sid: String(m.sid), master_address: m.address }, m.rttMs / 1000);
      },
    });
    const perLearner = (name: string, help: string, read: (l: LearnerInfo) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['learner_sid', 'learner_type'],
        registers,
        collect() {
          this.reset();
          for (const l of learnersOf(status))
            this.set({ learner_sid: String(l.sid ?? 'unknown'), learner_type: l.kind }, read(l));
        },
      });
    perLearner(
      'zkensemble_learner_queued_bytes',
      'Leader (or observer master) side: bytes queued for a learner and not yet taken by its socket',
      (l) => l.queuedBytes,
    );
    perLearner(
      'zkensemble_learner_synced',
      'Leader (or observer master) side: 1 once a learner got UPTODATE',
      (l) => (l.synced ? 1 : 0),
    );
    const refusals = (name: string, help: string, counts: ReadonlyMap<RefusalReason, number>) =>
      new Counter({
        name,
        help,
        labelNames: ['reason'],
        registers,
        collect() {
          this.reset();
          // Every reason is exported, 0 until it happens, so rates and alerts see the series.
          for (const reason of REFUSAL_REASONS) this.inc({ reason }, counts.get(reason) ?? 0);
        },
      });
    refusals(
      'zkensemble_learner_connections_refused_total',
      'Leader (or observer master) side: learner connections refused, by reason',
      status.stats.learnersRefused,
    );
    refusals(
      'zkensemble_election_connections_refused_total',
      'Election-port connections refused (allow-list, quorum TLS), by reason',
      status.stats.electionsRefused,
    );
    new Counter({
      name: 'zkensemble_learner_connections_admitted_total',
      help: 'Leader (or observer master) side: learner connections admitted',
      registers,
      collect() {
        this.reset();
        this.inc(status.stats.learnersAdmitted);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition, with the role as it is now. */
  async render(): Promise<string> {
    this.values = monitorValues(this.status, Date.now(), processInfo());
    this.registry.setDefaultLabels({ role: this.status.role(), ...this.labels });
    try {
      return await this.registry.metrics();
    } finally {
      this.values = null;
    }
  }
}

function learnersOf(status: RoleStatus): LearnerInfo[] {
  return status.view()?.learners() ?? [];
}
