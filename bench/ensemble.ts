// Ensemble benchmark: for every topology (voters+observers) and every target (the peer, Apache
// ZooKeeper), starts a fresh loopback ensemble laid out by peer/ensemble/local.ts, waits until one
// leader serves and every member serves, loads it with closed-loop traffic spread over the voters'
// client ports (never the observers', so observers only add their replication cost), measures
// throughput, latency and CPU per role, and stops it. Round after round, the targets alternate within
// each topology (and swap order every round). Every member is stopped by PID, on errors and signals too.

import os from 'node:os';
import {
  type EnsembleTarget,
  isUp,
  javaVersion,
  runRounds,
  TARGET_NAME,
  type Topology,
  withCluster,
} from './cluster.ts';
import { Histogram, type HistogramSummary } from './histogram.ts';
import { type HostInfo, hostInfo } from './host.ts';
import { type LoadSettings, prepare, runLoadSampled, type Workload } from './loadgen.ts';
import { type CpuByRole, cpuBetween, noCpu, type Role, sampleCpu } from './procstat.ts';
import { median } from './suite/aggregate.ts';
import { endpointsFor, spreadConnections } from './workloads/throughput.ts';

export interface EnsembleBenchOptions extends LoadSettings {
  topologies: Topology[];
  targets: EnsembleTarget[];
  /** -Xmx of each ZooKeeper JVM. */
  zkHeap: string;
  /** Give up on an ensemble that has not formed within this time. */
  formTimeoutMs: number;
  /**
   * Before each ensemble starts, wait up to this long for the machine to be idle (other processes'
   * CPU below quietCores): the benchmark shares the cores with whatever else runs. 0: do not wait.
   */
  quietWaitMs: number;
  quietCores: number;
  /** Profile every peer member with --cpu-prof; the leader's profile is kept under this directory. */
  cpuProfDir?: string;
}

export interface CellRecord {
  target: EnsembleTarget;
  topology: string;
  voters: number;
  observers: number;
  round: number;
  workload: Workload;
  ok: boolean;
  error?: string;
  /** Busy CPU of the machine (cores) just before the ensemble started: other people's work. */
  busyBeforeStart: number | null;
  /** From start to formed (one leader, everyone serving). */
  formMs: number;
  leaderSid: number;
  roles: Record<string, Role>;
  /** Connections the load generator opened to each member's client port. */
  connectionsBySid: Record<string, number>;
  seconds: number;
  ops: number;
  opsPerSec: number;
  errors: number;
  errorCodes: Record<string, number>;
  connectionsLost: number;
  latencyMs: HistogramSummary;
  cpuCores: CpuByRole;
  /** Per member, in cores. */
  memberCpuCores: Record<string, number | null>;
  /** The busiest processes outside the benchmark during the window ("name[pid] cores"). */
  busiestOthers: string[];
  loadgenEventLoopUtilization: number;
}

export interface EnsembleAggregate {
  target: EnsembleTarget;
  topology: string;
  workload: Workload;
  rounds: number;
  failures: number;
  /** Median over the successful rounds of each round's ops/s (robust to one disturbed round). */
  opsPerSec: number;
  /** Total replies / total measured seconds over the successful rounds. */
  meanOpsPerSec: number;
  opsPerSecByRound: number[];
  errors: number;
  connectionsLost: number;
  latencyMs: HistogramSummary;
  /** Means over the successful rounds. */
  cpuCores: CpuByRole;
  formMs: number;
  /**
   * CPU time of all members per write, in µs (median over the rounds): the cost of a write to the
   * whole ensemble, much less sensitive than ops/s to other work sharing the machine.
   */
  memberCpuUsPerOp: number | null;
  /** The same for the leader alone. */
  leaderCpuUsPerOp: number | null;
}

export interface TargetComparison {
  topology: string;
  workload: Workload;
  peerOpsPerSec: number;
  zookeeperOpsPerSec: number;
  /** peer / ZooKeeper throughput. */
  throughputRatio: number;
  p50Ratio: number;
  p99Ratio: number;
  /** peer / ZooKeeper CPU time of all members per write (below 1: the peer spends less). */
  cpuPerOpRatio: number | null;
}

