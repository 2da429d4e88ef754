// The benchmark suite's vocabulary: workloads, the parameters a suite runs them with, the cells
// (one fresh ensemble of one target, in one topology, in one round) that run them, and the
// measurements they produce.

import type { Ensemble } from '../../e2e/lib/ensemble.ts';
import type { EnsembleTarget, Topology } from '../cluster.ts';
import type { Histogram } from '../histogram.ts';
import type { CpuSample, CpuWindow, Role } from '../procstat.ts';

/** The workloads of perf-anchors.md §7.2 that the suite runs. */
export const WORKLOAD_IDS = ['W1', 'W3', 'W4', 'W5', 'W6', 'W7', 'W9', 'W10'] as const;
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

export const WORKLOAD_TITLES: Record<WorkloadId, string> = {
  W1: 'W1 lat-sync-1c: single-client synchronous latency',
  W3: 'W3 sat-rw-sweep: saturation throughput by write share',
  W4: 'W4 observer-vs-follower-writes: what each added member costs writes',
  W5: 'W5 observer-read-offload: read throughput with observers',
  W6: 'W6 observer-visibility-lag: write ack to observer watch event',
  W7: 'W7 observer-resync: preload, then restart an observer (DIFF, then SNAP)',
  W9: 'W9 watch-fanout: one change, many watchers; many watches, then delete all',
  W10: 'W10 session-scale-failover: many sessions, kill -9 the leader',
};

/**
 * The W4 variant run with the voters pinned to some cores and the observers to the others, as if
 * each role had its own machine (bench/pinning.ts); the plain variant is "writes".
 */
export const OWN_CORES = 'writes, own cores';
/** OWN_CORES in the same ensemble right after it, its observers stopped: what it is compared with. */
export const OBSERVERS_STOPPED = 'writes, own cores, observers stopped';
/** OWN_CORES once more after OBSERVERS_STOPPED, the observers started again and synced. */
export const OWN_CORES_AGAIN = 'writes, own cores, observers restarted';
/**
 * The three own-cores windows again at a fixed rate (half of OWN_CORES's throughput): the voters'
 * CPU per write, which at saturation moves with the batching (and the batching with scheduling),
 * holds still at a rate the voters have room for; what the observers add to it is what they cost.
 */
export const HALF_RATE = 'writes at half rate, own cores';
export const HALF_RATE_STOPPED = 'writes at half rate, own cores, observers stopped';
export const HALF_RATE_AGAIN = 'writes at half rate, own cores, observers restarted';

export interface ClosedLoadParams {
  /** Sessions in total (W3, W4), or per server (W5). */
  connections: number;
  /** Requests in flight per session. */
  inflight: number;
  valueSize: number;
  /** Warm-up before the first measured window of a cell. */
  warmupMs: number;
  /** Warm-up before each later window (the servers are warm by then). */
  stepWarmupMs: number;
  durationMs: number;
}

export interface SuiteParams {
  /** zoo.cfg lines for every member of both targets (on top of peer/ensemble/local.ts's). */
  config: Record<string, string>;
  zkHeap: string;
  formTimeoutMs: number;
  /** Before each cell, wait up to this long for other work on the machine to drop below quietCores. */
  quietWaitMs: number;
  quietCores: number;
  /** Iterations of the fsync and loopback round-trip probes, before and after the suite. */
  probes: { fsync: number; rtt: number };
  w1: { znodes: number; sizes: number[] };
  w3: ClosedLoadParams & { writePercents: number[] };
  w4: ClosedLoadParams;
  w5: ClosedLoadParams;
  w6: { loadFraction: number; durationMs: number; valueSize: number; probeGapMs: number };
  w7: {
    preload: number;
    valueSize: number;
    diffWrites: number;
    snapWrites: number;
    /** Background load on the voters while the observer restarts. */
    bgConnections: number;
    bgInflight: number;
    /** Background load measured before the restart, and kept going after the observer serves. */
    settleMs: number;
    /**
     * After the preload, how long the members sit idle before the at-rest memory reading (the
     * first reading is taken settleMs after the last member has the preload).
     */
    restMs: number;
    syncTimeoutMs: number;
  };
  w9: {
    watchers: number[];
    writes: number;
    intervalMs: number;
    znodes: number;
    watchesPerZnode: number;
  };
  w10: {
    sessions: number[];
    timeoutMs: number;
    workers: number;
    writePercent: number;
    /** Pause of each worker between requests. */
    thinkMs: number;
    killAfterMs: number;
    /** Load kept going once every session is back, before the workers stop. */
    settleMs: number;
    recoverTimeoutMs: number;
  };
}

export interface CellPlan {
  topology: Topology;
  workloads: WorkloadId[];
  /** Matrix cells run every round; scenario cells (heavy, stateful) only the first scenarioRounds. */
  scenario: boolean;
}

export interface SuitePlan {
  name: string;
  params: SuiteParams;
  cells: CellPlan[];
  rounds: number;
  scenarioRounds: number;
  targets: EnsembleTarget[];
}

/** One number-bearing result of one workload variant, in one cell. */
export interface Measurement {
  workload: WorkloadId;
  topology: string;
  /** Which part of the workload: "w30", "follower 1024 B set", "N=1000", ... */
  variant: string;
  target: EnsembleTarget;
  round: number;
  ok: boolean;
  error?: string;
  /** Aggregated as medians over the rounds; null when not measured. */
  values: Record<string, number | null>;
  /** Latency (µs) behind p50/p99/p99.9: merged over the rounds before the percentiles are taken. */
  histogram?: Histogram;
  /** More facts for the JSON report. */
  detail?: Record<string, unknown>;
}

export type MeasurementInput = Omit<Measurement, 'target' | 'topology' | 'round' | 'ok'>;

/** What a workload sees of the cell it runs in. */
export interface CellContext {
  target: EnsembleTarget;
  topology: Topology;
  round: number;
  e: Ensemble;
  leaderSid: number;
  roles: Record<string, Role>;
  params: SuiteParams;
  log: (line: string) => void;
  /** sid → pid of every running member. */
  pids(): Map<number, number>;
  sample(): CpuSample;
  /** CPU between two samples taken with sample(). */
  between(a: CpuSample | null, b: CpuSample | null): CpuWindow;
  /** Resident memory per member sid, in MiB (anon: RssAnon, without shared mapped files). */
  rssMiB(anon?: boolean): Record<string, number | null>;
  /** The member's client address. */
  endpoint(sid: number): { host: string; port: number };
  record(m: MeasurementInput): Measurement;
  /** What earlier workloads of this cell measured. */
  measured: Measurement[];
  sidsByRole(role: Role): number[];
  /** The warm-up of a closed-loop window: the long one for the cell's first window, then the short one. */
  warmupFor(p: ClosedLoadParams): number;
}

export type WorkloadRunner = (ctx: CellContext) => Promise<void>;
