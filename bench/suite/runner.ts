// Runs a suite plan: calibration probes, then round after round every cell on every target (the
// targets' order swapped every round), each cell a fresh ensemble that runs its workloads in turn
// and is stopped by PID whatever happens; then the aggregates, ratios and target verdicts.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import type { Ensemble } from '../../e2e/lib/ensemble.ts';
import { REPO_ROOT } from '../../e2e/lib/servers.ts';
import { type EnsembleTarget, isUp, javaVersion, runRounds, withCluster } from '../cluster.ts';
import { type HostInfo, hostInfo } from '../host.ts';
import { type ProbeResult, probeFsync, probeRtt } from '../probes.ts';
import { cpuBetween, type Role, rssBytes, sampleCpu } from '../procstat.ts';
import { runW3, runW4, runW5 } from '../workloads/throughput.ts';
import { runW1 } from '../workloads/w1-latency.ts';
import { runW6 } from '../workloads/w6-lag.ts';
import { runW7 } from '../workloads/w7-resync.ts';
import { runW9 } from '../workloads/w9-watches.ts';
import { runW10 } from '../workloads/w10-failover.ts';
import {
  type Aggregate,
  aggregate,
  judgeTargets,
  type Ratio,
  ratios,
  type TargetVerdict,
} from './aggregate.ts';
import type {
  CellContext,
  CellPlan,
  Measurement,
  SuiteParams,
  SuitePlan,
  WorkloadId,
  WorkloadRunner,
} from './types.ts';

const RUNNERS: Record<WorkloadId, WorkloadRunner> = {
  W1: runW1,
  W3: runW3,
  W4: runW4,
  W5: runW5,
  W6: runW6,
  W7: runW7,
  W9: runW9,
  W10: runW10,
};

export interface SuiteOptions {
  plan: SuitePlan;
  log: (line: string) => void;
  /** Profile the peer members (--cpu-prof); profiles land here, named by cell. */
  cpuProfDir?: string;
  /** The command line that ran the suite, for the report. */
  command?: string;
  /** Give up on a cell after this long. */
  cellTimeoutMs?: number;
}

export interface CellRun {
  target: EnsembleTarget;
  topology: string;
  round: number;
  workloads: WorkloadId[];
  ok: boolean;
  error?: string;
  formMs: number;
  leaderSid: number;
  roles: Record<string, Role>;
  /** Cores other processes used just before the cell started. */
  busyBeforeStart: number | null;
  seconds: number;
}

export interface Probes {
  fsync1k: ProbeResult;
  rtt64: ProbeResult;
}

export interface SuiteReport {
  header: {
    date: string;
    suite: string;
    command: string;
    host: HostInfo & {
      java: string;
      zookeeperPackage: string;
      /** git commit of the peer's code. */
      peerRevision: string;
      loadAverageAtStart: number[];
      loadAverageAtEnd: number[];
      dataFilesystem: string;
    };
    servers: Record<string, string>;
    probes: { start: Probes; end: Probes };
    wallSeconds: number;
    rounds: number;
    scenarioRounds: number;
    cells: Array<{ topology: string; workloads: WorkloadId[]; scenario: boolean }>;
    params: SuiteParams;
    /** Cores used by other processes during the measured windows. */
    otherWork: { meanCores: number | null; maxCores: number | null; windows: number };
  };
  cells: CellRun[];
  measurements: Array<Omit<Measurement, 'histogram'>>;
  aggregates: Aggregate[];
  ratios: Ratio[];
  targets: TargetVerdict[];
}

async function probes(n: SuiteParams['probes'], log: (l: string) => void): Promise<Probes> {
  const fsync1k = probeFsync(n.fsync);
  const rtt64 = await probeRtt(n.rtt);
  log(
    `  probes: fsync 1 KB p50 ${fsync1k.p50Us} µs p99 ${fsync1k.p99Us} µs; loopback RTT p50 ${rtt64.p50Us} µs p99 ${rtt64.p99Us} µs`,
  );
  return { fsync1k, rtt64 };
}