export interface TopologyCost {
  target: EnsembleTarget;
  workload: Workload;
  topology: string;
  baseline: string;
  extraVoters: number;
  extraObservers: number;
  /** ops/s relative to the baseline, minus one (−0.06: 6% fewer ops/s). */
  throughputChange: number;
  /** The same, per added member, when only one kind of member was added. */
  changePerMember: number | null;
  /** The change measured within each round (both topologies ran in the same round), lowest and highest. */
  roundRange: [number, number] | null;
  p50Change: number;
  /** Change of the members' CPU time per write relative to the baseline (+0.5: 50% more). */
  cpuPerOpChange: number | null;
}

export interface EnsembleBenchReport {
  header: {
    date: string;
    host: HostInfo & { java: string; loadAverageAtStart: number[] };
    servers: Record<string, string>;
    options: Omit<EnsembleBenchOptions, 'log' | 'topologies'> & { topologies: string[] };
    wallSeconds: number;
  };
  cells: CellRecord[];
  aggregates: EnsembleAggregate[];
  comparisons: TargetComparison[];
  costs: TopologyCost[];
  histograms: Record<string, Array<[number, number]>>;
}

function emptyCell(
  target: EnsembleTarget,
  topo: Topology,
  round: number,
  workload: Workload,
): Omit<CellRecord, 'ok'> {
  return {
    target,
    topology: topo.label,
    voters: topo.voters,
    observers: topo.observers,
    round,
    workload,
    busyBeforeStart: null,
    formMs: 0,
    leaderSid: 0,
    roles: {},
    connectionsBySid: {},
    seconds: 0,
    ops: 0,
    opsPerSec: 0,
    errors: 0,
    errorCodes: {},
    connectionsLost: 0,
    latencyMs: new Histogram().summary(),
    cpuCores: noCpu(),
    memberCpuCores: {},
    busiestOthers: [],
    loadgenEventLoopUtilization: 0,
  };
}

interface CellOutcome {
  records: CellRecord[];
  histograms: Map<Workload, Histogram>;
  version: string;
}

/** One ensemble: start, form, prepare, every workload in turn, stop. */
function runCell(
  target: EnsembleTarget,
  topo: Topology,
  round: number,
  opts: EnsembleBenchOptions,
  abandoned: { value: boolean },
): Promise<CellOutcome> {
  const profile = opts.cpuProfDir ? { dir: opts.cpuProfDir, name: `${topo.label}-r${round}` } : undefined;
  const clusterOpts = { ...opts, profile };
  return withCluster(target, topo, clusterOpts, async ({ e, leaderSid, formMs, roles, version }) => {
    // Past its deadline, the caller has moved on: stop here rather than load anything.
    if (abandoned.value) throw new Error('abandoned after its deadline');
    const histograms = new Map<Workload, Histogram>();
    const records: CellRecord[] = [];
    const sids = [...e.members.keys()];
    const voters = sids.filter((sid) => !e.members.get(sid)!.observer);
    const spread = spreadConnections(voters, opts.connections);
    const base = { inflight: opts.inflight, valueSize: opts.valueSize };
    const endpoints = endpointsFor(e, spread, 'zkbench');
    await Promise.all(
      endpoints.map((ep) =>
        prepare({ ...ep, workload: opts.workloads[0]!, warmupMs: 0, durationMs: 0, ...base }),
      ),
    );
    for (const workload of opts.workloads) {
      opts.log(
        `  ${workload}: ${opts.connections} connections over voters ${[...spread.keys()].join(',')}...`,
      );
      const pids = new Map(sids.map((sid) => [sid, e.members.get(sid)!.process!.pid!]));
      const {
        r: result,
        start,
        end,
      } = await runLoadSampled(
        {
          host: '127.0.0.1',
          port: 0,
          connections: 0,
          endpoints,
          workload,
          warmupMs: opts.warmupMs,
          durationMs: opts.durationMs,
          ...base,
        },
        () => sampleCpu(pids),
      );
      histograms.set(workload, result.histogram);
      const cpu = cpuBetween(roles, leaderSid, start, end, pids);
      const rec: CellRecord = {
        ...emptyCell(target, topo, round, workload),
        ok: true,
        formMs,
        leaderSid,
        roles,
        connectionsBySid: Object.fromEntries(spread),
        seconds: result.seconds,
        ops: result.ops,
        opsPerSec: result.opsPerSec,
        errors: result.errors,
        errorCodes: result.errorCodes,
        connectionsLost: result.connectionsLost,
        latencyMs: result.latencyMs,
        cpuCores: cpu.byRole,
        memberCpuCores: cpu.members,
        busiestOthers: cpu.busiestOthers,
        loadgenEventLoopUtilization: result.loadgenEventLoopUtilization,
      };
      records.push(rec);
      const c = rec.cpuCores;
      opts.log(
        `    ${Math.round(rec.opsPerSec)} ops/s, p50 ${rec.latencyMs.p50} ms, p99 ${rec.latencyMs.p99} ms, ` +
          `errors ${rec.errors}; CPU cores: leader ${fmt(c.leader)}, followers ${fmt(c.followers)}, ` +
          `observers ${fmt(c.observers)}, loadgen ${fmt(c.loadgen)}, kernel ${fmt(c.kernel)}, ` +
          `machine ${fmt(c.machine)}, others ${fmt(c.others)} [${rec.busiestOthers.join(', ')}], steal ${fmt(c.steal)}`,
      );
      const down = sids.filter((sid) => !isUp(e, sid));
      if (down.length > 0) throw new Error(`member(s) ${down.join(',')} exited during the run`);
    }
    return { records, histograms, version };
  });
}

