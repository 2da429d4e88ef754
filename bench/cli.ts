// `zkensemble bench`: command-line front end of the benchmarks: the suite (bench/suite/), ensembles
// by topology (bench/ensemble.ts) and standalone servers (bench/run.ts).

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ENSEMBLE_TARGETS, type EnsembleTarget, parseTopologies } from './cluster.ts';
import { type EnsembleBenchOptions, renderEnsembleMarkdown, runEnsembleBenchmark } from './ensemble.ts';
import { type LoadSettings, WORKLOADS, type Workload } from './loadgen.ts';
import { type BenchOptions, renderMarkdown, runBenchmark, type Target } from './run.ts';
import { readSuiteReport, writeSuiteReport } from './suite/output.ts';
import { fullPlan, onlyWorkloads, smokePlan } from './suite/plan.ts';
import { runSuite } from './suite/runner.ts';
import { type SuitePlan, WORKLOAD_IDS, type WorkloadId } from './suite/types.ts';

const USAGE = `usage: zkensemble bench [options]

suite mode (bench/suite/): workloads W1 W3 W4 W5 W6 W7 W9 W10 on the peer and ZooKeeper
  --suite NAME        full (about 45 minutes on 2 cores; docs/benchmarks.md) or smoke (toy sizes)
  --out-dir DIR       write DIR/benchmarks.md, DIR/benchmarks/report.json and DIR/benchmarks/*.svg
                      (default: the Markdown on stdout only)
  --only LIST         run only these workloads, e.g. W4,W6
  --rounds N          rounds of the throughput and latency cells (full: 3)
  --scenario-rounds N rounds of the W7, W9, W10 cells (full: 2)
  --notes FILE        Markdown to include in the report as its findings
  --render JSON       re-render a report.json written before (with --out-dir and --notes), run nothing
  --zk-heap, --quiet-wait, --cpu-prof DIR   as below

standalone mode (bench/run.ts):
  --target LIST       servers to start and compare: zookeeper, peer, stub (default zookeeper,peer)
                      stub is a do-nothing server that measures the load generator's own ceiling
  --connect HOST:PORT load an already running server instead of starting any
  --workload LIST     ${WORKLOADS.join(', ')} (default setData,getData)
  --connections N     connections (sessions) (default 32)
  --inflight N        requests in flight per connection (default 16)
  --value-size N      bytes per znode value (default 100)
  --warmup S          seconds of warm-up per run, not measured (default 2)
  --duration S        seconds measured per run (default 10)
  --rounds N          rounds; each round runs every workload on every target in turn (default 3)
  --config K=V        extra zoo.cfg line for started servers (repeatable)
  --out FILE          write the JSON report there

ensemble mode (bench/ensemble.ts): a fresh loopback ensemble per topology, target and round
  --topologies LIST   e.g. 3+0,3+2,5+0 (voters+observers); clients connect to the voters only
                      (targets peer, zookeeper; defaults: --workload setData --warmup 3 --duration 8)
  --zk-heap SIZE      -Xmx of each ZooKeeper JVM (default 512m)
  --form-timeout S    give up on an ensemble not formed within S seconds (default 60)
  --quiet-wait S      before each ensemble, wait up to S seconds for the machine to be idle (default 10)
  --cpu-prof DIR      run the peer members with --cpu-prof; leader profiles land in DIR
`;

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
}

function seconds(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt * 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number of seconds, got ${v}`);
  return Math.round(n * 1000);
}

type Parsed =
  | (BenchOptions & { out?: string; ensemble?: undefined; suite?: undefined })
  | { ensemble: EnsembleArgs; suite?: undefined }
  | { suite: SuiteArgs; ensemble?: undefined };

export interface SuiteArgs {
  plan: SuitePlan | null;
  outDir?: string;
  notes?: string;
  render?: string;
  cpuProfDir?: string;
}
type EnsembleArgs = EnsembleBenchOptions & { out?: string };
type Values = Record<string, string | string[] | boolean | undefined>;

function parseConfig(values: Values): Record<string, string> {
  const config: Record<string, string> = {};
  for (const kv of (values.config as string[] | undefined) ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--config wants KEY=VALUE, got ${kv}`);
    config[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return config;
}

