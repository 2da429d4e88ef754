// The benchmarks' handle on the servers they measure: fresh loopback ensembles (or one standalone
// server) of either target laid out by peer/ensemble/local.ts, started, waited for, and stopped by
// PID — on errors, deadlines and signals too — plus the round-robin both benchmarks run them in,
// each run after the machine has gone quiet.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Ensemble, startEnsemble } from '../e2e/lib/ensemble.ts';
import { isRunning } from '../e2e/lib/process.ts';
import { until } from '../e2e/lib/wait.ts';
import { startZkEnsemble } from '../e2e/lib/zk-ensemble.ts';
import { serverVersion } from './host.ts';
import { compiledPeerBin } from './peer-build.ts';
import { machineBusySeconds, type Role } from './procstat.ts';

export type EnsembleTarget = 'peer' | 'zookeeper';
export const ENSEMBLE_TARGETS: readonly EnsembleTarget[] = ['peer', 'zookeeper'];
export const TARGET_NAME: Record<EnsembleTarget, string> = { peer: 'peer', zookeeper: 'ZooKeeper' };

export interface Topology {
  voters: number;
  observers: number;
  /** "3+2"; "1+0" is a standalone server. */
  label: string;
}

/** Parses "3+0,3+2,5" (a bare number means no observers; 1 or 1+0 is a standalone server). */
export function parseTopologies(text: string): Topology[] {
  const out: Topology[] = [];
  for (const raw of text.split(',')) {
    const s = raw.trim();
    const m = /^(\d+)(?:\+(\d+))?$/.exec(s);
    if (!m) throw new Error(`topology wants VOTERS+OBSERVERS (e.g. 3+2), got '${s}'`);
    const voters = Number(m[1]);
    const observers = Number(m[2] ?? 0);
    if (voters < 1 || (voters === 1 && observers > 0))
      throw new Error(`topology ${s}: an ensemble needs at least 2 voters (1+0 is a standalone server)`);
    if (voters + observers > 15) throw new Error(`topology ${s}: at most 15 members on one machine`);
    const label = `${voters}+${observers}`;
    if (out.some((t) => t.label === label)) throw new Error(`topology ${label} given twice`);
    out.push({ voters, observers, label });
  }
  if (out.length === 0) throw new Error('no topology given');
  return out;
}

export function topology(label: string): Topology {
  return parseTopologies(label)[0]!;
}

export interface ClusterOptions {
  /** Extra zoo.cfg lines, the same for every member of either target. */
  config: Record<string, string>;
  /** -Xmx of each ZooKeeper JVM. */
  zkHeap: string;
  /** Run the peer members with --cpu-prof, writing their profiles there. */
  cpuProfDir?: string | null;
}

/** Starts every member of a fresh ensemble of `target`; wait for it with waitServing(). */
async function startCluster(target: EnsembleTarget, topo: Topology, opts: ClusterOptions): Promise<Ensemble> {
  let e: Ensemble;
  if (target === 'zookeeper') {
    e = await startZkEnsemble({
      voters: topo.voters,
      observers: topo.observers,
      config: opts.config,
      heap: opts.zkHeap,
    });
  } else {
    // startEnsemble hands this process's environment to the members it spawns (synchronously, at the
    // end of the call): profiling is switched on for exactly those spawns.
    const bin = compiledPeerBin();
    const saved = process.env.NODE_OPTIONS;
    const prof = opts.cpuProfDir;
    if (prof) {
      mkdirSync(prof, { recursive: true });
      process.env.NODE_OPTIONS = `${saved ?? ''} --cpu-prof --cpu-prof-dir=${prof}`.trim();
    }
    try {
      e = await startEnsemble({
        voters: topo.voters,
        observers: topo.observers,
        config: opts.config,
        logLevel: 'warn',
        bin,
      });
    } finally {
      if (prof) {
        if (saved === undefined) delete process.env.NODE_OPTIONS;
        else process.env.NODE_OPTIONS = saved;
      }
    }
  }
  live.add(e);
  return e;
}

/** Stops every member (SIGTERM, then SIGKILL) and removes the data dirs. */
async function stopCluster(e: Ensemble): Promise<void> {
  await e.close().catch(() => {});
  live.delete(e);
}

/** A fresh ensemble that has formed, as withCluster() hands it to its body. */
export interface FormedCluster {
  e: Ensemble;
  /** The leader's sid; a body that changes the leader updates it (the profiles are named by it). */
  leaderSid: number;
  /** From start to formed (one leader, everyone serving). */
  formMs: number;
  roles: Record<string, Role>;
  /** The leader's `srvr` version line. */
  version: string;
}

