// Runs the benchmark: starts the targets (fresh data dirs, same config), runs every workload against
// each target in turn, round after round, and builds the Markdown and JSON reports.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningServer, startServer } from '../e2e/lib/servers.ts';
import { Histogram, type HistogramSummary } from './histogram.ts';
import { type HostInfo, hostInfo, serverVersion } from './host.ts';
import { type LoadResult, type LoadSettings, prepare, runLoad, type Workload } from './loadgen.ts';
import { compiledPeerBin } from './peer-build.ts';

export type Target = 'peer' | 'zookeeper' | 'stub';

export interface BenchOptions extends LoadSettings {
  /** Servers to start; ignored when connect is set. */
  targets: Target[];
  /** Load an already running server instead. */
  connect?: { host: string; port: number };
}

interface Endpoint {
  name: string;
  host: string;
  port: number;
  pid?: number;
  version: string;
  stop(): Promise<void>;
}

export interface RunRecord extends Omit<LoadResult, 'histogram'> {
  target: string;
  round: number;
}

export interface Aggregate {
  target: string;
  workload: Workload;
  rounds: number;
  /** Total replies / total measured seconds over all rounds. */
  opsPerSec: number;
  opsPerSecByRound: number[];
  errors: number;
  connectionsLost: number;
  /** From the merged histogram of all rounds. */
  latencyMs: HistogramSummary;
  serverCpuCores: number | null;
  machineCpuCores: number | null;
  loadgenCpuCores: number;
  loadgenEventLoopUtilization: number;
}

export interface Ratio {
  workload: Workload;
  throughput: number;
  p50: number;
  p99: number;
  p999: number;
}

export interface BenchReport {
  header: {
    date: string;
    host: HostInfo;
    note: string;
    options: Omit<BenchOptions, 'log'>;
    servers: Record<string, string>;
  };
  runs: RunRecord[];
  aggregates: Aggregate[];
  ratios: Ratio[];
  histograms: Record<string, Array<[number, number]>>;
}

const HERE = dirname(fileURLToPath(import.meta.url));

async function startStub(): Promise<Endpoint> {
  const proc: ChildProcess = spawn(process.execPath, [join(HERE, 'stub-server.ts'), '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await Promise.race([
    once(proc.stdout!, 'data'),
    once(proc, 'exit').then(() => {
      throw new Error('stub server exited');
    }),
  ])) as [Buffer];
  const port = Number(/listening (\d+)/.exec(line.toString())?.[1]);
  const exited = once(proc, 'exit');
  return {
    name: 'stub',
    host: '127.0.0.1',
    port,
    pid: proc.pid!,
    version: 'bench/stub-server.ts: canned replies, no tree, no disk',
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}

async function startTarget(t: Target, config: Record<string, string>): Promise<Endpoint> {
  if (t === 'stub') return startStub();
  const s: RunningServer = await startServer(
    t,
    t === 'peer' ? { config, bin: compiledPeerBin() } : { config },
  );
  return {
    name: t,
    host: s.host,
    port: s.port,
    pid: s.pid,
    version: 'unknown',
    stop: () => s.stop(),
  };
}