function membersCores(c: CellRecord): number | null {
  const v = Object.values(c.memberCpuCores);
  return v.length === 0 || v.some((x) => x === null) ? null : v.reduce<number>((s, x) => s + x!, 0);
}

/** Median over the rounds of cores / ops per second, in µs per op. */
function perOp(cells: CellRecord[], cores: (c: CellRecord) => number | null): number | null {
  const v = cells.map((c) => {
    const k = cores(c);
    return k === null || c.opsPerSec <= 0 ? null : (k / c.opsPerSec) * 1e6;
  });
  return v.length === 0 || v.some((x) => x === null) ? null : median(v as number[]);
}

function fmt(n: number | null, digits = 2): string {
  return n === null ? 'n/a' : n.toFixed(digits);
}

export async function runEnsembleBenchmark(opts: EnsembleBenchOptions): Promise<EnsembleBenchReport> {
  const started = performance.now();
  const loadAverageAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const cells: CellRecord[] = [];
  const hists = new Map<string, Histogram>();
  const servers: Record<string, string> = {};
  await runRounds(
    {
      ...opts,
      cells: opts.topologies,
      label: (topo) => topo.label,
      deadlineMs:
        opts.formTimeoutMs + opts.workloads.length * (opts.warmupMs + opts.durationMs + 30_000) + 30_000,
      pauseMs: 1000,
    },
    {
      run: ({ target, cell: topo, round, abandoned }) => runCell(target, topo, round, opts, abandoned),
      done: ({ target, cell: topo, busyBeforeStart }, out) => {
        servers[target] = out.version;
        for (const rec of out.records) cells.push({ ...rec, busyBeforeStart });
        for (const [w, h] of out.histograms) {
          const key = `${target} ${topo.label} ${w}`;
          hists.set(key, (hists.get(key) ?? new Histogram()).merge(h));
        }
      },
      failed: ({ target, cell: topo, round, busyBeforeStart }, message) => {
        for (const w of opts.workloads)
          cells.push({
            ...emptyCell(target, topo, round, w),
            busyBeforeStart,
            ok: false,
            error: message.slice(0, 2000),
          });
      },
    },
  );
  const { log: _log, topologies, ...rest } = opts;
  const aggregates = aggregateCells(opts, cells, hists);
  return {
    header: {
      date: new Date().toISOString(),
      host: {
        ...hostInfo(),
        java: opts.targets.includes('zookeeper') ? javaVersion() : 'not used',
        loadAverageAtStart,
      },
      servers,
      options: { ...rest, topologies: topologies.map((t) => t.label) },
      wallSeconds: Math.round((performance.now() - started) / 1000),
    },
    cells,
    aggregates,
    comparisons: compareTargets(opts, aggregates),
    costs: topologyCosts(opts, aggregates, cells),
    histograms: Object.fromEntries([...hists].map(([k, h]) => [k, h.buckets()])),
  };
}