export interface WithClusterOptions extends Omit<ClusterOptions, 'cpuProfDir'> {
  formTimeoutMs: number;
  /** Run the peer's members with --cpu-prof and keep their profiles in dir, named by name. */
  profile?: { dir: string; name: string };
  log: (line: string) => void;
}

/**
 * Starts a fresh ensemble of `target`, waits until it has formed (if it does not, the error quotes
 * the last lines of each member that does not serve), runs `body` on it, and stops it whatever
 * happens.
 */
export async function withCluster<T>(
  target: EnsembleTarget,
  topo: Topology,
  opts: WithClusterOptions,
  body: (c: FormedCluster) => Promise<T>,
): Promise<T> {
  const profDir =
    target === 'peer' && opts.profile ? join(opts.profile.dir, `${opts.profile.name}-tmp`) : null;
  const t0 = performance.now();
  const e = await startCluster(target, topo, { ...opts, cpuProfDir: profDir });
  let formed: FormedCluster | null = null;
  try {
    let leaderSid: number;
    try {
      leaderSid = await waitServing(e, opts.formTimeoutMs);
    } catch (err) {
      throw new Error([(err as Error).message, ...(await silentTails(e))].join('\n'));
    }
    formed = {
      e,
      leaderSid,
      formMs: Math.round(performance.now() - t0),
      roles: await memberRoles(e),
      version: await serverVersion('127.0.0.1', e.members.get(leaderSid)!.clientPort),
    };
    return await body(formed);
  } finally {
    await stopCluster(e);
    if (profDir)
      keepProfiles(profDir, opts.profile!.dir, e, formed?.leaderSid ?? 0, opts.profile!.name, opts.log);
  }
}

/** The last lines each member that does not serve wrote: why an ensemble did not form. */
async function silentTails(e: Ensemble): Promise<string[]> {
  const modes = await Promise.all(
    [...e.members.keys()].map(async (sid) => [sid, await e.mode(sid)] as const),
  );
  return modes
    .filter(([, m]) => m === null)
    .map(
      ([sid]) =>
        `member ${sid}: ${e.members.get(sid)!.output.trim().split('\n').slice(-5).join(' | ').slice(-600)}`,
    );
}

/**
 * Waits until every running member serves and exactly one leads (a standalone server: serves);
 * returns the leader's sid (the standalone server's).
 */
export async function waitServing(e: Ensemble, timeoutMs: number): Promise<number> {
  if (e.members.size === 1) {
    const [sid] = e.members.keys();
    await until('the standalone server to serve', timeoutMs, async () => (await e.mode(sid!)) !== null, {
      everyMs: 100,
    });
    return sid!;
  }
  return e.waitFormed(timeoutMs);
}

/** Each member's role, from srvr. */
export async function memberRoles(e: Ensemble): Promise<Record<string, Role>> {
  const roles: Record<string, Role> = {};
  for (const sid of e.members.keys()) {
    const mode = await e.mode(sid);
    roles[sid] =
      mode === 'leader' || mode === 'observer' || mode === 'standalone' ? mode : ('follower' as Role);
  }
  return roles;
}

export function isUp(e: Ensemble, sid: number): boolean {
  const p = e.members.get(sid)?.process;
  return !!p && isRunning(p);
}

/** Ensembles being measured, so that signal and exit handlers can stop their members by PID. */
const live = new Set<Ensemble>();

function killAllNow(): void {
  for (const e of live) {
    for (const m of e.members.values()) {
      const p = m.process;
      if (p?.pid && isRunning(p)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {}
      }
    }
  }
}

/**
 * Until the returned function is called: on SIGINT/SIGTERM kill every member, remove the data dirs
 * and exit; on exit kill every member.
 */
