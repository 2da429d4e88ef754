// The write side of ZooKeeper's txn log (FileTxnLog): version-2/log.<hex zxid of first txn> files
// with a ZKLG header, framed entries and preallocated zero padding.
//
// Group commit: append() only queues; flush() writes everything queued so far and, with forceSync,
// fdatasyncs it before resolving. While a write+sync round runs, new appends and flush() calls
// gather for the next round, so many concurrent flushes cost few syncs. All I/O is async.

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { adler32 } from './adler32.ts';
import { ensureDir, fsyncDir, logFileName, versionDir } from './files.ts';
import { RecentTxns } from './recent-txns.ts';

export const TXNLOG_MAGIC = 0x5a4b4c47; // "ZKLG"
export const TXNLOG_VERSION = 2;
export const LOG_HEADER_SIZE = 16;
/** The byte after every entry ('B'); a missing one marks a partial write. */
export const END_OF_RECORD = 0x42;
/** zookeeper.preAllocSize default: 65536 KB. */
export const DEFAULT_PREALLOC_SIZE = 64 * 1024 * 1024;

export function logFileHeader(dbId = 0n): Buffer {
  const b = Buffer.alloc(LOG_HEADER_SIZE);
  b.writeInt32BE(TXNLOG_MAGIC, 0);
  b.writeInt32BE(TXNLOG_VERSION, 4);
  b.writeBigInt64BE(dbId, 8);
  return b;
}

/** checksum (Adler32 of the txn bytes, as a long) | int length | txn bytes | 'B'. */
export function frameEntry(txnBytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(13 + txnBytes.length);
  out.writeUInt32BE(0, 0);
  out.writeUInt32BE(adler32(txnBytes), 4);
  out.writeInt32BE(txnBytes.length, 8);
  out.set(txnBytes, 12);
  out[12 + txnBytes.length] = END_OF_RECORD;
  return out;
}

/**
 * FilePadding.calculateFileSizeWithPadding: once the write position is within 4 KiB of the known
 * size, grow by preAllocSize (rounding up to a multiple of it if already past the end).
 */
export function paddedFileSize(position: number, fileSize: number, preAllocSize: number): number {
  if (preAllocSize > 0 && position + 4096 >= fileSize) {
    if (position > fileSize) {
      const s = position + preAllocSize;
      return s - (s % preAllocSize);
    }
    return fileSize + preAllocSize;
  }
  return fileSize;
}

export interface TxnLogOptions {
  /** fdatasync before flush() resolves (zoo.cfg forceSync, default yes). */
  forceSync?: boolean;
  /** Bytes to grow log files by (zookeeper.preAllocSize, in bytes here); 0 disables preallocation. */
  preAllocSize?: number;
  /** dbid written into new file headers (ZooKeeper writes 0). */
  dbId?: bigint;
}

interface Pending {
  frame: Buffer;
  zxid: number;
}

const ROLL = Symbol('roll');
/** Entries kept in `recent`: the leader's committed log (500) and more than it has in flight. */
const RECENT_KEPT = 1000;
type Item = Pending | typeof ROLL;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A round's failure is reported to whoever awaits flush(); don't also raise an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface OpenLog {
  fh: FileHandle;
  path: string;
  /** Where the next entry goes. */
  position: number;
  /** Size the file has been padded to. */
  size: number;
}

export class TxnLog {
  /** The version-2 directory the files go into. */
  readonly dir: string;
  readonly forceSync: boolean;
  readonly preAllocSize: number;
  private readonly dbId: bigint;

  private queue: Item[] = [];
  private current: OpenLog | null = null;
  /** A roll() was requested after the last queued entry. */
  private rollPending = false;
  private running: Promise<void> | null = null;
  private next: Deferred | null = null;
  private failed: unknown = null;
  private closed = false;

  /** Framed bytes appended since the last roll (for the snapshot policy). */
  bytesSinceRoll = 0;
  /** fdatasyncs done so far (one per file per group-commit round). */
  fsyncs = 0;
  /**
   * The last entries logged (at least RECENT_KEPT), for DIFF syncs when this member leads and to
   * fast-forward its tree after a role without reading the files back. Whoever rewrites history
   * (a SNAP, a truncation) clears it; whoever reads the files at a start fills it.
   */
  readonly recent = new RecentTxns(RECENT_KEPT);

  private constructor(dir: string, opts: TxnLogOptions) {
    this.dir = dir;
    this.forceSync = opts.forceSync ?? true;
    this.preAllocSize = opts.preAllocSize ?? DEFAULT_PREALLOC_SIZE;
    this.dbId = opts.dbId ?? 0n;
  }

