// Snapshot files (FileSnap): version-2/snapshot.<hex zxid>, where zxid is the last txn applied when
// the snapshot started. Layout: FileHeader (ZKSN, 2, dbid -1), the snapshot body (snapstream.ts),
// then seal 1 (long Adler32 of every byte so far, ustring "/"), the zxid digest section
// (long zxid, int version, long digest) and seal 2, then lastProcessedZxid (long) and seal 3.
// Readers accept files that end after seal 1 or seal 2 (older versions).
//
// writeSnapshot serializes in chunks and awaits each write, so the event loop keeps running and
// the tree may change meanwhile (a fuzzy snapshot: replaying the log from zxid+1 over it gives the
// right tree). It writes to a temporary name, fsyncs, renames, and fsyncs the directory.

import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { JuteReader, JuteWriter } from '../jute/archive.ts';
import { DIGEST_VERSION } from '../jute/txn.ts';
import type { DataTree } from '../tree/datatree.ts';
import { Adler32, adler32 } from './adler32.ts';
import {
  type DataFile,
  ensureDir,
  fsyncDir,
  listDataFiles,
  SNAPSHOT_PREFIX,
  snapshotFileName,
  versionDir,
} from './files.ts';
import {
  SNAPSHOT_MAX_BUFFER,
  type SnapBodyOptions,
  SnapBodyParser,
  SnapshotFormatError,
  snapBody,
} from './snapstream.ts';

export const SNAP_MAGIC = 0x5a4b534e; // "ZKSN"
export const SNAP_VERSION = 2;
export const SNAP_DBID = -1n;
/** Temporary files are named tmp.snapshot.<hex>...: ZooKeeper and our listings ignore them. */
export const TMP_PREFIX = 'tmp.';

const gunzipAsync = promisify(gunzip);

export interface WriteSnapshotOptions extends SnapBodyOptions {
  /** fsync the file and directory (default true). */
  fsync?: boolean;
  /** Write the 3.9 lastProcessedZxid section (default true; 3.8 readers ignore it). */
  lastProcessedZxidSection?: boolean;
}

let tmpCounter = 0;

function seal(w: JuteWriter, sum: Adler32): void {
  w.long(sum.value).ustring('/');
}

/** Writes `tree` as <dataDir>/version-2/snapshot.<hex zxid>; returns its path. */
export async function writeSnapshot(
  dataDir: string,
  tree: DataTree,
  sessions: ReadonlyMap<bigint, number>,
  zxid: number,
  opts: WriteSnapshotOptions = {},
): Promise<string> {
  const dir = versionDir(dataDir);
  await ensureDir(dir);
  const name = snapshotFileName(zxid);
  const finalPath = join(dir, name);
  const tmpPath = join(dir, `${TMP_PREFIX}${name}.${process.pid}.${++tmpCounter}`);
  const fsync = opts.fsync ?? true;
  const fh = await open(tmpPath, 'w');
  let ok = false;
  try {
    const sum = new Adler32();
    let pos = 0;
    const w = new JuteWriter(1 << 16);
    const drain = async (): Promise<void> => {
      const data = w.view();
      sum.update(data);
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off, pos + off);
        off += bytesWritten;
      }
      pos += data.length;
      w.reset();
    };
    w.int(SNAP_MAGIC).int(SNAP_VERSION).bigLong(SNAP_DBID);
    // Sessions and the ACL cache are captured synchronously at the start, then nodes chunk by chunk.
    for (const _ of snapBody(tree, sessions, w, opts)) await drain();
    await drain();
    seal(w, sum);
    await drain();
    // The digest pair is taken now, at the end, consistent with each other.
    w.long(tree.lastProcessedZxid).int(DIGEST_VERSION).bigLong(tree.digest());
    await drain();
    seal(w, sum);
    await drain();
    if (opts.lastProcessedZxidSection ?? true) {
      w.long(tree.lastProcessedZxid);
      await drain();
      seal(w, sum);
      await drain();
    }
    if (fsync) await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmpPath).catch(() => {});
  }
  await rename(tmpPath, finalPath);
  if (fsync) await fsyncDir(dir);
  return finalPath;
}

export interface ZxidDigest {
  zxid: number;
  version: number;
  digest: bigint;
}

export interface LoadedSnapshot {
  file: string;
  /** From the file name: the last txn applied when the snapshot started. Replay from zxid + 1. */
  zxid: number;
  tree: DataTree;
  sessions: Map<bigint, number>;
  /** The zxid digest section, if present (zxid 0 means "none" and is dropped). */
  digest: ZxidDigest | null;
  /**
   * Whether the tree digest equals the section's, when the section is for the snapshot's own zxid.
   * null when it is for a later zxid (a fuzzy snapshot: compare after replaying up to it) or absent.
   */
  digestMatches: boolean | null;
  /** The 3.9 lastProcessedZxid section, if present. */
  lastProcessedZxid: number | null;
  /** Nodes whose ACL index was missing from the cache (see UNKNOWN_ACL), path -> index. */
  danglingAcl: Map<string, number>;
}