function aggregateCells(
  opts: EnsembleBenchOptions,
  cells: CellRecord[],
  hists: Map<string, Histogram>,
): EnsembleAggregate[] {
  const out: EnsembleAggregate[] = [];
  for (const workload of opts.workloads) {
    for (const topo of opts.topologies) {
      for (const target of opts.targets) {
        const all = cells.filter(
          (c) => c.target === target && c.topology === topo.label && c.workload === workload,
        );
        const ok = all.filter((c) => c.ok);
        const mean = (f: (c: CellRecord) => number | null): number | null => {
          const v = ok.map(f);
          return v.length === 0 || v.some((x) => x === null)
            ? null
            : v.reduce<number>((s, x) => s + x!, 0) / v.length;
        };
        const ops = ok.reduce((s, c) => s + c.ops, 0);
        const secs = ok.reduce((s, c) => s + c.seconds, 0);
        out.push({
          target,
          topology: topo.label,
          workload,
          rounds: ok.length,
          failures: all.length - ok.length,
          opsPerSec: median(ok.map((c) => c.opsPerSec)),
          meanOpsPerSec: secs > 0 ? ops / secs : 0,
          opsPerSecByRound: ok.map((c) => Math.round(c.opsPerSec)),
          errors: ok.reduce((s, c) => s + c.errors, 0),
          connectionsLost: ok.reduce((s, c) => s + c.connectionsLost, 0),
          latencyMs: (hists.get(`${target} ${topo.label} ${workload}`) ?? new Histogram()).summary(),
          cpuCores: {
            leader: mean((c) => c.cpuCores.leader),
            followers: mean((c) => c.cpuCores.followers),
            observers: mean((c) => c.cpuCores.observers),
            loadgen: mean((c) => c.cpuCores.loadgen) ?? 0,
            machine: mean((c) => c.cpuCores.machine),
            kernel: mean((c) => c.cpuCores.kernel),
            steal: mean((c) => c.cpuCores.steal),
            others: mean((c) => c.cpuCores.others),
          },
          formMs: Math.round(mean((c) => c.formMs) ?? 0),
          memberCpuUsPerOp: perOp(ok, (c) => membersCores(c)),
          leaderCpuUsPerOp: perOp(ok, (c) => c.cpuCores.leader),
        });
      }
    }
  }
  return out;
}

function compareTargets(opts: EnsembleBenchOptions, aggs: EnsembleAggregate[]): TargetComparison[] {
  const out: TargetComparison[] = [];
  for (const workload of opts.workloads) {
    for (const topo of opts.topologies) {
      const find = (t: EnsembleTarget) =>
        aggs.find((a) => a.target === t && a.topology === topo.label && a.workload === workload);
      const p = find('peer');
      const z = find('zookeeper');
      if (!p || !z || p.rounds === 0 || z.rounds === 0) continue;
      out.push({
        topology: topo.label,
        workload,
        peerOpsPerSec: p.opsPerSec,
        zookeeperOpsPerSec: z.opsPerSec,
        throughputRatio: p.opsPerSec / z.opsPerSec,
        p50Ratio: p.latencyMs.p50 / z.latencyMs.p50,
        p99Ratio: p.latencyMs.p99 / z.latencyMs.p99,
        cpuPerOpRatio:
          p.memberCpuUsPerOp !== null && z.memberCpuUsPerOp !== null
            ? p.memberCpuUsPerOp / z.memberCpuUsPerOp
            : null,
      });
    }
  }
  return out;
}

