// Closed-loop load generator: many connections, each keeping a fixed number of requests in flight
// (a reply immediately triggers the next request). Latency is measured from the moment a request is
// queued for the socket to the moment its reply is parsed, for replies that arrive inside the
// measurement window (after the warm-up).

import { Err, errorName, OpCode } from '../peer/protocol/constants.ts';
import { Histogram, type HistogramSummary } from './histogram.ts';
import { machineTimes, processCpuSeconds } from './procstat.ts';
import { encodeBody, type ReplyCallback, ZkConnection } from './zkconn.ts';

export const WORKLOADS = ['getData', 'setData'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** The load both benchmarks (bench/run.ts, bench/ensemble.ts) put on every server they measure. */
export interface LoadSettings {
  workloads: Workload[];
  /** Client connections per server (ensemble: in total, spread over the voters). */
  connections: number;
  /** Requests in flight per connection. */
  inflight: number;
  /** Bytes per znode value. */
  valueSize: number;
  warmupMs: number;
  durationMs: number;
  rounds: number;
  /** Extra zoo.cfg lines, the same for every server started. */
  config: Record<string, string>;
  log: (line: string) => void;
}

/** One server's share of a load: its address, how many connections, and their znodes' parent. */
export interface LoadEndpoint {
  host: string;
  port: number;
  connections: number;
  /** Parent znode of this endpoint's znodes (one per connection, made by prepare()). */
  root?: string;
}

export interface LoadOptions {
  host: string;
  port: number;
  workload: Workload;
  connections: number;
  /** Requests in flight per connection. */
  inflight: number;
  /** Bytes per znode value. */
  valueSize: number;
  warmupMs: number;
  durationMs: number;
  /** The server's PID, to measure its CPU time from /proc (optional). */
  serverPid?: number;
  /** Parent znode of the benchmark's znodes. */
  root?: string;
  /**
   * Load several servers at once, in one measurement window (host, port, connections and root above
   * are then ignored); the result counts replies per endpoint too.
   */
  endpoints?: LoadEndpoint[];
  /**
   * Mix reads and writes: this percentage of each connection's requests are setData, the rest
   * getData (interleaved evenly), whatever `workload` says.
   */
  writePercent?: number;
  /** Called when the measurement window opens and closes (to sample other processes' CPU). */
  onWindow?: (edge: 'start' | 'end') => void;
  /**
   * At most this many requests per second over all connections: a request waits for its turn, and
   * turns nobody was waiting for are skipped rather than owed (no bursts after a stall). Unset: each
   * reply sends the next request at once (saturation).
   */
  ratePerSec?: number;
}

export interface LoadResult {
  workload: Workload;
  connections: number;
  inflight: number;
  valueSize: number;
  /** Length of the measurement window in seconds (excluding warm-up). */
  seconds: number;
  /** Replies received inside the window (errors included). */
  ops: number;
  opsPerSec: number;
  /** Replies with a non-zero error code inside the window, plus requests lost with a connection. */
  errors: number;
  errorCodes: Record<string, number>;
  warmupErrors: number;
  /** Connections that closed before the end of the run. */
  connectionsLost: number;
  /** Replies inside the window per endpoint, in the order given (one entry without endpoints). */
  opsByEndpoint: number[];
  /** Writes among the replies inside the window. */
  writes: number;
  latencyMs: HistogramSummary;
  /** CPU time of the benchmark process during the window, in cores (1.0 = one core busy). */
  loadgenCpuCores: number;
  /** Fraction of the window the benchmark's event loop was busy (1.0 = saturated load generator). */
  loadgenEventLoopUtilization: number;
  /** CPU time of the server process during the window, in cores; null when its PID is unknown. */
  serverCpuCores: number | null;
  /** Whole-machine busy CPU during the window (all processes, kernel included), in cores. */
  machineCpuCores: number | null;
  histogram: Histogram;
}

/** Busy CPU seconds of the whole machine (all but idle and iowait: steal included), since boot. */
function machineBusyInclSteal(): number | null {
  const t = machineTimes();
  return t && t.processes + t.irq + t.steal;
}

/** A value of `size` bytes (printable, the same every time). */
export function valueOfSize(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = 0x61 + (i % 26);
  return b;
}

/** Creates the root and one znode per connection holding a value of the configured size. */
export async function prepare(opts: LoadOptions): Promise<void> {
  const root = opts.root ?? '/zkbench';
  const conn = await ZkConnection.connectRetry({ host: opts.host, port: opts.port });
  try {
    const data = valueOfSize(opts.valueSize);
    const r = await conn.call({ type: OpCode.create, path: root, data: null, acl: OPEN_ACL, flags: 0 });
    if (r.err !== Err.OK && r.err !== Err.NODEEXISTS) throw new Error(`create ${root}: ${errorName(r.err)}`);
    const results = await Promise.all(
      Array.from({ length: opts.connections }, async (_, i) => {
        const path = `${root}/n${i}`;
        const c = await conn.call({ type: OpCode.create, path, data, acl: OPEN_ACL, flags: 0 });
        if (c.err === Err.NODEEXISTS)
          return (await conn.call({ type: OpCode.setData, path, data, version: -1 })).err;
        return c.err;
      }),
    );
    const bad = results.find((e) => e !== Err.OK);
    if (bad !== undefined) throw new Error(`preparing ${root}/n*: ${errorName(bad)}`);
  } finally {
    await conn.close();
  }
}

export const OPEN_ACL = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

/** The endpoints a load goes to: opts.endpoints, or the single host/port/connections/root. */
function endpointsOf(opts: LoadOptions): LoadEndpoint[] {
  return (
    opts.endpoints ?? [{ host: opts.host, port: opts.port, connections: opts.connections, root: opts.root }]
  );
}

/**
 * Whether request number i of a connection is a write, for a mix of `percent` % writes: spreads the
 * writes evenly (Bresenham), so that every window of 100 requests has the same mix.
 */
export function isWrite(i: number, percent: number): boolean {
  return Math.floor(((i + 1) * percent) / 100) > Math.floor((i * percent) / 100);
}

/** Runs one workload against servers that have been prepared with prepare(). */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const data = valueOfSize(opts.valueSize);
  const eps = endpointsOf(opts);
  const plan = eps.flatMap((ep, e) =>
    Array.from({ length: ep.connections }, (_, i) => ({ e, path: `${ep.root ?? '/zkbench'}/n${i}` })),
  );
  const conns = await Promise.all(
    plan.map(({ e }) => ZkConnection.connect({ host: eps[e]!.host, port: eps[e]!.port })),
  );
  const hist = new Histogram();
  const errorCodes = new Map<number, number>();
  const opsByEndpoint = eps.map(() => 0);
  let phase: 'warmup' | 'measure' | 'drain' = 'warmup';
  let ops = 0;
  let writes = 0;
  let errors = 0;
  let warmupErrors = 0;
  let active = conns.length;
  let allDrained!: () => void;
  const drained = new Promise<void>((r) => (allDrained = r));
  const mix = opts.writePercent;
  const pacer = opts.ratePerSec ? new Pacer(opts.ratePerSec) : null;

  conns.forEach((conn, i) => {
    const { e, path } = plan[i]!;
    const readBody = encodeBody({ type: OpCode.getData, path, watch: false });
    const writeBody = encodeBody({ type: OpCode.setData, path, data, version: -1 });
    let seq = i; // offset each connection's mix so that they do not all write at once
    const writeNext = (): boolean => (mix === undefined ? opts.workload === 'setData' : isWrite(seq++, mix));
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (--active === 0) allDrained();
    };
    const sendNow = () => {
      if (writeNext()) conn.send(OpCode.setData, writeBody, onWrite);
      else conn.send(OpCode.getData, readBody, onRead);
    };
    const sendNext = pacer
      ? () =>
          pacer.take((sent) => {
            if (sent && !conn.closed) sendNow();
            else if (conn.inFlight === 0 || conn.closed) finish();
          })
      : sendNow;
    const onReply = (err: number, sentAt: number, write: boolean) => {
      if (phase === 'measure') {
        hist.record((performance.now() - sentAt) * 1000);
        ops++;
        opsByEndpoint[e]!++;
        if (write) writes++;
        if (err !== 0) {
          errors++;
          errorCodes.set(err, (errorCodes.get(err) ?? 0) + 1);
        }
      } else if (phase === 'warmup' && err !== 0) {
        warmupErrors++;
      }
      if (phase !== 'drain' && !conn.closed) sendNext();
      else if (conn.inFlight === 0 || conn.closed) finish();
    };
    const onRead: ReplyCallback = (err, _b, _z, sentAt) => onReply(err, sentAt, false);
    const onWrite: ReplyCallback = (err, _b, _z, sentAt) => onReply(err, sentAt, true);
    for (let k = 0; k < opts.inflight; k++) sendNext();
  });

  await new Promise((r) => setTimeout(r, opts.warmupMs));
  phase = 'measure';
  opts.onWindow?.('start');
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const srv0 = opts.serverPid ? processCpuSeconds(opts.serverPid) : null;
  const machine0 = machineBusyInclSteal();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, opts.durationMs));
  phase = 'drain';
  pacer?.stop();
  const t1 = performance.now();
  opts.onWindow?.('end');
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const srv1 = opts.serverPid ? processCpuSeconds(opts.serverPid) : null;
  const machine1 = machineBusyInclSteal();
  const seconds = (t1 - t0) / 1000;

  const drainTimer = setTimeout(() => {
    for (const c of conns) c.destroy();
  }, 10_000);
  await drained;
  clearTimeout(drainTimer);
  const connectionsLost = conns.filter((c) => c.closed).length;
  await Promise.all(conns.map((c) => c.close()));

  const codes: Record<string, number> = {};
  for (const [code, n] of errorCodes) codes[errorName(code)] = n;
  return {
    workload: opts.workload,
    connections: conns.length,
    inflight: opts.inflight,
    valueSize: opts.valueSize,
    seconds,
    ops,
    opsPerSec: ops / seconds,
    errors,
    errorCodes: codes,
    warmupErrors,
    connectionsLost,
    opsByEndpoint,
    writes,
    latencyMs: hist.summary(),
    loadgenCpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
    loadgenEventLoopUtilization: elu.utilization,
    serverCpuCores: srv0 !== null && srv1 !== null ? (srv1 - srv0) / seconds : null,
    machineCpuCores: machine0 !== null && machine1 !== null ? (machine1 - machine0) / seconds : null,
    histogram: hist,
  };
}