export class InvalidSnapshotError extends Error {
  override name = 'InvalidSnapshotError';
}

export interface ReadSnapshotOptions {
  /** Yield to the event loop after this many nodes (default 10000). */
  nodesPerYield?: number;
}

/** Loads and validates (header, seals, digest when it applies) a snapshot file. */
export async function readSnapshot(file: string, opts: ReadSnapshotOptions = {}): Promise<LoadedSnapshot> {
  const name = basename(file);
  const zxid = Number.parseInt(name.split('.')[1] ?? '', 16);
  if (!name.startsWith(`${SNAPSHOT_PREFIX}.`) || !Number.isSafeInteger(zxid)) {
    throw new InvalidSnapshotError(`${file}: not a snapshot file name`);
  }
  if (name.endsWith('.snappy')) throw new InvalidSnapshotError(`${file}: snappy snapshots are not supported`);
  let buf = await readFile(file);
  if (name.endsWith('.gz')) buf = await gunzipAsync(buf);
  const fail = (msg: string): never => {
    throw new InvalidSnapshotError(`${file}: ${msg}`);
  };
  try {
    const r = new JuteReader(buf, 0, buf.length, SNAPSHOT_MAX_BUFFER);
    if (buf.length < 16) fail('shorter than a file header');
    const magic = r.int();
    if (magic !== SNAP_MAGIC) fail(`bad magic 0x${(magic >>> 0).toString(16)}`);
    const version = r.int();
    if (version !== SNAP_VERSION) fail(`unsupported version ${version}`);
    r.bigLong(); // dbid
    const parser = new SnapBodyParser();
    const every = opts.nodesPerYield ?? 10_000;
    let n = 0;
    while (!parser.done) {
      parser.step(r);
      if (++n % every === 0) await yieldToLoop();
    }
    const checkSeal = (what: string): void => {
      const expected = adler32(buf, 1, 0, r.offset);
      const stored = r.long();
      r.ustring();
      if (stored !== expected) fail(`checksum mismatch at ${what} (stored ${stored}, computed ${expected})`);
    };
    checkSeal('seal 1');
    let digest: ZxidDigest | null = null;
    let lastProcessedZxid: number | null = null;
    if (r.remaining > 0) {
      const dz = r.long();
      const dv = r.int();
      const d = dv < 2 ? BigInt.asIntN(64, BigInt(`0x${r.ustring() ?? '0'}`)) : r.bigLong();
      checkSeal('digest seal');
      if (dz > 0) digest = { zxid: dz, version: dv, digest: d };
      if (r.remaining > 0) {
        lastProcessedZxid = r.long();
        checkSeal('lastProcessedZxid seal');
      }
    }
    const tree = parser.tree;
    tree.lastProcessedZxid = zxid;
    let digestMatches: boolean | null = null;
    if (digest && digest.zxid === zxid && digest.version === DIGEST_VERSION) {
      digestMatches = tree.digest() === digest.digest;
    } else if (digest && digest.zxid < zxid) {
      digest = null; // a digest from before the snapshot's zxid (new-epoch snapshot): nothing to compare
    }
    return {
      file,
      zxid,
      tree,
      sessions: parser.sessions,
      digest,
      digestMatches,
      lastProcessedZxid,
      danglingAcl: parser.danglingAcl,
    };
  } catch (e) {
    if (e instanceof InvalidSnapshotError) throw e;
    const msg =
      e instanceof SnapshotFormatError ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
    throw new InvalidSnapshotError(`${file}: ${msg}`);
  }
}

/** Cheap validity check (SnapStream.isValidSnapshot): a plain file must end with a seal's ustring "/". */
export async function looksValid(file: DataFile): Promise<boolean> {
  if (file.name.endsWith('.snappy')) return false;
  let size: number;
  try {
    size = (await stat(file.path)).size;
  } catch {
    return false;
  }
  const gz = file.name.endsWith('.gz');
  if (size < (gz ? 2 : 10)) return false;
  const fh = await open(file.path, 'r');
  try {
    const b = Buffer.alloc(5);
    if (gz) {
      await fh.read(b, 0, 2, 0);
      return b[0] === 0x1f && b[1] === 0x8b;
    }
    await fh.read(b, 0, 5, size - 5);
    return b.readInt32BE(0) === 1 && b[4] === 0x2f;
  } finally {
    await fh.close();
  }
}

/** Snapshots in <dataDir>/version-2 that pass the quick check, newest first, at most n. */
export async function findValidSnapshots(dataDir: string, n = Number.POSITIVE_INFINITY): Promise<DataFile[]> {
  const out: DataFile[] = [];
  for (const f of await listDataFiles(versionDir(dataDir), SNAPSHOT_PREFIX, false)) {
    if (out.length >= n) break;
    if (await looksValid(f)) out.push(f);
  }
  return out;
}