/** The commit the peer ran from, and whether its code had changes on top of it. */
function peerRevision(): string {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000 }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD');
  if (!head) return 'unknown';
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'peer', 'bin', 'package.json');
  return dirty ? `${head} with uncommitted changes to the peer` : head;
}

/** Debian's zookeeper package version, if dpkg knows it. */
function zookeeperPackage(): string {
  try {
    const status = readFileSync('/var/lib/dpkg/status', 'utf8');
    const m = /Package: zookeeper\n(?:[^\n]+\n)*?Version: (\S+)/.exec(status);
    return m ? `zookeeper ${m[1]} (Debian)` : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The filesystem the servers' data dirs are on (the temporary directory's mount). */
function dataFilesystem(): string {
  try {
    const dir = tmpdir();
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 2 && (dir === f[1] || dir.startsWith(f[1] === '/' ? '/' : `${f[1]}/`)))
      .sort((a, b) => b[1]!.length - a[1]!.length);
    const m = mounts[0];
    return m ? `${m[2]} on ${m[1]} (${m[0]})` : 'unknown';
  } catch {
    return 'unknown';
  }
}

function makeContext(
  plan: SuitePlan,
  target: EnsembleTarget,
  cell: CellPlan,
  round: number,
  e: Ensemble,
  leaderSid: number,
  roles: Record<string, Role>,
  sink: Measurement[],
  log: (l: string) => void,
): CellContext {
  let warmed = false;
  const measured: Measurement[] = [];
  const ctx: CellContext = {
    target,
    topology: cell.topology,
    round,
    e,
    leaderSid,
    roles,
    params: plan.params,
    log,
    measured,
    pids: () =>
      new Map(
        [...e.members.values()].filter((m) => isUp(e, m.sid)).map((m) => [m.sid, m.process!.pid!] as const),
      ),
    sample: () => sampleCpu(ctx.pids()),
    between: (a, b) => cpuBetween(ctx.roles, ctx.leaderSid, a, b, ctx.pids()),
    rssMiB: (anon = false) =>
      Object.fromEntries(
        [...e.members.values()].map((m) => {
          const b = isUp(e, m.sid) ? rssBytes(m.process!.pid!, anon) : null;
          return [m.sid, b === null ? null : Math.round((b / 2 ** 20) * 10) / 10];
        }),
      ),
    endpoint: (sid) => {
      const m = e.members.get(sid)!;
      return { host: m.host, port: m.clientPort };
    },
    record: (m) => {
      const full: Measurement = { ...m, target, topology: cell.topology.label, round, ok: true };
      measured.push(full);
      sink.push(full);
      return full;
    },
    sidsByRole: (role) =>
      Object.entries(ctx.roles)
        .filter(([, r]) => r === role)
        .map(([sid]) => Number(sid))
        .sort((a, b) => a - b),
    warmupFor: (p) => {
      const w = warmed ? p.stepWarmupMs : p.warmupMs;
      warmed = true;
      return w;
    },
  };
  return ctx;
}

async function runCell(
  opts: SuiteOptions,
  target: EnsembleTarget,
  cell: CellPlan,
  round: number,
  sink: Measurement[],
  servers: Record<string, string>,
  abandoned: { value: boolean },
): Promise<Omit<CellRun, 'busyBeforeStart' | 'seconds'>> {
  const { plan, log } = opts;
  const name = `${cell.workloads.join('-')}-${cell.topology.label}-r${round}`;
  const run: Omit<CellRun, 'busyBeforeStart' | 'seconds'> = {
    target,
    topology: cell.topology.label,
    round,
    workloads: cell.workloads,
    ok: true,
    formMs: 0,
    leaderSid: 0,
    roles: {},
  };
  const clusterOpts = {
    ...plan.params,
    profile: opts.cpuProfDir ? { dir: opts.cpuProfDir, name } : undefined,
    log,
  };
  try {
    await withCluster(target, cell.topology, clusterOpts, async (formed) => {
      const { e, leaderSid, roles } = formed;
      run.formMs = formed.formMs;
      run.leaderSid = leaderSid;
      run.roles = { ...roles };
      servers[target] = formed.version;
      const ctx = makeContext(plan, target, cell, round, e, leaderSid, roles, sink, log);
      for (const w of cell.workloads) {
        if (abandoned.value) throw new Error('abandoned after its deadline');
        log(`  ${w}...`);
        try {
          await RUNNERS[w](ctx);
        } catch (err) {
          const message = (err as Error).message;
          log(`  ${w} FAILED: ${message.split('\n')[0]}`);
          sink.push({
            workload: w,
            topology: cell.topology.label,
            variant: '(failed)',
            target,
            round,
            ok: false,
            error: message.slice(0, 2000),
            values: {},
          });
        }
        const down = [...e.members.keys()].filter((sid) => !isUp(e, sid));
        if (down.length) throw new Error(`member(s) ${down.join(',')} exited during ${w}`);
      }
      formed.leaderSid = ctx.leaderSid;
    });
  } catch (err) {
    run.ok = false;
    run.error = (err as Error).message.slice(0, 2000);
    log(`  cell FAILED: ${run.error.split('\n')[0]}`);
  }
  return run;
}

