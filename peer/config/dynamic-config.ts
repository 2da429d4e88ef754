// The membership part of a config kept in its own file (ZooKeeper 3.5+ `dynamicConfigFile`):
// `server.N=` lines and `version=<hex>`. Read once at start; rewritten whenever a reconfig is
// activated, so that a restart comes back with the membership the ensemble last agreed on.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { replaceFile } from '../persistence/files.ts';
import { parseDynamicConfig, type QuorumConfig, renderQuorumConfig } from '../quorum/quorum-config.ts';
import { ConfigError, type ServerLine, type ZooConfig } from './zoocfg.ts';

/** Server lines of a quorum config, in the form zoo.cfg parsing produces. */
export function serverLinesOf(config: QuorumConfig): ServerLine[] {
  return [...config.members.values()]
    .sort((a, b) => a.sid - b.sid)
    .map((m) => ({
      id: m.sid,
      host: m.host,
      quorumPort: m.quorumPort,
      electionPort: m.electionPort,
      role: m.role,
      clientAddress: m.clientAddress,
      clientPort: m.clientPort,
      line: 0,
    }));
}

/**
 * Fills cfg.servers and cfg.configVersion from the file `dynamicConfigFile` names (relative paths
 * are taken from the directory of zoo.cfg) and makes that path absolute. Server lines in zoo.cfg
 * as well would leave two sources of membership: refused.
 */
export function loadDynamicConfig(cfg: ZooConfig, zooCfgPath: string): void {
  if (cfg.dynamicConfigFile === null) return;
  const path = resolve(dirname(zooCfgPath), cfg.dynamicConfigFile);
  if (cfg.servers.length > 0)
    throw new ConfigError(
      `server.${cfg.servers[0]!.id} is in zoo.cfg although dynamicConfigFile is set: keep the membership in ${path}`,
    );
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read dynamicConfigFile ${path}: ${(e as Error).message}`);
  }
  let config: QuorumConfig;
  try {
    config = parseDynamicConfig(text);
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message}`);
  }
  cfg.dynamicConfigFile = path;
  cfg.servers = serverLinesOf(config);
  cfg.configVersion = config.version;
}

/** Replaces the file atomically, so a crash leaves the old or the new. */
export async function writeDynamicConfig(path: string, config: QuorumConfig): Promise<void> {
  await replaceFile(path, `${renderQuorumConfig(config)}\n`);
}