function aggregate(target: string, workload: Workload, runs: RunRecord[], hist: Histogram): Aggregate {
  const ops = runs.reduce((a, r) => a + r.ops, 0);
  const secs = runs.reduce((a, r) => a + r.seconds, 0);
  const avg = (f: (r: RunRecord) => number) => runs.reduce((a, r) => a + f(r), 0) / runs.length;
  const srv = runs.every((r) => r.serverCpuCores !== null) ? avg((r) => r.serverCpuCores!) : null;
  const machine = runs.every((r) => r.machineCpuCores !== null) ? avg((r) => r.machineCpuCores!) : null;
  return {
    target,
    workload,
    rounds: runs.length,
    opsPerSec: ops / secs,
    opsPerSecByRound: runs.map((r) => Math.round(r.opsPerSec)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    connectionsLost: runs.reduce((a, r) => a + r.connectionsLost, 0),
    latencyMs: hist.summary(),
    serverCpuCores: srv,
    machineCpuCores: machine,
    loadgenCpuCores: avg((r) => r.loadgenCpuCores),
    loadgenEventLoopUtilization: avg((r) => r.loadgenEventLoopUtilization),
  };
}

export async function runBenchmark(opts: BenchOptions): Promise<BenchReport> {
  const endpoints: Endpoint[] = [];
  const runs: RunRecord[] = [];
  const hists = new Map<string, Histogram>();
  try {
    if (opts.connect) {
      const { host, port } = opts.connect;
      endpoints.push({
        name: `${host}:${port}`,
        host,
        port,
        version: 'unknown',
        stop: async () => {},
      });
    } else {
      for (const t of opts.targets) {
        opts.log(`starting ${t}...`);
        endpoints.push(await startTarget(t, opts.config));
      }
    }
    // Every workload uses the same znodes: one per connection, holding a value of the configured size.
    // Once prepare() has had a session, the server is serving: ask it for its version.
    for (const ep of endpoints) {
      await prepare({ ...ep, ...loadOpts(opts, opts.workloads[0]!) });
      if (ep.name !== 'stub') ep.version = await serverVersion(ep.host, ep.port);
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const w of opts.workloads) {
        for (const ep of endpoints) {
          opts.log(`round ${round}/${opts.rounds}: ${w} on ${ep.name}...`);
          const { histogram, ...res } = await runLoad({ ...ep, ...loadOpts(opts, w), serverPid: ep.pid });
          const key = `${ep.name} ${w}`;
          hists.set(key, (hists.get(key) ?? new Histogram()).merge(histogram));
          runs.push({ target: ep.name, round, ...res });
          opts.log(
            `  ${Math.round(res.opsPerSec)} ops/s, p50 ${res.latencyMs.p50} ms, p99 ${res.latencyMs.p99} ms, ` +
              `errors ${res.errors}, CPU cores: server ${fmt(res.serverCpuCores, 2)}, loadgen ${fmt(res.loadgenCpuCores, 2)}, ` +
              `machine ${fmt(res.machineCpuCores, 2)}`,
          );
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
  } finally {
    for (const ep of endpoints) await ep.stop().catch(() => {});
  }
  const aggregates: Aggregate[] = [];
  for (const w of opts.workloads) {
    for (const ep of endpoints) {
      aggregates.push(
        aggregate(
          ep.name,
          w,
          runs.filter((r) => r.target === ep.name && r.workload === w),
          hists.get(`${ep.name} ${w}`)!,
        ),
      );
    }
  }
  const ratios: Ratio[] = [];
  for (const w of opts.workloads) {
    const p = aggregates.find((a) => a.target === 'peer' && a.workload === w);
    const z = aggregates.find((a) => a.target === 'zookeeper' && a.workload === w);
    if (!p || !z) continue;
    ratios.push({
      workload: w,
      throughput: p.opsPerSec / z.opsPerSec,
      p50: p.latencyMs.p50 / z.latencyMs.p50,
      p99: p.latencyMs.p99 / z.latencyMs.p99,
      p999: p.latencyMs.p999 / z.latencyMs.p999,
    });
  }
  const { log: _log, ...options } = opts;
  const host = hostInfo();
  return {
    header: {
      date: new Date().toISOString(),
      host,
      note:
        `All processes share this machine's ${host.cpus} cores: the server under test, the idle other ` +
        'server (when several targets run) and the load generator, which runs single-threaded in the ' +
        'benchmark process. Closed loop: each connection keeps a fixed number of requests in flight. ' +
        "The loadgen columns show the load generator's own CPU use; `--target stub` (a server that " +
        'answers with canned replies) measures its ceiling.',
      options,
      servers: Object.fromEntries(endpoints.map((e) => [e.name, e.version])),
    },
    runs,
    aggregates,
    ratios,
    histograms: Object.fromEntries([...hists].map(([k, h]) => [k, h.buckets()])),
  };
}

function loadOpts(opts: BenchOptions, workload: Workload) {
  return {
    workload,
    connections: opts.connections,
    inflight: opts.inflight,
    valueSize: opts.valueSize,
    warmupMs: opts.warmupMs,
    durationMs: opts.durationMs,
  };
}

function fmt(n: number | null, digits: number): string {
  return n === null ? 'n/a' : n.toFixed(digits);
}

export function renderMarkdown(r: BenchReport): string {
  const o = r.header.options;
  const lines: string[] = [];
  lines.push(`# zkensemble benchmark, ${r.header.date}`);
  lines.push('');
  lines.push(
    `Host: ${r.header.host.cpus} × ${r.header.host.cpuModel}, ${r.header.host.memoryMiB} MiB, Linux ${r.header.host.kernel}, Node ${r.header.host.node}.`,
  );
  lines.push(`**${r.header.note}**`);
  lines.push(
    `Load: ${o.connections} connections × ${o.inflight} in flight, ${o.valueSize}-byte values, ` +
      `${o.warmupMs / 1000} s warm-up + ${o.durationMs / 1000} s measured per run, ${o.rounds} round(s), ` +
      'targets alternating within each round.',
  );
  for (const [name, v] of Object.entries(r.header.servers)) lines.push(`- ${name}: ${v}`);
  lines.push('');
  lines.push(
    '| workload | target | ops/s | ops/s per round | p50 ms | p99 ms | p99.9 ms | max ms | errors | server CPU (cores) | loadgen CPU (cores) | loadgen event loop busy | machine CPU busy (cores) |',
  );
  lines.push('|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const a of r.aggregates) {
    lines.push(
      `| ${a.workload} | ${a.target} | ${Math.round(a.opsPerSec)} | ${a.opsPerSecByRound.join(', ')} | ` +
        `${a.latencyMs.p50} | ${a.latencyMs.p99} | ${a.latencyMs.p999} | ${a.latencyMs.max} | ` +
        `${a.errors}${a.connectionsLost ? ` (${a.connectionsLost} conns lost)` : ''} | ${fmt(a.serverCpuCores, 2)} | ` +
        `${a.loadgenCpuCores.toFixed(2)} | ${(a.loadgenEventLoopUtilization * 100).toFixed(0)}% | ${fmt(a.machineCpuCores, 2)} |`,
    );
  }
  if (r.ratios.length) {
    lines.push('');
    lines.push('Peer / ZooKeeper (throughput: higher is better; latency: lower is better):');
    lines.push('');
    lines.push('| workload | throughput ratio | p50 ratio | p99 ratio | p99.9 ratio |');
    lines.push('|---|--:|--:|--:|--:|');
    for (const x of r.ratios) {
      lines.push(
        `| ${x.workload} | ${x.throughput.toFixed(2)} | ${x.p50.toFixed(2)} | ${x.p99.toFixed(2)} | ${x.p999.toFixed(2)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
