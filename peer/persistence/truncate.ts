// TRUNC from a new leader: drop every logged txn after a zxid (FileTxnLog.truncate). The file
// holding that zxid is cut just past it and zero-filled to its old size; later files are deleted.

import { open, unlink } from 'node:fs/promises';
import { decodeTxnEntry } from '../jute/txn.ts';
import { fsyncDir, LOG_PREFIX, listDataFiles, versionDir } from './files.ts';
import { LogFileReader } from './txnlog-reader.ts';

/** Truncates the log after zxid; returns the zxid of the last txn kept (or -1 if none). */
export async function truncateLog(dataLogDir: string, zxid: number): Promise<number> {
  const dir = versionDir(dataLogDir);
  const files = await listDataFiles(dir, LOG_PREFIX);
  let lastKept = -1;
  for (const f of files) {
    if (f.zxid > zxid) {
      await unlink(f.path);
      continue;
    }
    let cutAt: number | null = null;
    const reader = new LogFileReader(f.path);
    for await (const rec of reader.records()) {
      const z = decodeTxnEntry(rec.bytes).header.zxid;
      if (z > zxid) {
        cutAt = rec.offset;
        break;
      }
      lastKept = z;
    }
    if (cutAt !== null) await zeroFrom(f.path, cutAt);
  }
  await fsyncDir(dir);
  return lastKept;
}

async function zeroFrom(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const size = (await fh.stat()).size;
    await fh.truncate(offset);
    // Keep the preallocated size so appends do not have to grow the file again.
    if (size > offset) await fh.truncate(size);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