  /**
   * A log writing into <dataLogDir>/version-2, created if missing. Like ZooKeeper, the first
   * append after opening starts a new file, so a recovered torn file is never appended to.
   */
  static async open(dataLogDir: string, opts: TxnLogOptions = {}): Promise<TxnLog> {
    const dir = versionDir(dataLogDir);
    await ensureDir(dir);
    return new TxnLog(dir, opts);
  }

  /** Queues one entry (the bytes of encodeTxnEntry). It is durable once a later flush() resolves. */
  append(txnBytes: Buffer, zxid: number): void {
    if (this.closed) throw new Error('txn log is closed');
    if (this.failed) throw new Error(`txn log failed earlier: ${(this.failed as Error).message}`);
    if (txnBytes.length === 0) throw new Error('empty txn entry');
    if (this.rollPending) {
      this.queue.push(ROLL);
      this.rollPending = false;
    }
    const frame = frameEntry(txnBytes);
    this.queue.push({ frame, zxid });
    this.bytesSinceRoll += frame.length;
    this.recent.add(zxid, txnBytes);
  }

  /** The next append starts a new log file (done when a snapshot is triggered). */
  roll(): void {
    this.rollPending = true;
    this.bytesSinceRoll = 0;
  }

  /** Resolves when everything appended before this call is written (and synced, with forceSync). */
  flush(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.queue.length === 0) return this.next?.promise ?? this.running ?? Promise.resolve();
    if (this.running) {
      this.next ??= deferred();
      return this.next.promise;
    }
    return this.startRound();
  }

  private startRound(): Promise<void> {
    const items = this.queue;
    this.queue = [];
    const round = this.writeRound(items).then(
      () => this.roundDone(null),
      (e: unknown) => this.roundDone(e),
    );
    const p = round.then(() => {
      if (this.failed) throw this.failed;
    });
    this.running = p;
    p.catch(() => {});
    return p;
  }

  private roundDone(err: unknown): void {
    if (err && !this.failed) this.failed = err;
    this.running = null;
    const waiting = this.next;
    this.next = null;
    if (!waiting) return;
    if (this.failed) {
      waiting.reject(this.failed);
      return;
    }
    this.startRound().then(waiting.resolve, waiting.reject);
  }

  private async writeRound(items: Item[]): Promise<void> {
    const toSync: OpenLog[] = [];
    const toClose: OpenLog[] = [];
    let created = false;
    let chunks: Buffer[] = [];
    let chunkStart = 0;
    let newSize = 0;

    const writeOut = async (): Promise<void> => {
      const cur = this.current;
      if (!cur || chunks.length === 0) return;
      if (newSize > cur.size) {
        // Preallocate like FilePadding: a single zero byte at the new end.
        await cur.fh.write(Buffer.alloc(1), 0, 1, newSize - 1);
        cur.size = newSize;
      }
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await cur.fh.write(data, off, data.length - off, chunkStart + off);
        off += bytesWritten;
      }
      chunks = [];
    };

    for (const item of items) {
      if (item === ROLL) {
        await writeOut();
        if (this.current) {
          toClose.push(this.current);
          this.current = null;
        }
        continue;
      }
      if (!this.current) {
        const path = join(this.dir, logFileName(item.zxid));
        const fh = await open(path, 'w');
        this.current = { fh, path, position: 0, size: 0 };
        toSync.push(this.current);
        created = true;
        chunks = [logFileHeader(this.dbId)];
        chunkStart = 0;
        this.current.position = LOG_HEADER_SIZE;
        this.current.size = LOG_HEADER_SIZE;
        newSize = LOG_HEADER_SIZE;
      } else if (chunks.length === 0) {
        chunkStart = this.current.position;
        newSize = this.current.size;
        if (!toSync.includes(this.current)) toSync.push(this.current);
      }
      newSize = paddedFileSize(this.current.position, newSize, this.preAllocSize);
      chunks.push(item.frame);
      this.current.position += item.frame.length;
    }
    await writeOut();

    if (this.forceSync) {
      for (const log of toSync) {
        await log.fh.datasync();
        this.fsyncs++;
      }
      if (created) await fsyncDir(this.dir);
    }
    for (const log of toClose) await log.fh.close();
  }

  /** Flushes what is queued, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.failed) await this.flush();
    } finally {
      this.closed = true;
      const cur = this.current;
      this.current = null;
      if (cur) await cur.fh.close();
    }
  }
}
