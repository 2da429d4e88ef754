// Starts an Apache ZooKeeper ensemble (Debian package, one QuorumPeerMain JVM per member) on loopback,
// laid out exactly like the peer's local ensembles (peer/ensemble/local.ts: same data dirs, myid files
// and zoo.cfg lines, `:observer` server lines and peerType=observer), so that tests and benchmarks can
// run the same scenario on either. Every JVM is stopped by PID.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareLocalEnsemble } from '../../peer/ensemble/local.ts';
import type { Ensemble, Member } from './ensemble.ts';
import { fourLetterWord, ZK_CLASSPATH } from './servers.ts';

export interface ZkEnsembleOptions {
  voters: number;
  observers: number;
  /** Extra zoo.cfg lines (the same for every member). */
  config?: Record<string, string | number>;
  /** -Xmx of every JVM (default 256m: a member holds a small tree, and several share the machine). */
  heap?: string;
  /** More JVM options, e.g. -XX:+UseSerialGC. */
  jvmArgs?: string[];
  /** ZooKeeper's log4j root logger (default WARN,CONSOLE). */
  logger?: string;
  /** Where to lay out the members (default: a fresh temporary directory, removed by close()). */
  root?: string;
}

/** The java command line of one member, for inspection and for the benchmark's report. */
export function zkMemberCommand(configPath: string, opts: ZkEnsembleOptions): string[] {
  return [
    '-cp',
    ZK_CLASSPATH,
    `-Xmx${opts.heap ?? '256m'}`,
    ...(opts.jvmArgs ?? []),
    `-Dzookeeper.root.logger=${opts.logger ?? 'WARN,CONSOLE'}`,
    '-Dzookeeper.admin.enableServer=false',
    '-Dzookeeper.4lw.commands.whitelist=*',
    'org.apache.zookeeper.server.quorum.QuorumPeerMain',
    configPath,
  ];
}

/** Starts every member; call waitFormed() before using it, and close() in a finally. */
export async function startZkEnsemble(opts: ZkEnsembleOptions): Promise<Ensemble> {
  const ownRoot = opts.root === undefined;
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'zke-zkensemble-'));
  const extra = { 'admin.enableServer': 'false', ...opts.config };
  const specs = await prepareLocalEnsemble(root, opts.voters, opts.observers, extra);
  const members = new Map<number, Member>(specs.map((s) => [s.sid, { ...s, process: null, output: '' }]));
  const running = (m: Member) =>
    m.process !== null && m.process.exitCode === null && m.process.signalCode === null;
  const ensemble: Ensemble = {
    members,
    root,
    start(sid) {
      const m = members.get(sid)!;
      if (running(m)) return;
      const p = spawn('java', zkMemberCommand(m.configPath, opts), {
        stdio: ['ignore', 'pipe', 'pipe'],
        // ZooKeeper reads ZOO_LOG_DIR only through its scripts; keep any stray files in the data dir.
        cwd: m.dataDir,
      });
      const keep = (c: Buffer) => {
        m.output += c.toString();
        if (m.output.length > 2_000_000) m.output = m.output.slice(-1_000_000);
      };
      p.stdout?.on('data', keep);
      p.stderr?.on('data', keep);
      m.process = p;
    },
    async kill9(sid) {
      const p = members.get(sid)!.process;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
    async stop(sid) {
      const p = members.get(sid)!.process;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
    async mode(sid) {
      const m = members.get(sid)!;
      const text = await fourLetterWord('127.0.0.1', m.clientPort, 'srvr', 1000).catch(() => '');
      return /Mode: (\S+)/.exec(text)?.[1] ?? null;
    },
    async waitFormed(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const live = [...members.values()].filter(running);
        const dead = [...members.values()].filter((m) => m.process && !running(m));
        if (dead.length > 0) {
          const m = dead[0]!;
          throw new Error(
            `ZooKeeper member ${m.sid} exited (${m.process!.exitCode ?? m.process!.signalCode}):\n${m.output.slice(-4000)}`,
          );
        }
        const modes = await Promise.all(live.map((m) => ensemble.mode(m.sid)));
        const leaders = live.filter((_, i) => modes[i] === 'leader');
        if (live.length > 0 && modes.every((x) => x !== null) && leaders.length === 1) return leaders[0]!.sid;
        if (Date.now() > deadline) {
          throw new Error(
            `ZooKeeper ensemble did not form within ${timeoutMs} ms: ${live.map((m, i) => `${m.sid}=${modes[i]}`).join(' ')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    connectString(sids) {
      return [...members.values()]
        .filter((m) => !sids || sids.includes(m.sid))
        .map((m) => `127.0.0.1:${m.clientPort}`)
        .join(',');
    },
    async close() {
      await Promise.all([...members.keys()].map((sid) => ensemble.stop(sid)));
      if (ownRoot) rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (const sid of members.keys()) ensemble.start(sid);
  } catch (e) {
    await ensemble.close();
    throw e;
  }
  return ensemble;
}
