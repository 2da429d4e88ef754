// The data dir's record of the config in force (version-2/activeConfig, in the dynamic config
// format): written, durably, each time a member activates a config and before it acts on it; read
// at start. The config files may be older (a static zoo.cfg, a read-only dynamic file) and the
// tree's /zookeeper/config may come from a logged reconfig that never commits, so neither can
// tell a restarting member which config it had in force.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { versionDir } from '../persistence/files.ts';
import { parseDynamicConfig, type QuorumConfig, renderQuorumConfig } from '../quorum/quorum-config.ts';

const NAME = 'activeConfig';

/** Replaces the record atomically and durably (temp file, fsync, rename, fsync the directory). */
export function recordConfig(dataDir: string, config: QuorumConfig): void {
  const dir = versionDir(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, NAME);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${renderQuorumConfig(config)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}

/** The recorded config, or null when there is none (or it does not parse). */
export function recordedConfig(dataDir: string): QuorumConfig | null {
  let text: string;
  try {
    text = readFileSync(join(versionDir(dataDir), NAME), 'utf8');
  } catch {
    return null;
  }
  try {
    return parseDynamicConfig(text);
  } catch {
    return null;
  }
}
