// The suite's Markdown report: targets first, then the machine and the method, then one section per
// workload with both targets side by side and their ratios, then failures. A pure function of the
// report object (plus the names of the plots written beside it).

import { ENSEMBLE_TARGETS, type EnsembleTarget, TARGET_NAME, topology } from '../cluster.ts';
import { type Aggregate, find, pctChange } from './aggregate.ts';
import type { SuiteReport } from './runner.ts';
import {
  HALF_RATE,
  HALF_RATE_AGAIN,
  HALF_RATE_STOPPED,
  OBSERVERS_STOPPED,
  OWN_CORES,
  OWN_CORES_AGAIN,
  WORKLOAD_TITLES,
  type WorkloadId,
} from './types.ts';

type Row = Array<string | number | null | undefined>;

function table(head: string[], rows: Row[], numericFrom = 1): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < numericFrom ? '---' : '--:')).join('|')}|`,
    ...rows.map(
      (r) => `| ${r.map((c) => (c === null || c === undefined ? 'n/a' : String(c))).join(' | ')} |`,
    ),
  ];
}

/** 3 significant digits, no exponent; integers above 1000 as they are. */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  if (Math.abs(v) >= 1000) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
}

const ratio = (p: number | null | undefined, z: number | null | undefined) =>
  p == null || z == null || z === 0 ? 'n/a' : `${(p / z).toFixed(2)}`;

/** Other processes' CPU above which a measured window counts as disturbed. */
const DISTURBED_CORES = 0.3;

function both(aggs: Aggregate[], w: WorkloadId, topo: string, variant: string) {
  return { p: find(aggs, w, topo, variant, 'peer'), z: find(aggs, w, topo, variant, 'zookeeper') };
}

function variantsOf(aggs: Aggregate[], w: WorkloadId): Array<{ topology: string; variant: string }> {
  const seen = new Map<string, { topology: string; variant: string }>();
  for (const a of aggs)
    if (a.workload === w && !seen.has(`${a.topology}|${a.variant}`))
      seen.set(`${a.topology}|${a.variant}`, { topology: a.topology, variant: a.variant });
  return [...seen.values()];
}

const TOPOLOGY_NAMES: Record<string, string> = {
  '1+0': 'S1 (standalone)',
  '3+0': 'V3',
  '3+1': 'V3O1',
  '3+2': 'V3O2',
  '5+0': 'V5',
};
const topoName = (t: string) => TOPOLOGY_NAMES[t] ?? t;

function latencyTriple(a: Aggregate | undefined): string {
  return a ? slash(a.values.p50, a.values.p99, a.values.p999) : 'n/a';
}

/** Numbers joined by " / ", each as fmt() writes it. */
const slash = (...v: Array<number | null | undefined>) => v.map(fmt).join(' / ');

/** One number of both targets, "peer / ZooKeeper". */
const pz = (p: Aggregate | undefined, z: Aggregate | undefined, key: string) =>
  slash(p?.values[key], z?.values[key]);

type RowOf = (a: Aggregate, name: string) => Row;

/** The target's row, made by row(its aggregate, its name); none when it lacks the variant. */
function rowOf(
  r: SuiteReport,
  w: WorkloadId,
  topology: string,
  variant: string,
  t: EnsembleTarget,
  row: RowOf,
) {
  const a = find(r.aggregates, w, topology, variant, t);
  return a ? [row(a, TARGET_NAME[t])] : [];
}

/** A row for each target that has the variant. */
function targetRows(r: SuiteReport, w: WorkloadId, topology: string, variant: string, row: RowOf): Row[] {
  return ENSEMBLE_TARGETS.flatMap((t) => rowOf(r, w, topology, variant, t, row));
}

function w1(r: SuiteReport): string[] {
  const rows: Row[] = [];
  for (const { topology, variant } of variantsOf(r.aggregates, 'W1')) {
    const { p, z } = both(r.aggregates, 'W1', topology, variant);
    rows.push([
      topoName(topology),
      variant,
      latencyTriple(p),
      latencyTriple(z),
      ratio(p?.values.p50, z?.values.p50),
      ratio(p?.values.p99, z?.values.p99),
    ]);
  }
  return [
    'One session, one request at a time. Latency in ms, p50 / p99 / p99.9 over every request of every round.',
    '',
    ...table(
      ['topology', 'client on, value size, request', 'peer', 'ZooKeeper', 'p50 peer/ZK', 'p99 peer/ZK'],
      rows,
      2,
    ),
  ];
}

function throughputRow(
  r: SuiteReport,
  w: WorkloadId,
  topology: string,
  variant: string,
  first: string[],
): Row {
  const { p, z } = both(r.aggregates, w, topology, variant);
  return [
    ...first,
    fmt(p?.values.opsPerSec),
    fmt(z?.values.opsPerSec),
    ratio(p?.values.opsPerSec, z?.values.opsPerSec),
    slash(p?.values.p50, p?.values.p99, p?.values.p999),
    slash(z?.values.p50, z?.values.p99, z?.values.p999),
    fmt(p?.values.cpuSecPer1kOps),
    fmt(z?.values.cpuSecPer1kOps),
  ];
}

const THROUGHPUT_HEAD = [
  'peer ops/s',
  'ZooKeeper ops/s',
  'peer/ZK',
  'peer p50 / p99 / p99.9 ms',
  'ZooKeeper p50 / p99 / p99.9 ms',
  'peer CPU-s per 1k ops',
  'ZooKeeper CPU-s per 1k ops',
];

function w3(r: SuiteReport): string[] {
  const rows = variantsOf(r.aggregates, 'W3')
    .sort(
      (a, b) =>
        a.topology.localeCompare(b.topology) || Number(a.variant.slice(1)) - Number(b.variant.slice(1)),
    )
    .map(({ topology, variant }) =>
      throughputRow(r, 'W3', topology, variant, [topoName(topology), `${variant.slice(1)}%`]),
    );
  const o = r.header.params.w3;
  return [
    `${o.connections} sessions × ${o.inflight} requests in flight on the servers that do not lead (a standalone server takes them all), ` +
      `${o.valueSize}-byte values, one znode per session; write share in steps. CPU-s per 1k ops: CPU time of all members.`,
    '',
    ...table(['topology', 'writes', ...THROUGHPUT_HEAD], rows, 2),
  ];
}

function w4(r: SuiteReport): string[] {
  // Rows in this order: shared cores, then each role on its own cores at saturation, then at half rate.
  const coresLabel: Record<string, string> = {
    writes: 'shared',
    [OWN_CORES]: 'own',
    [OBSERVERS_STOPPED]: 'own, observers stopped',
    [OWN_CORES_AGAIN]: 'own, observers restarted',
    [HALF_RATE]: 'own, half rate',
    [HALF_RATE_STOPPED]: 'own, half rate, observers stopped',
    [HALF_RATE_AGAIN]: 'own, half rate, observers restarted',
  };
  const order = Object.keys(coresLabel);
  const rank = (v: string) => (order.includes(v) ? order.indexOf(v) : order.length);
  const cells = variantsOf(r.aggregates, 'W4').sort((a, b) => rank(a.variant) - rank(b.variant));
  // Throughput at saturation; at half rate the voters' CPU per write (a cost: + is worse).
  const paired = (a: Aggregate | undefined, k: number) => {
    const cpu = a?.values.votersCpuVsObserversStopped;
    const x = cpu ?? a?.values.vsObserversStopped;
    if (x == null) return '–';
    return `${cpu != null ? 'CPU ' : ''}${pctChange(x)}${k > 1 ? ` (${pctChange(x / k)} each)` : ''}`;
  };
  const rows: Row[] = [];
  const change = (t: EnsembleTarget, topo: string, variant: string) => {
    const b = find(r.aggregates, 'W4', '3+0', variant, t)?.values.opsPerSec;
    const a = find(r.aggregates, 'W4', topo, variant, t)?.values.opsPerSec;
    if (!a || !b || topo === '3+0') return '–';
    const { voters, observers } = topology(topo);
    const added = voters - 3 + observers;
    const per = added > 1 ? ` (${pctChange((a / b - 1) / added)} each)` : '';
    return `${pctChange(a / b - 1)}${per}`;
  };
  for (const { topology: topo, variant } of cells) {
    const { p, z } = both(r.aggregates, 'W4', topo, variant);
    const k = topology(topo).observers;
    rows.push([
      topo,
      coresLabel[variant] ?? variant,
      fmt(p?.values.opsPerSec),
      fmt(z?.values.opsPerSec),
      ratio(p?.values.opsPerSec, z?.values.opsPerSec),
      change('peer', topo, variant),
      change('zookeeper', topo, variant),
      `${paired(p, k)} / ${paired(z, k)}`,
      slash(p?.values.p50, p?.values.p99),
      slash(z?.values.p50, z?.values.p99),
      pz(p, z, 'leaderCpuUsPerOp'),
      pz(p, z, 'votersCpuUsPerOp'),
      pz(p, z, 'memberCpuUsPerOp'),
      pz(p, z, 'loopbackBytesPerOp'),
    ]);
  }
  const o = r.header.params.w4;
  const own = r.measurements.find((m) => m.workload === 'W4' && m.variant === OWN_CORES)?.detail?.cores as
    | { voters: number[]; observers: number[] }
    | undefined;
  return [
    `100% writes (${o.valueSize}-byte setData), ${o.connections} sessions × ${o.inflight} in flight spread over the voters ` +
      '(leader included); no client on an observer, so an observer adds only its replication cost. ' +
      'Cores "shared": every member and the load generator share all the cores, so an added member also takes CPU from the others. ' +
      (own
        ? `Cores "own": right after the shared window, in the same ensemble, the voters are pinned to CPU ${own.voters.join(',')} and the observers ` +
          `to CPU ${own.observers.join(',')} (taskset, every thread; checked after the window), as if each role had its own machine; ` +
          "the load generator is pinned with the observers, so the voters' cores run only voters in every window. With observers, " +
          'each saturated window is followed by one at half its rate (load paced, not closed-loop). With observers, those two ' +
          'are followed by the same two with the observers stopped, then the same two with them started again, synced and ' +
          `given the full ${o.warmupMs / 1000} s warm-up: "vs its observers stopped" compares the mean of the two with ` +
          'observers with the one between (a steady drift such as JIT warm-up cancels out): throughput at saturation, and ' +
          'the voters\' CPU per write at half rate ("CPU"; left out if a half-rate window fell more than 5% short of its rate). That is what feeding the observers costs the voters, without the ' +
          'differences between fresh ensembles that "vs 3+0" includes. At saturation the three voters share one core and ' +
          "identical windows differ by more than the 5% to be resolved; at half rate the voters' CPU per write is much " +
          'steadier (the findings say how much, by topology), so the target is judged by it, as the throughput the voters would lose if their ' +
          'cores were the limit (1 / (1 + CPU change) − 1). '
        : '') +
      'The leader CPU per write is another guide to the cost on separate machines.',
    '',
    ...table(
      [
        'voters+observers',
        'cores',
        'peer writes/s',
        'ZooKeeper writes/s',
        'peer/ZK',
        'peer vs 3+0',
        'ZooKeeper vs 3+0',
        'vs its observers stopped peer / ZK',
        'peer p50 / p99 ms',
        'ZooKeeper p50 / p99 ms',
        'leader CPU µs/write peer / ZK',
        'voters CPU µs/write peer / ZK',
        'all members CPU µs/write peer / ZK',
        'loopback bytes/write peer / ZK',
      ],
      rows,
    ),
  ];
}

function w5(r: SuiteReport): string[] {
  const rows: Row[] = [];
  for (const { topology } of variantsOf(r.aggregates, 'W5')) {
    const { p, z } = both(r.aggregates, 'W5', topology, 'reads');
    const per = (a: Aggregate | undefined) => {
      const d = a?.detail as {
        opsPerSecBySid?: Record<string, number>;
        rolesBySid?: Record<string, string>;
      } | null;
      if (!d?.opsPerSecBySid) return 'n/a';
      return Object.entries(d.opsPerSecBySid)
        .map(([sid, v]) => `${(d.rolesBySid?.[sid] ?? '?')[0]}${sid} ${fmt(v)}`)
        .join(', ');
    };
    rows.push([
      topoName(topology),
      fmt(p?.values.opsPerSec),
      fmt(z?.values.opsPerSec),
      ratio(p?.values.opsPerSec, z?.values.opsPerSec),
      per(p),
      per(z),
      slash(p?.values.p50, p?.values.p99),
      slash(z?.values.p50, z?.values.p99),
      pz(p, z, 'cpuSecPer1kOps'),
    ]);
  }
  const o = r.header.params.w5;
  return [
    `100% getData of ${o.valueSize}-byte values, ${o.connections} sessions × ${o.inflight} in flight on **every** server, observers ` +
      'included. Per server (first round; l = leader, f = follower, o = observer): reads/s.',
    '',
    ...table(
      [
        'topology',
        'peer reads/s',
        'ZooKeeper reads/s',
        'peer/ZK',
        'peer per server',
        'ZooKeeper per server',
        'peer p50 / p99 ms',
        'ZooKeeper p50 / p99 ms',
        'CPU-s per 1k reads peer / ZK',
      ],
      rows,
    ),
  ];
}

function w6(r: SuiteReport): string[] {
  const rows = targetRows(r, 'W6', '3+1', 'lag', ({ values: v }, name) => [
    name,
    `${fmt(v.writesPerSec)} (of ${fmt(v.targetWritesPerSec)} asked)`,
    slash(v.p50, v.p99, v.p999, v.max),
    slash(v.sendToEventP50, v.sendToEventP99),
    slash(v.zxidGapP99, v.zxidGapMax),
    fmt(v.probes),
    fmt(v.missed),
  ]);
  const o = r.header.params.w6;
  return [
    `V3O1. A writer on the leader at ${o.loadFraction * 100}% of the write rate W4 measured on the same ensemble just before ` +
      `(${o.valueSize}-byte setData, open loop); a reader on the observer watches a probe znode that a second leader ` +
      'session writes, probe after probe. Lag: from the write being acknowledged to the watch event on the observer ' +
      '(0 when the event came first). zxid gap: leader-acknowledged zxid minus the zxid of an observer read, sampled every few ms.',
    '',
    ...table(
      [
        'target',
        'background writes/s',
        'lag p50 / p99 / p99.9 / max ms',
        'write sent → event p50 / p99 ms',
        'zxid gap p99 / max (txns)',
        'probes',
        'events missed',
      ],
      rows,
    ),
  ];
}

function w7(r: SuiteReport): string[] {
  const pre = targetRows(r, 'W7', '3+1', 'preload', ({ values: v }, name) => [
    name,
    fmt(v.znodes),
    fmt(v.createsPerSec),
    slash(v.endLeaderMiB, v.endTotalMiB),
    fmt(v.rssLeaderMiB),
    fmt(v.rssFollowerMiB),
    fmt(v.rssObserverMiB),
    fmt(v.rssTotalMiB),
    slash(v.anonLeaderMiB, v.anonTotalMiB),
  ]);
  // Target by target: each one's DIFF, then its SNAP.
  const sync = ENSEMBLE_TARGETS.flatMap((t) =>
    ['diff', 'snap'].flatMap((variant) =>
      rowOf(r, 'W7', '3+1', variant, t, ({ values: v }, name) => {
        const paths = r.measurements
          .filter((m) => m.ok && m.workload === 'W7' && m.variant === variant && m.target === t)
          .map((m) => (m.detail as { path?: string } | undefined)?.path ?? '?');
        return [
          name,
          fmt(v.writes),
          [...new Set(paths)].join(', '),
          fmt(v.timeToServingMs),
          fmt(v.timeToCaughtUpMs),
          fmt(v.leaderCpuSeconds),
          `${fmt(v.voterOpsPerSecBefore)} → ${fmt(v.voterOpsPerSecMinDuring)} (−${fmt(v.dipPercent)}%)`,
        ];
      }),
    ),
  );
  const preload = both(r.aggregates, 'W7', '3+1', 'preload');
  const ratioRss = (k: string) => ratio(preload.p?.values[k], preload.z?.values[k]);
  const o = r.header.params.w7;
  return [
    `V3O1. Preload ${o.preload} znodes × ${o.valueSize} B through the leader (pipelined), then resident memory per member ` +
      `(VmRSS, MiB; ZooKeeper JVMs run with -Xmx${r.header.params.zkHeap}): right after the preload (${o.settleMs} ms after ` +
      `the last member has it), and at rest, ${o.restMs / 1000} s later, which the target compares (the peer runs one ` +
      'full collection once it goes quiet after a busy spell: peer/idle-gc.ts):',
    '',
    ...table(
      [
        'target',
        'znodes',
        'creates/s',
        'right after: RSS leader / all',
        'RSS leader',
        'RSS follower (largest)',
        'RSS observer',
        'RSS all members',
        'anonymous RSS leader / all',
      ],
      pre,
    ),
    '',
    `RSS peer/ZooKeeper at rest: leader ${ratioRss('rssLeaderMiB')}, all members ${ratioRss('rssTotalMiB')}; right after ` +
      `the preload: leader ${ratioRss('endLeaderMiB')}, all members ${ratioRss('endTotalMiB')}; anonymous RSS at rest ` +
      `(RssAnon: heap and private memory, without the mapped executable and libraries) leader ${ratioRss('anonLeaderMiB')}, ` +
      `all members ${ratioRss('anonTotalMiB')}.`,
    '',
    `Then twice: stop the observer, write ${o.diffWrites} (then ${o.snapWrites}) setData through the leader, restart it ` +
      `under a light closed-loop write load on the voters (${o.bgConnections} sessions × ${o.bgInflight} in flight). ` +
      'Time to serving: from the restart to srvr saying `Mode: observer` (process start and loading its own data included); ' +
      "caught up: its zxid reaches the leader's at the restart. The sync the leader chose comes from its mntr " +
      'diff_count / snap_count. Voter throughput: the second before the restart → the lowest 200 ms bucket until the observer serves.',
    '',
    ...table(
      [
        'target',
        'writes missed',
        'sync chosen',
        'time to serving ms',
        'caught up ms',
        'leader CPU-s during sync',
        'voters writes/s before → lowest during',
      ],
      sync,
    ),
  ];
}

function w9(r: SuiteReport): string[] {
  const rows: Row[] = [];
  for (const { topology, variant } of variantsOf(r.aggregates, 'W9')) {
    if (!variant.startsWith('fan-out')) continue;
    const { p, z } = both(r.aggregates, 'W9', topology, variant);
    rows.push([
      variant.replace('fan-out ', ''),
      slash(p?.values.p50, p?.values.p99),
      slash(z?.values.p50, z?.values.p99),
      slash(p?.values.lastP50, p?.values.lastMax),
      slash(z?.values.lastP50, z?.values.lastMax),
      pz(p, z, 'missed'),
    ]);
  }
  const del = variantsOf(r.aggregates, 'W9')
    .filter(({ variant }) => variant.startsWith('delete'))
    .flatMap(({ topology, variant }) =>
      targetRows(r, 'W9', topology, variant, ({ values: v }, name) => [
        name,
        fmt(v.watches),
        fmt(v.deletesPerSec),
        fmt(v.lastEventMs),
        fmt(v.eventsMissing),
        `${fmt(v.rssBeforeMiB)} → ${fmt(v.rssAfterMiB)}`,
        fmt(v.rssKiBPerKWatches),
        fmt(v.memberCpuSeconds),
      ]),
    );
  const o = r.header.params.w9;
  return [
    `V3. (a) One znode watched by N sessions spread over the three servers (a session holds one data watch per znode, so ` +
      `N watchers are N sessions); ${o.writes} setData on the leader, one per ${o.intervalMs} ms; delay from the write being ` +
      "sent to each watcher's event (ms): all watchers, and the last watcher of each write (median / max over the writes).",
    '',
    ...table(
      [
        'watchers',
        'peer all p50 / p99',
        'ZooKeeper all p50 / p99',
        'peer last p50 / max',
        'ZooKeeper last p50 / max',
        'events missed peer / ZK',
      ],
      rows,
    ),
    '',
    `(b) ${o.znodes} znodes × ${o.watchesPerZnode} watching sessions, then every znode deleted through the leader (pipelined); ` +
      "memory: the sum of the three members' RSS before and after the watches were set (a JVM's RSS does not grow " +
      "while its heap has room, and a Node process's moves with its garbage collector: a rough bound at best).",
    '',
    ...table(
      [
        'target',
        'watches (wchs)',
        'deletes/s',
        'last event after ms',
        'events missing',
        'RSS MiB before → after',
        'KiB per 1k watches',
        'members CPU-s',
      ],
      del,
    ),
  ];
}

function w10(r: SuiteReport): string[] {
  const rows = variantsOf(r.aggregates, 'W10').flatMap(({ topology, variant }) =>
    targetRows(r, 'W10', topology, variant, ({ values: v }, name) => [
      variant.replace('S=', ''),
      name,
      fmt(v.firstWriteMs),
      slash(v.newLeaderServingMs, v.allServingMs),
      fmt(v.expired),
      fmt(v.sessionsThatReconnected),
      slash(v.reconnectP50, v.reconnectP99, v.reconnectMax),
      fmt(v.allSettledMs),
      slash(v.ephemeralsLeft, v.sessions),
      fmt(v.rssBytesPerSession),
    ]),
  );
  const o = r.header.params.w10;
  return [
    `V3O1. S sessions (${o.timeoutMs / 1000} s timeout) spread over all four members, one ephemeral znode each; ${o.workers} of ` +
      `them loop over getData/setData (${o.writePercent}% writes, ${o.thinkMs} ms pause); then SIGKILL of the leader. ` +
      'Sessions reconnect to the next member with their id and password after a random pause of up to 1 s (as the Java ' +
      'client does); the workers retry every 50 ms. First write: from the kill to the first successful setData sent after it. ' +
      "Reconnect: from a session losing its connection to its re-establishment. RSS per session: members' RSS growth " +
      'from opening the sessions and their ephemerals, averaged over the members (rough, as in W9).',
    '',
    ...table(
      [
        'sessions',
        'target',
        'first write after kill ms',
        'new leader serving / all serving ms',
        'sessions expired',
        'sessions that reconnected',
        'reconnect p50 / p99 / max ms',
        'all back after ms',
        'ephemerals left',
        'RSS bytes per session',
      ],
      rows,
      2,
    ),
  ];
}

function cpuDetail(r: SuiteReport): string[] {
  const rows: Row[] = [];
  for (const a of r.aggregates) {
    if (!['W3', 'W4', 'W5'].includes(a.workload)) continue;
    const v = a.values;
    rows.push([
      a.workload,
      a.topology,
      a.variant,
      TARGET_NAME[a.target],
      (a.byRound.opsPerSec ?? []).map(fmt).join(', '),
      fmt(v.leaderCores),
      fmt(v.followersCores),
      fmt(v.observersCores),
      fmt(v.loadgenCores),
      fmt(v.kernelCores),
      fmt(v.othersCores),
      (a.byRound.stealCores ?? []).map(fmt).join(', '),
      fmt(v.rssTotalMiB),
    ]);
  }
  return [
    'Cores used during the measured windows (medians over the rounds; 1.00 = one core busy): followers and observers are ' +
      "sums over the role's members; kernel = kernel threads and interrupts (fsync journal commits, loopback TCP); others = " +
      'processes outside the benchmark (other work on the machine); stolen = CPU the hypervisor gave to other machines, ' +
      'by round (a window with more than 0.15 cores stolen is measured again, up to twice, and the attempt with the least ' +
      'kept). RSS: all members at the end of the window, MiB.',
    '',
    ...table(
      [
        'workload',
        'topology',
        'variant',
        'target',
        'ops/s per round',
        'leader',
        'followers',
        'observers',
        'load generator',
        'kernel',
        'others',
        'stolen per round',
        'RSS MiB',
      ],
      rows,
      4,
    ),
  ];
}

/** The command that makes the committed report (docs/benchmarks.md), for a suite. */
export function rerunCommand(suite: string): string {
  return `bin/zkensemble bench --suite ${suite} --out-dir docs --notes docs/benchmarks/findings.md`;
}

export interface RenderOptions {
  /** Plot file names (relative links), by workload. */
  plots?: Partial<Record<WorkloadId | 'rss', string>>;
  /** Hand-written findings to include. */
  notes?: string;
}

export function renderSuiteMarkdown(r: SuiteReport, o: RenderOptions = {}): string {
  const h = r.header;
  const L: string[] = [];
  const plot = (k: WorkloadId | 'rss', alt: string) => {
    const f = o.plots?.[k];
    if (f) L.push('', `![${alt}](${f})`);
  };
  L.push('# zkensemble and Apache ZooKeeper side by side');
  L.push('');
  L.push(
    `Suite \`${h.suite}\`, run on ${h.date.slice(0, 10)} (${Math.round(h.wallSeconds / 60)} minutes). ` +
      'Every number compares the peer with Apache ZooKeeper in the same topology on the same machine, their runs ' +
      'alternating. To run it again:',
  );
  L.push('', '```sh', rerunCommand(h.suite), '```');
  L.push('', '## Targets (issue 8)', '');
  L.push(
    ...table(
      ['target', 'verdict', 'measured'],
      r.targets.map((t) => [
        t.target,
        t.met === null ? 'not measured' : t.met ? '**met**' : '**not met**',
        t.evidence,
      ]),
      3,
    ),
  );
  if (o.notes) L.push('', '## Findings', '', o.notes.trim());
  const ho = h.host;
  const pr = h.probes;
  L.push('', '## Machine', '');
  L.push(`- ${ho.cpus} × ${ho.cpuModel}, ${ho.memoryMiB} MiB memory, Linux ${ho.kernel}`);
  L.push(`- Node ${ho.node} (the peer and the load generator); ${ho.java}; ${ho.zookeeperPackage}`);
  for (const [name, v] of Object.entries(h.servers))
    L.push(`- ${TARGET_NAME[name as EnsembleTarget] ?? name} answers srvr with: ${v}`);
  L.push(`- The peer's code: commit ${ho.peerRevision ?? 'unknown'}`);
  L.push(`- Data directories on ${ho.dataFilesystem}`);
  L.push(
    `- Load average at start ${ho.loadAverageAtStart.join(' ')}, at end ${ho.loadAverageAtEnd.join(' ')}`,
  );
  L.push(
    `- Calibration (start → end): 1 KB pwrite + fdatasync p50 ${pr.start.fsync1k.p50Us} → ${pr.end.fsync1k.p50Us} µs, ` +
      `p99 ${pr.start.fsync1k.p99Us} → ${pr.end.fsync1k.p99Us} µs; loopback TCP round trip (64 B, two processes) ` +
      `p50 ${pr.start.rtt64.p50Us} → ${pr.end.rtt64.p50Us} µs, p99 ${pr.start.rtt64.p99Us} → ${pr.end.rtt64.p99Us} µs`,
  );
  const ow = h.otherWork;
  L.push(
    `- Other work on the machine during the measured windows: ${fmt(ow.meanCores)} cores on average, ${fmt(ow.maxCores)} at most ` +
      `(over ${ow.windows} windows)${(ow.meanCores ?? 0) > 0.1 ? ' — **the machine was not quiet: absolute numbers are low, ratios less affected**' : ''}`,
  );
  const p = h.params;
  L.push('', '## Method', '');
  L.push(
    `- Both targets get the same zoo.cfg (\`peer/ensemble/local.ts\` plus ${Object.entries(p.config)
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ', ',
      )}); ZooKeeper JVMs run with -Xmx${p.zkHeap} and WARN logging, the peer with LOG_LEVEL=warn. ` +
      'All members listen on 127.0.0.1; every process shares the same cores, the load generator included.',
  );
  L.push(
    '- Load generator: `bench/zkconn.ts`, a raw pipelined client (the same for both targets), single-threaded in the ' +
      'benchmark process; its CPU is measured separately (load generator column below).',
  );
  L.push(
    `- Every cell is a fresh ensemble (fresh JVMs or Node processes and data dirs). ${h.rounds} round(s) of the ` +
      `throughput and latency cells, ${h.scenarioRounds} of the scenario cells (W7, W9, W10); within a cell the two targets ` +
      'run one after the other, in swapped order every round. Numbers are medians over the rounds; latency percentiles are ' +
      'over every sample of every round.',
  );
  L.push(
    `- Measured windows: W3 ${p.w3.durationMs / 1000} s per write share (${p.w3.warmupMs / 1000} s warm-up for the first, ` +
      `${p.w3.stepWarmupMs / 1000} s for the others), W4 and W5 ${p.w4.durationMs / 1000} s, W6 ${p.w6.durationMs / 1000} s; ` +
      `W1 ${p.w1.znodes} znodes per phase after a 200-request warm-up.`,
  );
  L.push(
    '- Trimmed from perf-anchors.md §7 to fit about 30 minutes on 2 cores: 2.5–5 s windows instead of 30 s, W1 with ' +
      `${p.w1.znodes} znodes instead of 10,000, W3 on S1, V3 and V3O2 only (V3O1 and V5 at 100% writes are in W4), ` +
      'W7 on V3O1 only, W9 (a) with N sessions for N watchers.',
  );
  L.push('- Cells:');
  for (const c of h.cells)
    L.push(`  - ${c.topology}: ${c.workloads.join(', ')}${c.scenario ? ' (scenario)' : ''}`);
  const sections: Array<[WorkloadId, (r: SuiteReport) => string[], string]> = [
    ['W1', w1, 'W1 latency'],
    ['W3', w3, 'W3 throughput by write share'],
    ['W4', w4, 'W4 write throughput as members are added'],
    ['W5', w5, 'W5 reads'],
    ['W6', w6, 'W6 lag'],
    ['W7', w7, 'W7 resync'],
    ['W9', w9, 'W9 fan-out'],
    ['W10', w10, 'W10 failover'],
  ];
  for (const [w, render, alt] of sections) {
    if (!r.aggregates.some((a) => a.workload === w)) continue;
    L.push('', `## ${WORKLOAD_TITLES[w]}`, '');
    L.push(...render(r));
    plot(w, alt);
    if (w === 'W7') plot('rss', 'resident memory at the preload');
  }
  if (r.aggregates.some((a) => ['W3', 'W4', 'W5'].includes(a.workload))) {
    L.push('', '## CPU and memory of the throughput runs', '');
    L.push(...cpuDetail(r));
  }
  const disturbed = r.measurements.filter((m) => m.ok && (m.values.othersCores ?? 0) > DISTURBED_CORES);
  if (disturbed.length) {
    L.push('', '## Disturbed windows', '');
    L.push(
      `Windows in which processes outside the benchmark used more than ${DISTURBED_CORES} cores (the medians over the ` +
        'rounds limit their weight):',
      '',
    );
    for (const m of disturbed)
      L.push(
        `- round ${m.round}, ${m.workload} ${m.variant} on ${m.topology}, ${TARGET_NAME[m.target]}: ` +
          `others ${fmt(m.values.othersCores)} cores${m.values.opsPerSec != null ? `, ${fmt(m.values.opsPerSec)} ops/s` : ''}`,
      );
  }
  const failed = [
    ...r.cells
      .filter((c) => !c.ok)
      .map((c) => `- round ${c.round}, ${c.topology} on ${c.target}: ${c.error?.split('\n')[0]}`),
    ...r.measurements
      .filter((m) => !m.ok)
      .map(
        (m) => `- round ${m.round}, ${m.workload} on ${m.topology}, ${m.target}: ${m.error?.split('\n')[0]}`,
      ),
  ];
  if (failed.length) L.push('', '## Failed runs', '', ...failed);
  return `${L.join('\n')}\n`;
}