const secondsSince = (t0: number) => Math.round((performance.now() - t0) / 1000);

export async function runSuite(opts: SuiteOptions): Promise<SuiteReport> {
  const { plan, log } = opts;
  const started = performance.now();
  const loadAverageAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  log(
    `suite ${plan.name}: ${plan.cells.length} cells × ${plan.targets.length} targets, ${plan.rounds} round(s)`,
  );
  const start = await probes(plan.params.probes, log);
  const measurements: Measurement[] = [];
  const cells: CellRun[] = [];
  const servers: Record<string, string> = {};
  await runRounds(
    {
      rounds: plan.rounds,
      cells: plan.cells,
      targets: plan.targets,
      label: (cell) => `${cell.topology.label} [${cell.workloads.join(' ')}]`,
      runsIn: (cell, round) => !cell.scenario || round <= plan.scenarioRounds,
      deadlineMs: opts.cellTimeoutMs ?? 15 * 60_000,
      quietWaitMs: plan.params.quietWaitMs,
      quietCores: plan.params.quietCores,
      pauseMs: 500,
      log,
    },
    {
      run: ({ target, cell, round, abandoned }) =>
        runCell(opts, target, cell, round, measurements, servers, abandoned),
      done: ({ busyBeforeStart, startedAt }, run) =>
        cells.push({ ...run, busyBeforeStart, seconds: secondsSince(startedAt) }),
      failed: ({ target, cell, round, busyBeforeStart, startedAt }, error) =>
        cells.push({
          target,
          topology: cell.topology.label,
          round,
          workloads: cell.workloads,
          ok: false,
          error,
          formMs: 0,
          leaderSid: 0,
          roles: {},
          busyBeforeStart,
          seconds: secondsSince(startedAt),
        }),
    },
  );
  const end = await probes(plan.params.probes, log);
  const aggregates = aggregate(measurements);
  const others = measurements
    .map((m) => m.values.othersCores)
    .filter((x): x is number => typeof x === 'number');
  return {
    header: {
      date: new Date().toISOString(),
      suite: plan.name,
      command: opts.command ?? '',
      host: {
        ...hostInfo(),
        java: javaVersion(),
        zookeeperPackage: zookeeperPackage(),
        peerRevision: peerRevision(),
        loadAverageAtStart,
        loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
        dataFilesystem: dataFilesystem(),
      },
      servers,
      probes: { start, end },
      wallSeconds: Math.round((performance.now() - started) / 1000),
      rounds: plan.rounds,
      scenarioRounds: plan.scenarioRounds,
      cells: plan.cells.map((c) => ({
        topology: c.topology.label,
        workloads: c.workloads,
        scenario: c.scenario,
      })),
      params: plan.params,
      otherWork: {
        meanCores: others.length
          ? Math.round((others.reduce((a, b) => a + b, 0) / others.length) * 100) / 100
          : null,
        maxCores: others.length ? Math.round(Math.max(...others) * 100) / 100 : null,
        windows: others.length,
      },
    },
    cells,
    measurements: measurements.map(({ histogram: _h, ...m }) => m),
    aggregates,
    ratios: ratios(aggregates),
    targets: judgeTargets(aggregates),
  };
}
