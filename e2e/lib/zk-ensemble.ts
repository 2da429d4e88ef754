// Starts an Apache ZooKeeper ensemble (Debian package, one QuorumPeerMain JVM per member) on loopback,
// laid out exactly like the peer's local ensembles (peer/ensemble/local.ts: same data dirs, myid files
// and zoo.cfg lines, `:observer` server lines and peerType=observer), so that tests and benchmarks can
// run the same scenario on either. Every JVM is stopped by PID.

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareLocalEnsemble } from '../../peer/ensemble/local.ts';
import { controlEnsemble, type Ensemble } from './ensemble.ts';
import { isRunning } from './process.ts';
import { ZK_CLASSPATH } from './servers.ts';

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
  const ensemble = controlEnsemble(
    root,
    ownRoot,
    specs,
    (m) =>
      spawn('java', zkMemberCommand(m.configPath, opts), {
        stdio: ['ignore', 'pipe', 'pipe'],
        // ZooKeeper reads ZOO_LOG_DIR only through its scripts; keep any stray files in the data dir.
        cwd: m.dataDir,
      }),
    'ZooKeeper',
  );
  // A JVM that dies while forming (bad config, port taken) should fail fast with its output.
  const waitFormed = ensemble.waitFormed;
  ensemble.waitFormed = async (timeoutMs = 60_000, sids) => {
    const dead = () => [...ensemble.members.values()].find((m) => m.process && !isRunning(m.process));
    const formed = waitFormed(timeoutMs, sids);
    formed.catch(() => {}); // observed below; a dead member may end the wait first
    for (;;) {
      const d = dead();
      if (d)
        throw new Error(
          `ZooKeeper member ${d.sid} exited (${d.process!.exitCode ?? d.process!.signalCode}):\n${d.output.slice(-4000)}`,
        );
      const done = await Promise.race([
        formed.then((sid) => sid),
        new Promise<null>((r) => setTimeout(() => r(null), 200)),
      ]);
      if (done !== null) return done;
    }
  };
  return ensemble;
}