/** The smallest observer-less topology (3+0 when present): what every other one is compared with. */
export function baselineTopology(topologies: Topology[]): Topology {
  const plain = topologies.filter((t) => t.observers === 0).sort((a, b) => a.voters - b.voters);
  return plain.find((t) => t.voters === 3) ?? plain[0] ?? topologies[0]!;
}

function topologyCosts(
  opts: EnsembleBenchOptions,
  aggs: EnsembleAggregate[],
  cells: CellRecord[],
): TopologyCost[] {
  const base = baselineTopology(opts.topologies);
  const out: TopologyCost[] = [];
  for (const workload of opts.workloads) {
    for (const target of opts.targets) {
      const find = (label: string) =>
        aggs.find((a) => a.target === target && a.topology === label && a.workload === workload);
      const b = find(base.label);
      if (!b || b.rounds === 0) continue;
      for (const topo of opts.topologies) {
        if (topo === base) continue;
        const a = find(topo.label);
        if (!a || a.rounds === 0) continue;
        const extraVoters = topo.voters - base.voters;
        const extraObservers = topo.observers - base.observers;
        const change = a.opsPerSec / b.opsPerSec - 1;
        const perRound: number[] = [];
        for (let round = 1; round <= opts.rounds; round++) {
          const cell = (label: string) =>
            cells.find(
              (c) =>
                c.ok &&
                c.target === target &&
                c.topology === label &&
                c.workload === workload &&
                c.round === round,
            );
          const x = cell(topo.label);
          const y = cell(base.label);
          if (x && y && y.opsPerSec > 0) perRound.push(x.opsPerSec / y.opsPerSec - 1);
        }
        const single =
          extraVoters === 0 && extraObservers !== 0
            ? extraObservers
            : extraObservers === 0 && extraVoters !== 0
              ? extraVoters
              : null;
        out.push({
          target,
          workload,
          topology: topo.label,
          baseline: base.label,
          extraVoters,
          extraObservers,
          throughputChange: change,
          changePerMember: single === null ? null : change / single,
          roundRange: perRound.length ? [Math.min(...perRound), Math.max(...perRound)] : null,
          p50Change: b.latencyMs.p50 > 0 ? a.latencyMs.p50 / b.latencyMs.p50 - 1 : 0,
          cpuPerOpChange:
            a.memberCpuUsPerOp !== null && b.memberCpuUsPerOp
              ? a.memberCpuUsPerOp / b.memberCpuUsPerOp - 1
              : null,
        });
      }
    }
  }
  return out;
}

function pct(x: number, digits = 0): string {
  const s = (x * 100).toFixed(digits);
  return `${x >= 0 && !s.startsWith('-') ? '+' : ''}${s.replace('-', '−')}%`;
}

const DISTURBED_CORES = 0.15;

