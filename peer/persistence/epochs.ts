// version-2/acceptedEpoch and version-2/currentEpoch: one decimal number each, replaced atomically
// (temp file, fsync, rename, fsync the directory), as QuorumPeer writes them.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, replaceFile, versionDir } from './files.ts';

export type EpochName = 'acceptedEpoch' | 'currentEpoch';

/** The stored epoch, or null when the file does not exist yet. */
export async function readEpoch(dataDir: string, name: EpochName): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(join(versionDir(dataDir), name), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new Error(`${name} in ${versionDir(dataDir)} holds "${t}", not an epoch`);
  return Number(t);
}

export async function writeEpoch(dataDir: string, name: EpochName, epoch: number): Promise<void> {
  const dir = versionDir(dataDir);
  await ensureDir(dir);
  await replaceFile(join(dir, name), `${epoch}\n`, true);
}
