// ZooKeeper's data directory layout: <dir>/version-2/ holding log.<hex zxid> and
// snapshot.<hex zxid>[.gz|.snappy] files (lowercase hex, no padding), and fsync helpers.

import { constants } from 'node:fs';
import { mkdir, open, readdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const VERSION_DIR = 'version-2';
export const LOG_PREFIX = 'log';
export const SNAPSHOT_PREFIX = 'snapshot';

/**
 * The directory that holds the files: <dataDir>/version-2. Every API here takes the data dir (as
 * in zoo.cfg) and appends version-2, unless it is given the version-2 directory itself.
 */
export function versionDir(dir: string): string {
  return basename(dir) === VERSION_DIR ? dir : join(dir, VERSION_DIR);
}

export function logFileName(zxid: number): string {
  return `${LOG_PREFIX}.${zxid.toString(16)}`;
}

export function snapshotFileName(zxid: number): string {
  return `${SNAPSHOT_PREFIX}.${zxid.toString(16)}`;
}

/**
 * The zxid in a file name such as log.1a or snapshot.100000003.gz, as ZooKeeper's
 * Util.getZxidFromName reads it: the second dot-separated part in hex; -1 if the name does not fit.
 */
export function zxidFromName(name: string, prefix: string): number {
  const parts = name.split('.');
  if (parts.length < 2 || parts[0] !== prefix) return -1;
  const hex = parts[1]!;
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) return -1;
  const v = Number.parseInt(hex, 16);
  return Number.isSafeInteger(v) ? v : -1;
}

export interface DataFile {
  /** Full path. */
  path: string;
  name: string;
  zxid: number;
}

/** Files named <prefix>.<hex zxid>... in dir, sorted by zxid (ascending unless told). Missing dir: empty. */
export async function listDataFiles(dir: string, prefix: string, ascending = true): Promise<DataFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: DataFile[] = [];
  for (const name of names) {
    const zxid = zxidFromName(name, prefix);
    if (zxid >= 0) out.push({ path: join(dir, name), name, zxid });
  }
  out.sort((a, b) => (ascending ? a.zxid - b.zxid : b.zxid - a.zxid));
  return out;
}

/**
 * The log files needed to read every txn from `zxid` on (FileTxnLog.getLogFiles): the newest file
 * starting at or before zxid, and every file after it. `files` must be sorted ascending.
 */
export function logFilesFrom(files: readonly DataFile[], zxid: number): DataFile[] {
  let start = 0;
  for (const f of files) {
    if (f.zxid > zxid) break;
    if (f.zxid > start) start = f.zxid;
  }
  return files.filter((f) => f.zxid >= start);
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Makes a directory's entries (new, renamed or removed files) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces a file's content atomically (write aside, then rename): a crash leaves the old or the new
 * content. `durable` also syncs the new file before the rename and the directory after it, so the
 * new content survives a power loss once this resolves.
 */
export async function replaceFile(path: string, data: string, durable = false): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (durable) await fsyncDir(dirname(path));
}