export function renderEnsembleMarkdown(r: EnsembleBenchReport): string {
  const o = r.header.options;
  const h = r.header.host;
  const L: string[] = [];
  L.push(`# zkensemble ensemble benchmark, ${r.header.date}`);
  L.push('');
  L.push(
    `Machine: ${h.cpus} × ${h.cpuModel}, ${h.memoryMiB} MiB, Linux ${h.kernel}, Node ${h.node}, ${h.java}; ` +
      `load average at start ${h.loadAverageAtStart.join(' ')}; whole run ${r.header.wallSeconds} s.`,
  );
  for (const [name, v] of Object.entries(r.header.servers))
    L.push(`- ${TARGET_NAME[name as EnsembleTarget] ?? name}: ${v}`);
  L.push('');
  L.push(
    `**Every process shares this machine's ${h.cpus} cores**: all members of the ensemble under test (one ` +
      'process each) and the load generator (single-threaded, in the benchmark process). The numbers are ' +
      'therefore bounded by CPU, not by the network or the disk: each extra member takes CPU away from the ' +
      'leader, and every member pays for its own disk writes and loopback traffic on the same cores. On ' +
      'real machines, one member per host, an observer mostly costs the leader the INFORM packets it sends.',
  );
  L.push('');
  L.push(
    `Method: for every topology (voters+observers) and target, a fresh loopback ensemble (zoo.cfg from ` +
      '`peer/ensemble/local.ts`, the same lines for both targets' +
      (Object.keys(o.config).length
        ? `, plus ${Object.entries(o.config)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`
        : '') +
      `; ZooKeeper JVMs with -Xmx${o.zkHeap}) is started and must have one leader and every member serving; ` +
      `then ${o.connections} client connections × ${o.inflight} requests in flight (closed loop, ` +
      `${o.valueSize}-byte values, one znode per connection) are spread evenly over the **voters'** client ` +
      'ports (the leader and the followers; writes on a follower are forwarded to the leader). **No client ' +
      'connects to an observer**, so observers only add their replication cost. ' +
      `${o.warmupMs / 1000} s warm-up + ${o.durationMs / 1000} s measured per run, ${o.rounds} round(s); ` +
      'within each topology the targets alternate, in swapped order every other round; each run starts ' +
      'fresh ensembles (fresh JVMs and Node processes), so JIT warm-up is part of every run.',
  );
  for (const workload of o.workloads) {
    L.push('');
    L.push(`## ${workload}: throughput and latency`);
    L.push('');
    L.push(
      `ops/s: median of the ${o.rounds} round(s) (every round listed below); latency: over every reply of ` +
        'every round; CPU µs/write: CPU time of all members together per write (median of the rounds; less ' +
        'sensitive than ops/s to other work on the machine); ratios: peer ÷ ZooKeeper (ops/s above 1: the ' +
        'peer is faster; CPU per write below 1: the peer spends less).',
    );
    L.push('');
    const both = o.targets.length === 2;
    const head = ['topology'];
    for (const t of o.targets)
      head.push(
        `${TARGET_NAME[t]} ops/s`,
        `${TARGET_NAME[t]} p50 / p99 ms`,
        `${TARGET_NAME[t]} CPU µs/write`,
      );
    if (both) head.push('peer / ZooKeeper ops/s', 'peer / ZooKeeper CPU per write');
    L.push(`| ${head.join(' | ')} |`);
    L.push(`|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`);
    for (const topo of o.topologies) {
      const row = [topo];
      for (const t of o.targets) {
        const a = r.aggregates.find((x) => x.target === t && x.topology === topo && x.workload === workload);
        if (!a || a.rounds === 0) row.push('failed', '', '');
        else
          row.push(
            `${Math.round(a.opsPerSec)}`,
            `${a.latencyMs.p50} / ${a.latencyMs.p99}`,
            a.memberCpuUsPerOp === null ? 'n/a' : `${Math.round(a.memberCpuUsPerOp)}`,
          );
      }
      if (both) {
        const c = r.comparisons.find((x) => x.topology === topo && x.workload === workload);
        row.push(
          c ? c.throughputRatio.toFixed(2) : 'n/a',
          c?.cpuPerOpRatio ? c.cpuPerOpRatio.toFixed(2) : 'n/a',
        );
      }
      L.push(`| ${row.join(' | ')} |`);
    }
    const costs = r.costs.filter((c) => c.workload === workload);
    if (costs.length) {
      const base = costs[0]!.baseline;
      L.push('');
      L.push(`## ${workload}: cost of observers and voters, relative to ${base}`);
      L.push('');
      L.push(
        `Throughput change versus ${base} of the same target, from the medians (in brackets: per added ` +
          'member; then the lowest and highest change measured within one round; then the change of the ' +
          "members' CPU time per write).",
      );
      L.push('');
      const head2 = ['topology', ...o.targets.map((t) => TARGET_NAME[t])];
      L.push(`| ${head2.join(' | ')} |`);
      L.push(`|${head2.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`);
      for (const topo of o.topologies) {
        if (topo === base) continue;
        const row = [topo];
        for (const t of o.targets) {
          const c = costs.find((x) => x.topology === topo && x.target === t);
          if (!c) {
            row.push('n/a');
            continue;
          }
          const kind = c.extraObservers !== 0 && c.extraVoters === 0 ? 'observer' : 'voter';
          const n = Math.abs(c.extraObservers + c.extraVoters);
          const per =
            c.changePerMember === null || n === 1 ? '' : ` (${pct(c.changePerMember, 1)} per ${kind})`;
          const range = c.roundRange ? `; rounds ${pct(c.roundRange[0])}…${pct(c.roundRange[1])}` : '';
          const cpu = c.cpuPerOpChange === null ? '' : `; CPU per write ${pct(c.cpuPerOpChange)}`;
          row.push(`${topo}: ${pct(c.throughputChange)} vs ${base}${per}${range}${cpu}`);
        }
        L.push(`| ${row.join(' | ')} |`);
      }
    }
    L.push('');
    L.push(`## ${workload}: details`);
    L.push('');
    L.push(
      'CPU in cores over the measured window (1.00 = one core busy): followers and observers are sums over ' +
        'the members of that role; kernel = kernel threads (ext4 journal commits for the fsyncs, writeback) ' +
        'and interrupt/softirq time (loopback TCP), charged to no process; others = processes outside the ' +
        'benchmark (other work on the machine); steal = time the ' +
        'hypervisor ran other virtual machines. Latency percentiles are over every reply of every round.',
    );
    L.push('');
    L.push(
      '| topology | target | ops/s (median) | ops/s per round | p50 | p90 | p99 | p99.9 | max ms | errors | leader CPU | followers CPU | observers CPU | loadgen CPU | kernel CPU | machine CPU | others CPU | steal | formed in s |',
    );
    L.push('|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
    for (const topo of o.topologies) {
      for (const t of o.targets) {
        const a = r.aggregates.find((x) => x.target === t && x.topology === topo && x.workload === workload);
        if (!a) continue;
        const c = a.cpuCores;
        const failed = a.failures ? ` (${a.failures} failed)` : '';
        const lat = a.latencyMs;
        L.push(
          `| ${topo} | ${TARGET_NAME[t]} | ${Math.round(a.opsPerSec)} | ${a.opsPerSecByRound.join(', ')}${failed} | ` +
            `${lat.p50} | ${lat.p90} | ${lat.p99} | ${lat.p999} | ${lat.max} | ` +
            `${a.errors}${a.connectionsLost ? ` (${a.connectionsLost} conns lost)` : ''} | ${fmt(c.leader)} | ` +
            `${fmt(c.followers)} | ${fmt(c.observers)} | ${fmt(c.loadgen)} | ${fmt(c.kernel)} | ${fmt(c.machine)} | ` +
            `${fmt(c.others)} | ${fmt(c.steal)} | ` +
            `${(a.formMs / 1000).toFixed(1)} |`,
        );
      }
    }
  }
  const disturbed = r.cells.filter((c) => c.ok && (c.cpuCores.others ?? 0) > DISTURBED_CORES);
  if (disturbed.length) {
    L.push('');
    L.push(
      `Runs disturbed by other work on the machine (processes outside the benchmark used more than ` +
        `${DISTURBED_CORES} cores during the measured window; the median of the rounds limits their weight):`,
    );
    L.push('');
    for (const c of disturbed) {
      L.push(
        `- round ${c.round}, ${c.topology} on ${TARGET_NAME[c.target]} (${c.workload}): ` +
          `${Math.round(c.opsPerSec)} ops/s, others used ${fmt(c.cpuCores.others)} cores` +
          (c.busiestOthers.length ? ` (busiest: ${c.busiestOthers.join(', ')})` : ''),
      );
    }
  }
  const failed = r.cells.filter((c) => !c.ok);
  if (failed.length) {
    L.push('');
    L.push('## Failed runs');
    L.push('');
    for (const c of failed)
      L.push(`- round ${c.round}, ${c.topology} on ${c.target} (${c.workload}): ${c.error?.split('\n')[0]}`);
  }
  return `${L.join('\n')}\n`;
}
