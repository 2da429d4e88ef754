// The benchmarks' handle on the servers they measure: fresh loopback ensembles (or one standalone
// server) of either target laid out by peer/ensemble/local.ts, started, waited for, and stopped by
// PID — on errors, deadlines and signals too — plus waiting for the machine to be quiet first.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Ensemble, startEnsemble } from '../e2e/lib/ensemble.ts';
import { until } from '../e2e/lib/wait.ts';
import { startZkEnsemble } from '../e2e/lib/zk-ensemble.ts';
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
export async function startCluster(
  target: EnsembleTarget,
  topo: Topology,
  opts: ClusterOptions,
): Promise<Ensemble> {
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
export async function stopCluster(e: Ensemble): Promise<void> {
  await e.close().catch(() => {});
  live.delete(e);
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

/** A member's process id (it must be running). */
export function pidOf(e: Ensemble, sid: number): number {
  const pid = e.members.get(sid)?.process?.pid;
  if (pid === undefined) throw new Error(`member ${sid} has no process`);
  return pid;
}

export function isUp(e: Ensemble, sid: number): boolean {
  const p = e.members.get(sid)?.process;
  return !!p && p.exitCode === null && p.signalCode === null;
}

/** Ensembles being measured, so that signal and exit handlers can stop their members by PID. */
const live = new Set<Ensemble>();

export function killAllNow(): void {
  for (const e of live) {
    for (const m of e.members.values()) {
      const p = m.process;
      if (p?.pid && p.exitCode === null && p.signalCode === null) {
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
export function guardMembers(log: (line: string) => void): () => void {
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
export async function withDeadline<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
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
export async function waitQuiet(
  waitMs: number,
  cores: number,
  log: (line: string) => void,
): Promise<number | null> {
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
export function keepProfiles(
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
