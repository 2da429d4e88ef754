// Command line: `peer CONFIG`, `local`, `bench`, `operator`.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { observabilitySettings } from './admin/settings.ts';
import { loadDynamicConfig } from './config/dynamic-config.ts';
import { ConfigError, isStandalone, parseZooConfig, type ZooConfig } from './config/zoocfg.ts';
import {
  adminUrl,
  connectString,
  observerMasterLayout,
  prepareLocalEnsemble,
  spawnMember,
} from './ensemble/local.ts';
import { type RunningMember, startMember } from './ensemble/member.ts';
import { DEFAULT_IDLE_GC, startIdleGc } from './idle-gc.ts';
import { log } from './log.ts';
import { type RunningPeer, startPeer } from './peer.ts';

const LOCAL_USAGE = `  local [--voters N --observers M [--observer-master]]
                  run a standalone peer on 127.0.0.1:2181, or a loopback ensemble of N voters and
                  M observers (one process each), with temporary data dirs; --observer-master
                  makes the observers sync from followers (observerMasterPort, one 127.0.0.<id>
                  address per member)`;

const USAGE = `usage: zkensemble <command>
  peer CONFIG     run one server from a ZooKeeper zoo.cfg (standalone when it lists no other servers)
  peer --k8s DIR  run one server of a ZkEnsemble pod from the operator's config in DIR
${LOCAL_USAGE}
  bench [opts]    load-test the peer side by side with Apache ZooKeeper (see 'bench --help')
  operator [opts]  run the Kubernetes operator (see 'operator --help')`;

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'peer':
      return runPeer(rest);
    case 'local':
      return runLocal(rest);
    case 'bench': {
      const { runBench } = await import('../bench/cli.ts');
      process.exitCode = await runBench(rest);
      return;
    }
    case 'operator': {
      const { runOperator } = await import('../operator/main.ts');
      return runOperator(rest);
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return;
    default:
      console.error(`unknown command: ${cmd}\n${USAGE}`);
      process.exit(2);
  }
}

