// `zkensemble bench`: command-line front end of the benchmark (see bench/run.ts).

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WORKLOADS, type Workload } from './loadgen.ts';
import { type BenchOptions, renderMarkdown, runBenchmark, type Target } from './run.ts';

const USAGE = `usage: zkensemble bench [options]
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

export function parseBenchArgs(argv: string[]): (BenchOptions & { out?: string }) | null {
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
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  const targets = (values.target ?? 'zookeeper,peer').split(',').map((s) => s.trim());
  for (const t of targets) {
    if (t !== 'zookeeper' && t !== 'peer' && t !== 'stub') throw new Error(`unknown target ${t}`);
  }
  const workloads = (values.workload ?? 'setData,getData').split(',').map((s) => s.trim());
  for (const w of workloads) {
    if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload ${w}`);
  }
  let connect: BenchOptions['connect'];
  if (values.connect !== undefined) {
    const m = /^(.+):(\d+)$/.exec(values.connect);
    if (!m) throw new Error(`--connect wants HOST:PORT, got ${values.connect}`);
    connect = { host: m[1]!, port: Number(m[2]) };
  }
  const config: Record<string, string> = {};
  for (const kv of values.config ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--config wants KEY=VALUE, got ${kv}`);
    config[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return {
    targets: targets as Target[],
    connect,
    workloads: workloads as Workload[],
    connections: positiveInt('connections', values.connections, 32),
    inflight: positiveInt('inflight', values.inflight, 16),
    valueSize: positiveInt('value-size', values['value-size'], 100),
    warmupMs: seconds('warmup', values.warmup, 2),
    durationMs: seconds('duration', values.duration, 10),
    rounds: positiveInt('rounds', values.rounds, 3),
    config,
    out: values.out,
    log: (line) => process.stderr.write(`${line}\n`),
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
  const { out, ...bench } = opts;
  const report = await runBenchmark(bench);
  process.stdout.write(renderMarkdown(report));
  if (out) {
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`JSON report written to ${out}\n`);
  }
  return 0;
}

// Allows `node bench/cli.ts ARGS` before the subcommand is wired into bin/zkensemble.
if (import.meta.main) process.exitCode = await runBench(process.argv.slice(2));
