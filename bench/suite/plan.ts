// The two suites: `full` (every workload at the sizes the report is made from, trimmed to fit about
// 30 minutes on a 2-core machine) and `smoke` (every workload's code path at toy sizes, for the
// tests). A cell is one fresh ensemble per target and round; the workloads of a cell run in order.

import { topology } from '../cluster.ts';
import type { CellPlan, SuiteParams, SuitePlan, WorkloadId } from './types.ts';

/** zoo.cfg lines for both targets (perf-anchors.md §7.1), on top of peer/ensemble/local.ts's. */
export const SUITE_CONFIG: Record<string, string> = {
  tickTime: '2000',
  initLimit: '10',
  syncLimit: '5',
  snapCount: '100000',
  forceSync: 'yes',
  maxClientCnxns: '0',
  'admin.enableServer': 'false',
};

const cell = (label: string, workloads: WorkloadId[], scenario = false): CellPlan => ({
  topology: topology(label),
  workloads,
  scenario,
});

const FULL_PARAMS: SuiteParams = {
  config: SUITE_CONFIG,
  zkHeap: '512m',
  formTimeoutMs: 60_000,
  quietWaitMs: 2000,
  quietCores: 0.25,
  probes: { fsync: 2000, rtt: 10_000 },
  w1: { znodes: 500, sizes: [100, 1024] },
  w3: {
    connections: 32,
    inflight: 16,
    valueSize: 1024,
    warmupMs: 2000,
    stepWarmupMs: 500,
    durationMs: 2500,
    writePercents: [0, 10, 30, 50, 80, 100],
  },
  w4: { connections: 32, inflight: 16, valueSize: 1024, warmupMs: 2000, stepWarmupMs: 500, durationMs: 3000 },
  w5: { connections: 10, inflight: 16, valueSize: 1024, warmupMs: 2000, stepWarmupMs: 500, durationMs: 3000 },
  w6: { loadFraction: 0.5, durationMs: 5000, valueSize: 1024, probeGapMs: 5 },
  w7: {
    preload: 100_000,
    valueSize: 100,
    diffWrites: 10_000,
    snapWrites: 100_000,
    bgConnections: 4,
    bgInflight: 2,
    settleMs: 1000,
    restMs: 15_000,
    syncTimeoutMs: 120_000,
  },
  w9: { watchers: [100, 1000, 10_000], writes: 5, intervalMs: 1000, znodes: 10_000, watchesPerZnode: 5 },
  w10: {
    sessions: [1000, 5000],
    timeoutMs: 30_000,
    workers: 16,
    writePercent: 30,
    thinkMs: 5,
    killAfterMs: 3000,
    settleMs: 1000,
    recoverTimeoutMs: 60_000,
  },
};

const SMOKE_PARAMS: SuiteParams = {
  ...FULL_PARAMS,
  formTimeoutMs: 30_000,
  quietWaitMs: 0,
  probes: { fsync: 100, rtt: 500 },
  w1: { znodes: 5, sizes: [100] },
  w3: {
    ...FULL_PARAMS.w3,
    connections: 4,
    inflight: 2,
    warmupMs: 200,
    stepWarmupMs: 50,
    durationMs: 300,
    writePercents: [0, 100],
  },
  w4: { ...FULL_PARAMS.w4, connections: 4, inflight: 2, warmupMs: 200, stepWarmupMs: 50, durationMs: 300 },
  w5: { ...FULL_PARAMS.w5, connections: 2, inflight: 2, warmupMs: 200, stepWarmupMs: 50, durationMs: 300 },
  w6: { ...FULL_PARAMS.w6, durationMs: 400 },
  w7: {
    ...FULL_PARAMS.w7,
    preload: 200,
    diffWrites: 10,
    snapWrites: 1500,
    bgConnections: 2,
    bgInflight: 1,
    settleMs: 200,
    restMs: 200,
    syncTimeoutMs: 30_000,
  },
  w9: { watchers: [5], writes: 2, intervalMs: 100, znodes: 20, watchesPerZnode: 2 },
  w10: {
    ...FULL_PARAMS.w10,
    sessions: [12],
    workers: 3,
    killAfterMs: 300,
    settleMs: 200,
    recoverTimeoutMs: 30_000,
  },
};

export function fullPlan(): SuitePlan {
  return {
    name: 'full',
    params: FULL_PARAMS,
    rounds: 3,
    scenarioRounds: 2,
    targets: ['peer', 'zookeeper'],
    cells: [
      cell('1+0', ['W1', 'W3']),
      cell('3+0', ['W1', 'W3', 'W4', 'W5']),
      cell('3+1', ['W1', 'W4', 'W6']),
      cell('3+2', ['W3', 'W4', 'W5']),
      cell('3+4', ['W4']),
      cell('5+0', ['W4']),
      cell('7+0', ['W4']),
      cell('3+1', ['W7'], true),
      cell('3+0', ['W9'], true),
      cell('3+1', ['W10'], true),
    ],
  };
}

/** Every workload's code path, at toy sizes, in two ensembles per target. */
export function smokePlan(): SuitePlan {
  return {
    name: 'smoke',
    params: SMOKE_PARAMS,
    rounds: 1,
    scenarioRounds: 1,
    targets: ['peer', 'zookeeper'],
    cells: [cell('1+0', ['W1', 'W3']), cell('3+1', ['W1', 'W3', 'W4', 'W5', 'W6', 'W9', 'W7', 'W10'])],
  };
}

/** The plan restricted to some workloads (cells left without any are dropped). */
export function onlyWorkloads(plan: SuitePlan, ids: readonly WorkloadId[]): SuitePlan {
  return {
    ...plan,
    cells: plan.cells
      .map((c) => ({ ...c, workloads: c.workloads.filter((w) => ids.includes(w)) }))
      .filter((c) => c.workloads.length > 0),
  };
}