function guardMembers(log: (line: string) => void): () => void {
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping the ensemble and exiting`);
    killAllNow();
    for (const e of live) rmSync(e.root, { recursive: true, force: true, maxRetries: 3 });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('exit', killAllNow);
  return () => {
    killAllNow();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAllNow);
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects after ms (the caller's finally then stops the ensemble, which ends any pending load). */
async function withDeadline<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits up to waitMs until the machine's busy CPU over one second is below `cores` (the benchmark
 * shares the cores with whatever else runs); returns the last reading, null if unreadable.
 */
async function waitQuiet(waitMs: number, cores: number, log: (line: string) => void): Promise<number | null> {
  const deadline = performance.now() + waitMs;
  let logged = false;
  for (;;) {
    const a = machineBusySeconds();
    const t0 = performance.now();
    await sleep(1000);
    const b = machineBusySeconds();
    if (a === null || b === null) return null;
    const busy = (b - a) / ((performance.now() - t0) / 1000);
    if (busy < cores || performance.now() > deadline) {
      if (busy >= cores) log(`  machine still busy (${busy.toFixed(2)} cores used by others): going on`);
      return Math.round(busy * 100) / 100;
    }
    if (!logged) log(`  waiting for the machine to be idle (${busy.toFixed(2)} cores used by others)...`);
    logged = true;
  }
}

export function javaVersion(): string {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 10_000 });
  return (r.stderr || r.stdout || '').split('\n')[0]?.trim() || 'unknown';
}

/** Moves the leader's profile from profDir to DIR/leader-NAME.cpuprofile, the others' to memberN-NAME. */
function keepProfiles(
  profDir: string,
  outDir: string,
  e: Ensemble,
  leaderSid: number,
  name: string,
  log: (line: string) => void,
): void {
  const leaderPid = e.members.get(leaderSid)?.process?.pid;
  try {
    for (const f of readdirSync(profDir)) {
      const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1]);
      const sid = [...e.members.values()].find((m) => m.process?.pid === pid)?.sid ?? 0;
      const to = pid === leaderPid ? `leader-${name}.cpuprofile` : `member${sid}-${name}.cpuprofile`;
      renameSync(join(profDir, f), join(outDir, to));
    }
    rmSync(profDir, { recursive: true, force: true });
    log(`  CPU profiles in ${outDir} (leader-${name}.cpuprofile)`);
  } catch (err) {
    log(`  could not collect CPU profiles: ${(err as Error).message}`);
  }
}

/** One run of a cell on a target in a round, as runRounds() hands it out. */
export interface RunSlot<C> {
  target: EnsembleTarget;
  cell: C;
  round: number;
  /** Cores other processes used just before the run; null when not waited for. */
  busyBeforeStart: number | null;
  /** performance.now() at the start of the run (after the wait for a quiet machine). */
  startedAt: number;
  /** Set once the run is past its deadline: it should stop at its next step. */
  abandoned: { value: boolean };
}

export interface RoundsOptions<C> {
  rounds: number;
  cells: readonly C[];
  targets: readonly EnsembleTarget[];
  /** How the log and a missed deadline name a cell ("3+2"). */
  label: (cell: C) => string;
  /** Whether the cell runs in this round (default: in every round). */
  runsIn?: (cell: C, round: number) => boolean;
  deadlineMs: number;
  /** Before each run, wait up to quietWaitMs for other work to drop below quietCores (0: do not). */
  quietWaitMs: number;
  quietCores: number;
  /** Pause between runs. */
  pauseMs: number;
  log: (line: string) => void;
}

export interface RunHandlers<C, T> {
  run: (slot: RunSlot<C>) => Promise<T>;
  /** A run that finished within its deadline. */
  done: (slot: RunSlot<C>, result: T) => void;
  /** A run that threw or missed its deadline. */
  failed: (slot: RunSlot<C>, error: string) => void;
}

/**
 * Round after round, every cell on every target — the targets' order swapped every other round, so
 * that neither always runs first — one run at a time: wait for a quiet machine, run under a
 * deadline, then kill whatever members the run left (a run past its deadline may still be going).
 * Until all are done, SIGINT and SIGTERM stop every member and exit.
 */
export async function runRounds<C, T>(o: RoundsOptions<C>, h: RunHandlers<C, T>): Promise<void> {
  const unguard = guardMembers(o.log);
  try {
    for (let round = 1; round <= o.rounds; round++) {
      for (const cell of o.cells) {
        if (o.runsIn && !o.runsIn(cell, round)) continue;
        const order = round % 2 === 1 ? o.targets : [...o.targets].reverse();
        for (const target of order) {
          o.log(`round ${round}/${o.rounds}: ${o.label(cell)} on ${target}`);
          const busyBeforeStart =
            o.quietWaitMs > 0 ? await waitQuiet(o.quietWaitMs, o.quietCores, o.log) : null;
          const slot: RunSlot<C> = {
            target,
            cell,
            round,
            busyBeforeStart,
            startedAt: performance.now(),
            abandoned: { value: false },
          };
          try {
            h.done(slot, await withDeadline(`${target} ${o.label(cell)}`, o.deadlineMs, h.run(slot)));
          } catch (err) {
            const message = (err as Error).message;
            o.log(`  FAILED: ${message.split('\n')[0]}`);
            h.failed(slot, message);
          } finally {
            slot.abandoned.value = true;
            killAllNow();
          }
          await sleep(o.pauseMs);
        }
      }
    }
  } finally {
    unguard();
  }
}
