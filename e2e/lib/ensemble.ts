// Starts an ensemble of peer processes on loopback: voters and observers, each with its own data
// dir, myid and ports, so tests can kill, restart and query members by sid.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalMember, prepareLocalEnsemble, spawnMember } from '../../peer/ensemble/local.ts';
import { isRunning, stopChild } from './process.ts';
import { REPO_ROOT, serverMode } from './servers.ts';
import { until } from './wait.ts';

type MemberSpec = LocalMember;

export interface Member extends MemberSpec {
  process: ChildProcess | null;
  output: string;
}

export interface Ensemble {
  members: Map<number, Member>;
  root: string;
  start(sid: number): void;
  kill9(sid: number): Promise<void>;
  stop(sid: number): Promise<void>;
  /** `Mode:` from srvr, or null when the member does not serve. */
  mode(sid: number): Promise<string | null>;
  /** Waits until every running member (or every member in sids) serves and exactly one leads; returns the leader's sid. */
  waitFormed(timeoutMs?: number, sids?: readonly number[]): Promise<number>;
  connectString(sids?: number[]): string;
  close(): Promise<void>;
}

export interface EnsembleOptions {
  voters: number;
  observers: number;
  /** Extra zoo.cfg lines. */
  config?: Record<string, string | number>;
  /** LOG_LEVEL for the members (debug shows every Zab packet received). */
  logLevel?: string;
  /** Loopback address per member (default 127.0.0.1). */
  hostFor?: (sid: number) => string;
  /** Extra zoo.cfg lines per member. */
  extraFor?: (sid: number) => Record<string, string | number>;
  /** The zkensemble executable members run (default the checkout's bin/zkensemble). */
  bin?: string;
}

export async function startEnsemble(opts: EnsembleOptions): Promise<Ensemble> {
  const root = mkdtempSync(join(tmpdir(), 'zke-ensemble-'));
  const specs: MemberSpec[] = await prepareLocalEnsemble(
    root,
    opts.voters,
    opts.observers,
    opts.config,
    undefined,
    {
      ...(opts.hostFor ? { hostFor: opts.hostFor } : {}),
      ...(opts.extraFor ? { extraFor: opts.extraFor } : {}),
    },
  );
  const bin = opts.bin ?? join(REPO_ROOT, 'bin', 'zkensemble');
  const env = { ...process.env, LOG_LEVEL: opts.logLevel ?? 'info' };
  return controlEnsemble(root, true, specs, (m) => spawnMember(bin, m, env), 'peer');
}

const running = (m: Member) => m.process !== null && isRunning(m.process);

/**
 * Starts every member with `launch` and returns the handle tests and benchmarks use, for peer and
 * Apache ZooKeeper ensembles alike. close() stops every process (by PID) and, when ownRoot, deletes root.
 */
export function controlEnsemble(
  root: string,
  ownRoot: boolean,
  specs: readonly MemberSpec[],
  launch: (m: Member) => ChildProcess,
  what: string,
): Ensemble {
  const members = new Map<number, Member>(specs.map((s) => [s.sid, { ...s, process: null, output: '' }]));
  const ensemble: Ensemble = {
    members,
    root,
    start(sid) {
      const m = members.get(sid)!;
      if (running(m)) return;
      const p = launch(m);
      const keep = (c: Buffer) => {
        m.output += c.toString();
        if (m.output.length > 4_000_000) m.output = m.output.slice(-2_000_000);
      };
      p.stdout?.on('data', keep);
      p.stderr?.on('data', keep);
      m.process = p;
    },
    async kill9(sid) {
      const p = members.get(sid)!.process;
      if (p) await stopChild(p, { signal: 'SIGKILL' });
    },
    async stop(sid) {
      const p = members.get(sid)!.process;
      if (p) await stopChild(p);
    },
    mode(sid) {
      const m = members.get(sid)!;
      return serverMode(m.host, m.clientPort);
    },
    waitFormed(timeoutMs = 30_000, sids) {
      let last = '';
      return until(
        `the ${what} ensemble to form`,
        timeoutMs,
        async () => {
          const live = [...members.values()].filter((m) => (sids ? sids.includes(m.sid) : running(m)));
          const modes = await Promise.all(live.map((m) => ensemble.mode(m.sid)));
          last = live.map((m, i) => `${m.sid}=${modes[i]}`).join(' ');
          const leaders = live.filter((_, i) => modes[i] === 'leader');
          return live.length > 0 && modes.every((x) => x !== null) && leaders.length === 1
            ? leaders[0]!.sid
            : null;
        },
        { detail: () => `modes: ${last}` },
      );
    },
    connectString(sids) {
      return [...members.values()]
        .filter((m) => !sids || sids.includes(m.sid))
        .map((m) => `${m.host}:${m.clientPort}`)
        .join(',');
    },
    async close() {
      await Promise.all([...members.keys()].map((sid) => ensemble.stop(sid)));
      if (ownRoot) rmSync(root, { recursive: true, force: true });
    },
  };
  for (const sid of members.keys()) ensemble.start(sid);
  return ensemble;
}