/**
 * runLoad with `sample()` taken as the measurement window opens and as it closes (the CPU of other
 * processes, read by the caller).
 */
export async function runLoadSampled<S>(
  opts: Omit<LoadOptions, 'onWindow'>,
  sample: () => S,
): Promise<{ r: LoadResult; start: S; end: S }> {
  let start: S | undefined;
  let end: S | undefined;
  const r = await runLoad({
    ...opts,
    onWindow: (edge) => {
      if (edge === 'start') start = sample();
      else end = sample();
    },
  });
  return { r, start: start!, end: end! };
}

/**
 * Hands out turns at a fixed rate, in the order they were asked for. `now` and `everyMs` are there
 * for tests: a clock, and how often the pacer looks at it by itself (0: only when asked, or on tick()).
 */
export class Pacer {
  private readonly rate: number;
  private readonly now: () => number;
  private readonly t0: number;
  private given = 0;
  private waiting: ((sent: boolean) => void)[] = [];
  private head = 0;
  private readonly timer: NodeJS.Timeout | null;

  constructor(ratePerSec: number, now = () => performance.now(), everyMs = 1) {
    this.rate = ratePerSec;
    this.now = now;
    this.t0 = now();
    this.timer = everyMs > 0 ? setInterval(() => this.tick(), everyMs) : null;
  }

  /** `go(true)` when its turn comes; `go(false)` if the pacer stops first. */
  take(go: (sent: boolean) => void): void {
    this.waiting.push(go);
    this.tick();
  }

  /** Waiters get the turns due by now; turns that came due with nobody waiting are dropped. */
  tick(): void {
    const due = Math.floor(((this.now() - this.t0) / 1000) * this.rate);
    while (this.given < due && this.head < this.waiting.length) {
      this.given++;
      this.waiting[this.head++]!(true);
    }
    // Turns due with nobody waiting are dropped; never wound back (a waiter asking from its turn
    // ran this again, with a later clock, before this round finished).
    if (this.head === this.waiting.length) this.given = Math.max(this.given, due);
    if (this.head > 1024) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    const left = this.waiting.slice(this.head);
    this.waiting = [];
    this.head = 0;
    for (const go of left) go(false);
  }
}