/** The load settings both modes read (their warm-up and duration defaults differ), and --out. */
function loadArgs(
  values: Values,
  defaultWorkloads: string,
  defaultSeconds: { warmup: number; duration: number },
): LoadSettings & { out?: string } {
  const str = (k: string) => values[k] as string | undefined;
  const workloads = (str('workload') ?? defaultWorkloads).split(',').map((s) => s.trim());
  for (const w of workloads) {
    if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload ${w}`);
  }
  return {
    workloads: workloads as Workload[],
    connections: positiveInt('connections', str('connections'), 32),
    inflight: positiveInt('inflight', str('inflight'), 16),
    valueSize: positiveInt('value-size', str('value-size'), 100),
    warmupMs: seconds('warmup', str('warmup'), defaultSeconds.warmup),
    durationMs: seconds('duration', str('duration'), defaultSeconds.duration),
    rounds: positiveInt('rounds', str('rounds'), 3),
    config: parseConfig(values),
    out: str('out'),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

function parseEnsembleArgs(values: Values): EnsembleArgs {
  const str = (k: string) => values[k] as string | undefined;
  if (str('connect') !== undefined) throw new Error('--connect cannot be used with --topologies');
  const targets = (str('target') ?? 'peer,zookeeper').split(',').map((s) => s.trim());
  for (const t of targets) {
    if (!(ENSEMBLE_TARGETS as readonly string[]).includes(t))
      throw new Error(`--topologies runs ${ENSEMBLE_TARGETS.join(' and ')}, not ${t}`);
  }
  const heap = str('zk-heap') ?? '512m';
  if (!/^\d+[kmgKMG]?$/.test(heap)) throw new Error(`--zk-heap wants a JVM size such as 256m, got ${heap}`);
  return {
    topologies: parseTopologies(str('topologies')!),
    targets: [...new Set(targets)] as EnsembleTarget[],
    ...loadArgs(values, 'setData', { warmup: 3, duration: 8 }),
    zkHeap: heap,
    formTimeoutMs: seconds('form-timeout', str('form-timeout'), 60),
    quietWaitMs: seconds('quiet-wait', str('quiet-wait'), 10),
    quietCores: 0.25,
    cpuProfDir: str('cpu-prof'),
  };
}

function parseSuiteArgs(values: Values): SuiteArgs {
  const str = (k: string) => values[k] as string | undefined;
  for (const k of [
    'connect',
    'topologies',
    'workload',
    'connections',
    'inflight',
    'value-size',
    'warmup',
    'duration',
    'target',
  ])
    if (values[k] !== undefined) throw new Error(`--${k} does not apply to --suite`);
  const render = str('render');
  if (render !== undefined) {
    if (str('suite') !== undefined) throw new Error('--render re-renders a report: no --suite with it');
    return { plan: null, render, outDir: str('out-dir'), notes: str('notes') };
  }
  const name = str('suite')!;
  if (name !== 'full' && name !== 'smoke') throw new Error(`--suite is full or smoke, not ${name}`);
  let plan = name === 'full' ? fullPlan() : smokePlan();
  const only = str('only');
  if (only !== undefined) {
    const ids = only.split(',').map((s) => s.trim().toUpperCase());
    for (const id of ids)
      if (!(WORKLOAD_IDS as readonly string[]).includes(id))
        throw new Error(`--only: unknown workload ${id} (${WORKLOAD_IDS.join(', ')})`);
    plan = onlyWorkloads(plan, ids as WorkloadId[]);
  }
  plan.rounds = positiveInt('rounds', str('rounds'), plan.rounds);
  plan.scenarioRounds = positiveInt(
    'scenario-rounds',
    str('scenario-rounds'),
    Math.min(plan.scenarioRounds, plan.rounds),
  );
  const heap = str('zk-heap');
  if (heap !== undefined && !/^\d+[kmgKMG]?$/.test(heap))
    throw new Error(`--zk-heap wants a JVM size such as 256m, got ${heap}`);
  plan.params = {
    ...plan.params,
    zkHeap: heap ?? plan.params.zkHeap,
    quietWaitMs: seconds('quiet-wait', str('quiet-wait'), plan.params.quietWaitMs / 1000),
    config: { ...plan.params.config, ...parseConfig(values) },
  };
  return { plan, outDir: str('out-dir'), notes: str('notes'), cpuProfDir: str('cpu-prof') };
}

export function parseBenchArgs(argv: string[]): Parsed | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      connect: { type: 'string' },
      workload: { type: 'string' },
      connections: { type: 'string' },
      inflight: { type: 'string' },
      'value-size': { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      config: { type: 'string', multiple: true },
      out: { type: 'string' },
      topologies: { type: 'string' },
      'zk-heap': { type: 'string' },
      'form-timeout': { type: 'string' },
      'cpu-prof': { type: 'string' },
      'quiet-wait': { type: 'string' },
      suite: { type: 'string' },
      'out-dir': { type: 'string' },
      only: { type: 'string' },
      'scenario-rounds': { type: 'string' },
      notes: { type: 'string' },
      render: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  if (values.suite !== undefined || values.render !== undefined) return { suite: parseSuiteArgs(values) };
  for (const k of ['out-dir', 'only', 'scenario-rounds', 'notes'] as const) {
    if (values[k] !== undefined) throw new Error(`--${k} needs --suite`);
  }
  if (values.topologies !== undefined) return { ensemble: parseEnsembleArgs(values) };
  for (const k of ['zk-heap', 'form-timeout', 'cpu-prof', 'quiet-wait'] as const) {
    if (values[k] !== undefined) throw new Error(`--${k} needs --topologies`);
  }
  const targets = (values.target ?? 'zookeeper,peer').split(',').map((s) => s.trim());
  for (const t of targets) {
    if (t !== 'zookeeper' && t !== 'peer' && t !== 'stub') throw new Error(`unknown target ${t}`);
  }
  let connect: BenchOptions['connect'];
  if (values.connect !== undefined) {
    const m = /^(.+):(\d+)$/.exec(values.connect);
    if (!m) throw new Error(`--connect wants HOST:PORT, got ${values.connect}`);
    connect = { host: m[1]!, port: Number(m[2]) };
  }
  return {
    targets: targets as Target[],
    connect,
    ...loadArgs(values, 'setData,getData', { warmup: 2, duration: 10 }),
  };
}

/** Entry point for `zkensemble bench ARGS`; returns the exit code. */
export async function runBench(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parseBenchArgs>;
  try {
    opts = parseBenchArgs(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!opts) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (opts.suite) return runSuiteCommand(opts.suite, argv);
  if (opts.ensemble) {
    const { out, ...bench } = opts.ensemble;
    const report = await runEnsembleBenchmark(bench);
    writeReports(renderEnsembleMarkdown(report), report, out);
    return report.cells.some((c) => !c.ok) ? 1 : 0;
  }
  const { out, ensemble: _e, suite: _s, ...bench } = opts;
  const report = await runBenchmark(bench);
  writeReports(renderMarkdown(report), report, out);
  return 0;
}

async function runSuiteCommand(args: SuiteArgs, argv: string[]): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const notes = args.notes ? readFileSync(args.notes, 'utf8') : undefined;
  const report = args.plan
    ? await runSuite({
        plan: args.plan,
        log,
        cpuProfDir: args.cpuProfDir,
        command: `bin/zkensemble bench ${argv.join(' ')}`,
      })
    : readSuiteReport(args.render!);
  const { markdown, files } = writeSuiteReport(report, args.outDir, notes);
  if (files.length) log(`written: ${files.join(', ')}`);
  else process.stdout.write(markdown);
  const failed = report.cells.some((c) => !c.ok) || report.measurements.some((m) => !m.ok);
  return failed ? 1 : 0;
}

/** Markdown on stdout; the JSON report into `out` when given. */
function writeReports(markdown: string, report: unknown, out: string | undefined): void {
  process.stdout.write(markdown);
  if (!out) return;
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`JSON report written to ${out}\n`);
}

// Allows `node bench/cli.ts ARGS` before the subcommand is wired into bin/zkensemble.
if (import.meta.main) process.exitCode = await runBench(process.argv.slice(2));