function loadConfig(path: string): ZooConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const cfg = parseZooConfig(text);
    loadDynamicConfig(cfg, path);
    return cfg;
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${path}: ${e.message}`);
    throw e;
  }
}

async function runPeer(args: string[]): Promise<void> {
  let path = args[0];
  if (path === '--k8s') {
    const dir = args[1];
    if (!dir) {
      console.error('usage: zkensemble peer --k8s CONFIG_DIR');
      process.exit(2);
    }
    const { bootstrapK8s } = await import('./k8s-bootstrap.ts');
    try {
      path = await bootstrapK8s(dir, process.env, { log: (msg) => log.info(msg) });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(`zkensemble: invalid Kubernetes setup: ${e.message}`);
      process.exit(2);
    }
  }
  if (!path) {
    console.error('usage: zkensemble peer CONFIG | peer --k8s CONFIG_DIR');
    process.exit(2);
  }
  let cfg: ZooConfig;
  try {
    cfg = loadConfig(path);
    // Also checks the admin server keys, so a bad one stops the peer here with the others.
    const { logLevel } = observabilitySettings(cfg.raw, process.env);
    if (logLevel) log.level = logLevel;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`zkensemble: invalid configuration: ${e.message}`);
    process.exit(2);
  }
  for (const u of cfg.unknown)
    log.warn({ key: u.key, line: u.line, file: path }, 'unknown configuration key ignored');
  startIdleGc(DEFAULT_IDLE_GC, (freed, ms) =>
    log.info(
      { freedMiB: Math.round(freed / 1048576), ms: Math.round(ms) },
      'full collection after going quiet',
    ),
  );
  if (!isStandalone(cfg)) {
    let member: RunningMember;
    try {
      member = await startMember(cfg);
    } catch (e) {
      console.error(`zkensemble: failed to start: ${(e as Error).message}`);
      process.exit(1);
    }
    await serveUntilSignal(member);
    return;
  }
  await serveUntilSignal(await startOrExit(cfg));
}

async function startOrExit(cfg: ZooConfig): Promise<RunningPeer> {
  try {
    return await startPeer(cfg);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
      console.error(`zkensemble: cannot listen on ${cfg.clientPortAddress}:${cfg.clientPort}: ${err.code}`);
    } else {
      console.error(`zkensemble: failed to start: ${err.stack ?? err.message}`);
    }
    process.exit(1);
  }
}

/** `local`'s options; anything else (a typo, --help) must not start servers on fixed ports. */
export function parseLocalArgs(
  args: string[],
): { voters: number; observers: number; observerMaster: boolean } | { help: true } | { error: string } {
  let values: { voters?: string; observers?: string; 'observer-master'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        voters: { type: 'string' },
        observers: { type: 'string' },
        'observer-master': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (values.help) return { help: true };
  const count = (name: 'voters' | 'observers') => {
    const v = Number(values[name] ?? 0);
    return Number.isInteger(v) && v >= 0 ? v : null;
  };
  const voters = count('voters');
  const observers = count('observers');
  if (voters === null) return { error: '--voters needs a whole number' };
  if (observers === null) return { error: '--observers needs a whole number' };
  if (voters === 0 && observers > 0) return { error: 'observers need voters (--voters N)' };
  return { voters, observers, observerMaster: values['observer-master'] ?? false };
}

async function runLocal(args: string[]): Promise<void> {
  const parsed = parseLocalArgs(args);
  if ('help' in parsed) {
    console.log(LOCAL_USAGE);
    return;
  }
  if ('error' in parsed) {
    console.error(`zkensemble local: ${parsed.error}\n${LOCAL_USAGE}`);
    process.exit(2);
  }
  const { voters, observers, observerMaster } = parsed;
  const dataDir = mkdtempSync(join(tmpdir(), 'zkensemble-local-'));
  if (voters === 0) {
    const cfg = parseZooConfig(
      `tickTime=2000\ndataDir=${dataDir}\nclientPort=2181\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n` +
        'admin.serverAddress=127.0.0.1\nadmin.serverPort=8080\n',
    );
    const peer = await startOrExit(cfg);
    console.log(
      `zkensemble: standalone peer ready; connect string ${peer.host}:${peer.port} (data in ${dataDir})` +
        (peer.adminUrl ? `\nadmin ${peer.adminUrl}/commands, ${peer.adminUrl}/metrics` : ''),
    );
    await serveUntilSignal(peer);
  } else {
    await serveUntilSignal(await startLocalEnsemble(dataDir, voters, observers, observerMaster));
  }
  rmSync(dataDir, { recursive: true, force: true });
}

/** Runs one peer process per member, prints the connect string once a leader serves. */
async function startLocalEnsemble(
  root: string,
  voters: number,
  observers: number,
  observerMaster: boolean,
): Promise<{ stop(): Promise<void> }> {
  const om = observerMaster ? await observerMasterLayout() : null;
  const members = await prepareLocalEnsemble(root, voters, observers, om?.extra, undefined, om?.layout);
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'zkensemble');
  const procs = members.map((m) => {
    const p = spawnMember(bin, m, process.env);
    p.stdout?.on('data', (c: Buffer) => process.stdout.write(c));
    p.stderr?.on('data', (c: Buffer) => process.stderr.write(c));
    return p;
  });
  console.log(
    `zkensemble: local ensemble of ${voters} voters and ${observers} observers starting (data in ${root})\n` +
      (om ? `observers sync from followers on port ${om.extra.observerMasterPort}\n` : '') +
      `connect string ${connectString(members)}\n` +
      `admin (/commands, /metrics, /readyz) ${members.map((m) => `${m.sid}=${adminUrl(m)}`).join(' ')}`,
  );
  return {
    async stop() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGTERM');
              setTimeout(() => p.kill('SIGKILL'), 5000).unref();
            }),
        ),
      );
    },
  };
}

async function serveUntilSignal(peer: { stop(): Promise<void> }): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      peer.stop().then(resolve, (err) => {
        log.error({ err }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
