// Command line: `peer CONFIG`, `local`, `bench`, `operator`.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, isStandalone, parseZooConfig, type ZooConfig } from './config/zoocfg.ts';
import { type RunningMember, startMember } from './ensemble/member.ts';
import { log } from './log.ts';
import { type RunningPeer, startPeer } from './peer.ts';

const USAGE = `usage: zkensemble <command>
  peer CONFIG     run one server from a ZooKeeper zoo.cfg (standalone when it lists no other servers)
  local           run a standalone server on 127.0.0.1:2181 with a temporary data dir
  bench [opts]    load-test the peer side by side with Apache ZooKeeper (see 'bench --help')
  operator        run the Kubernetes operator (not available yet)`;

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
    case 'operator':
      console.error('zkensemble operator: not implemented yet');
      process.exit(2);
      return;
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

export function loadConfig(path: string): ZooConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return parseZooConfig(text);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${path}: ${e.message}`);
    throw e;
  }
}

async function runPeer(args: string[]): Promise<void> {
  const path = args[0];
  if (!path) {
    console.error('usage: zkensemble peer CONFIG');
    process.exit(2);
  }
  let cfg: ZooConfig;
  try {
    cfg = loadConfig(path);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`zkensemble: invalid configuration: ${e.message}`);
    process.exit(2);
  }
  for (const u of cfg.unknown)
    log.warn({ key: u.key, line: u.line, file: path }, 'unknown configuration key ignored');
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

async function runLocal(_args: string[]): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'zkensemble-local-'));
  const cfg = parseZooConfig(
    `tickTime=2000\ndataDir=${dataDir}\nclientPort=2181\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n`,
  );
  const peer = await startOrExit(cfg);
  console.log(
    `zkensemble: standalone peer ready; connect string ${peer.host}:${peer.port} (data in ${dataDir})`,
  );
  await serveUntilSignal(peer);
  rmSync(dataDir, { recursive: true, force: true });
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
