// Starts and stops servers for tests and benchmarks: Apache ZooKeeper (Debian package) and the peer,
// each standalone on 127.0.0.1 with a temporary data directory. Every process is stopped by PID.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort, prepareLocalEnsemble, spawnMember } from '../../peer/ensemble/local.ts';
import { stopChild } from './process.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// servlet-api (a dependency of Debian's Jetty) lets ZooKeeper start its AdminServer when a test asks.
export const ZK_CLASSPATH =
  '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/servlet-api.jar';
export const ZKCLI = '/usr/share/zookeeper/bin/zkCli.sh';
export const CLI_MT = '/usr/lib/zookeeper/bin/cli_mt';
/** Debian's python3, which has python3-kazoo (a pyenv python3 on PATH would not). */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** `observer`: a peer ensemble of one voter and one observer; clients talk to the observer. */
export type ServerKind = 'peer' | 'zookeeper' | 'observer';

export interface ServerOptions {
  /** Extra zoo.cfg lines. */
  config?: Record<string, string | number>;
  /** Reuse an existing data directory (for restart tests); otherwise a fresh temporary one. */
  dataDir?: string;
  port?: number;
  /** Extra environment, e.g. NODE_OPTIONS for the peer. */
  env?: Record<string, string>;
  /** Keep the data dir on stop (crash tests restart on it). */
  keepData?: boolean;
  /** The zkensemble executable a peer runs (default the checkout's bin/zkensemble). */
  bin?: string;
}

export interface RunningServer {
  kind: ServerKind;
  port: number;
  host: string;
  connectString: string;
  dataDir: string;
  configPath: string;
  pid: number;
  process: ChildProcess;
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; removes the data dir unless keepData. */
  stop(): Promise<void>;
  /** SIGKILL at once, keeping the data dir. */
  kill9(): Promise<void>;
}

export { freeLoopbackPort as freePort };

export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  proc?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.exitCode !== null)
      throw new Error(`server exited with code ${proc.exitCode} before listening`);
    // ZooKeeper answers ruok before it accepts sessions; srvr says "Mode:" only once it serves.
    if ((await serverMode(host, port)) !== null) return;
    if (Date.now() > deadline)
      throw new Error(`server on ${host}:${port} was not serving within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends a four-letter word and returns the whole reply; a reply not complete within timeoutMs rejects (code TIMEOUT). */
export function fourLetterWord(host: string, port: number, cmd: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error(`4lw ${cmd} timed out`), { code: 'TIMEOUT' }));
    }, timeoutMs);
    sock.on('connect', () => sock.write(cmd));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** The `Mode:` of a srvr reply (leader, follower, observer, standalone), or null without one. */
export function modeOf(srvr: string): string | null {
  return /Mode: (\S+)/.exec(srvr)?.[1] ?? null;
}

/** The server's `Mode:` from srvr, or null when it does not serve (or does not answer within timeoutMs). */
export async function serverMode(host: string, port: number, timeoutMs = 1000): Promise<string | null> {
  return modeOf(await fourLetterWord(host, port, 'srvr', timeoutMs).catch(() => ''));
}

function renderConfig(lines: Record<string, string | number>): string {
  return `${Object.entries(lines)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

export async function startServer(kind: ServerKind, opts: ServerOptions = {}): Promise<RunningServer> {
  if (kind === 'observer') return startObserver(opts);
  const host = '127.0.0.1';
  const port = opts.port ?? (await freeLoopbackPort());
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), `zke-${kind}-`));
  const configPath = join(dataDir, 'zoo.cfg');
  const base: Record<string, string | number> = {
    tickTime: 2000,
    dataDir,
    clientPort: port,
    clientPortAddress: host,
    'admin.enableServer': 'false',
    '4lw.commands.whitelist': '*',
    extendedTypesEnabled: 'true',
    maxClientCnxns: 0,
  };
  writeFileSync(configPath, renderConfig({ ...base, ...opts.config }));
  let proc: ChildProcess;
  if (kind === 'zookeeper') {
    proc = spawn(
      'java',
      [
        '-cp',
        ZK_CLASSPATH,
        '-Xmx1g',
        '-Dzookeeper.extendedTypesEnabled=true',
        '-Dzookeeper.root.logger=WARN,CONSOLE',
        '-Dzookeeper.admin.enableServer=false',
        'org.apache.zookeeper.server.ZooKeeperServerMain',
        configPath,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
    );
  } else {
    proc = spawn(process.execPath, [opts.bin ?? join(REPO_ROOT, 'bin', 'zkensemble'), 'peer', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...opts.env },
    });
  }
  let out = '';
  const keep = (c: Buffer) => {
    out += c.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const pid = proc.pid!;
  const server: RunningServer = {
    kind,
    port,
    host,
    connectString: `${host}:${port}`,
    dataDir,
    configPath,
    pid,
    process: proc,
    output: () => out,
    async stop() {
      await stopChild(proc);
      if (!opts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    kill9: () => stopChild(proc, { signal: 'SIGKILL' }),
  };
  try {
    await waitForPort(host, port, kind === 'zookeeper' ? 30_000 : 15_000, proc);
  } catch (e) {
    await server.stop();
    throw new Error(`${(e as Error).message}\n--- ${kind} output ---\n${out}`);
  }
  return server;
}

/** One voter and one observer; the returned server is the observer (its client port and process). */
async function startObserver(opts: ServerOptions): Promise<RunningServer> {
  // ensemble.ts imports this module; load it when first needed rather than in a static cycle.
  const { controlEnsemble } = await import('./ensemble.ts');
  const root = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'zke-observer-'));
  const specs = await prepareLocalEnsemble(root, 1, 1, { extendedTypesEnabled: 'true', ...opts.config });
  const bin = join(REPO_ROOT, 'bin', 'zkensemble');
  const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...opts.env };
  const ownRoot = !opts.keepData && !opts.dataDir;
  const ensemble = controlEnsemble(root, ownRoot, specs, (m) => spawnMember(bin, m, env), 'peer');
  const observer = ensemble.members.get(2)!;
  const server: RunningServer = {
    kind: 'observer',
    port: observer.clientPort,
    host: observer.host,
    connectString: `${observer.host}:${observer.clientPort}`,
    dataDir: observer.dataDir,
    configPath: observer.configPath,
    pid: observer.process!.pid!,
    process: observer.process!,
    output: () => observer.output,
    stop: () => ensemble.close(),
    async kill9() {
      await Promise.all([...ensemble.members.keys()].map((sid) => ensemble.kill9(sid)));
    },
  };
  try {
    await waitForPort(observer.host, observer.clientPort, 30_000, observer.process!);
  } catch (e) {
    const outputs = [...ensemble.members.values()].map((m) => `--- member ${m.sid} output ---\n${m.output}`);
    await server.stop();
    throw new Error(`${(e as Error).message}\n${outputs.join('\n')}`);
  }
  return server;
}
