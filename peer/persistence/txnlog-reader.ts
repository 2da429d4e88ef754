// The read side of ZooKeeper's txn log (FileTxnIterator): walks log files in zxid order and yields
// txns, stopping cleanly at the end of valid data. The end of a file is: EOF, a zero length (the
// preallocated padding), or a torn final record (cut short, missing its 'B' trailer, or failing its
// checksum with nothing valid after it). A bad record followed by a valid one is corruption in the
// middle of the log and an error naming file and offset.

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { decodeTxnEntry, type TxnEntry, txnEntryZxid } from '../jute/txn.ts';
import { adler32 } from './adler32.ts';
import { type DataFile, LOG_PREFIX, listDataFiles, logFilesFrom, versionDir } from './files.ts';
import { END_OF_RECORD, LOG_HEADER_SIZE, TXNLOG_MAGIC } from './txnlog.ts';

export class CorruptLogError extends Error {
  override name = 'CorruptLogError';
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, what: string) {
    super(`txn log ${file} corrupt at offset ${offset}: ${what}`);
    this.file = file;
    this.offset = offset;
  }
}

/** Why a file's valid data ended where it did. */
export type LogEnd =
  | 'eof' // the file ends right after the last record
  | 'padding' // a zero length: preallocated space
  | 'partial' // a record cut short by EOF
  | 'trailer' // a record without its 'B' trailer
  | 'checksum' // the final record fails its checksum
  | 'length' // an impossible length with nothing after it
  | 'header'; // no (complete) file header: an empty file from a crash right after creating it

export interface LogFileEnd {
  /** Offset just past the last valid record (or 0 for a headerless file). */
  validEnd: number;
  size: number;
  reason: LogEnd;
}

export interface LogRecord {
  offset: number;
  bytes: Buffer;
}

const CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(CHUNK);
/** Txns larger than this are not plausible (jute.maxbuffer is 1 MiB by default). */
const MAX_TXN = 256 << 20;

/** Sequential reads of a file through a sliding buffer. */
class FileBytes {
  readonly size: number;
  private readonly fh: FileHandle;
  private buf = Buffer.alloc(0);
  private start = 0;

  constructor(fh: FileHandle, size: number) {
    this.fh = fh;
    this.size = size;
  }

  /** Bytes [pos, pos+n) or null past EOF. Valid until the next call. */
  async get(pos: number, n: number): Promise<Buffer | null> {
    if (pos + n > this.size) return null;
    if (pos < this.start || pos + n > this.start + this.buf.length) {
      const len = Math.min(Math.max(n, CHUNK), this.size - pos);
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await this.fh.read(buf, got, len - got, pos + got);
        if (bytesRead === 0) throw new Error(`short read at ${pos + got}`);
        got += bytesRead;
      }
      this.buf = buf;
      this.start = pos;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + n);
  }

  /** Whether any byte in [from, to) is non-zero. */
  async anyNonZero(from: number, to: number): Promise<boolean> {
    for (let p = from; p < to; ) {
      const n = Math.min(CHUNK, to - p);
      const b = (await this.get(p, n))!;
      // memcmp against zeros: recovery checks a whole pre-allocated log (64 MiB) this way.
      if (!b.equals(ZEROS.subarray(0, n))) return true;
      p += n;
    }
    return false;
  }
}

type Parsed =
  | { kind: 'ok'; bytes: Buffer; next: number }
  | { kind: 'end'; reason: LogEnd }
  | { kind: 'bad'; reason: LogEnd; next: number | null; what: string };

async function parseRecord(f: FileBytes, pos: number): Promise<Parsed> {
  if (pos === f.size) return { kind: 'end', reason: 'eof' };
  const head = await f.get(pos, 12);
  if (!head) return { kind: 'bad', reason: 'partial', next: null, what: 'record header cut short' };
  const crcHi = head.readUInt32BE(0);
  const crc = head.readUInt32BE(4);
  const len = head.readInt32BE(8);
  if (len === 0) return { kind: 'end', reason: 'padding' };
  if (len < 0 || len > MAX_TXN) return { kind: 'bad', reason: 'length', next: null, what: `length ${len}` };
  const body = await f.get(pos + 12, len + 1);
  if (!body)
    return { kind: 'bad', reason: 'partial', next: null, what: `record of ${len} bytes cut short by EOF` };
  const next = pos + 13 + len;
  if (body[len] !== END_OF_RECORD)
    return { kind: 'bad', reason: 'trailer', next, what: 'missing 0x42 trailer' };
  const actual = adler32(body, 1, 0, len);
  if (crcHi !== 0 || crc !== actual) {
    return {
      kind: 'bad',
      reason: 'checksum',
      next,
      what: `checksum ${crcHi ? 'overflow' : crc} != ${actual}`,
    };
  }
  return { kind: 'ok', bytes: Buffer.from(body.subarray(0, len)), next };
}

/** One log file, read record by record. After records() completes, `end` says where and why it stopped. */
export class LogFileReader {
  readonly path: string;
  end: LogFileEnd | null = null;

  constructor(path: string) {
    this.path = path;
  }

  async *records(): AsyncGenerator<LogRecord> {
    const fh = await open(this.path, 'r');
    try {
      const f = new FileBytes(fh, (await fh.stat()).size);
      const header = await f.get(0, LOG_HEADER_SIZE);
      if (!header || header.readInt32BE(0) !== TXNLOG_MAGIC) {
        if (f.size === 0 || !(await f.anyNonZero(0, Math.min(f.size, LOG_HEADER_SIZE)))) {
          this.end = { validEnd: 0, size: f.size, reason: 'header' };
          return;
        }
        throw new CorruptLogError(this.path, 0, 'invalid txn log header (magic is not ZKLG)');
      }
      let pos = LOG_HEADER_SIZE;
      for (;;) {
        const p = await parseRecord(f, pos);
        if (p.kind === 'ok') {
          yield { offset: pos, bytes: p.bytes };
          pos = p.next;
          continue;
        }
        if (p.kind === 'bad') {
          // Torn final record, or corruption with valid data after it?
          const after = p.next === null ? null : await parseRecord(f, p.next);
          if (after?.kind === 'ok')
            throw new CorruptLogError(this.path, pos, `${p.what}, with valid records after it`);
          if (p.reason === 'length' && (await f.anyNonZero(pos + 12, f.size))) {
            throw new CorruptLogError(this.path, pos, `${p.what}, with data after it`);
          }
        }
        this.end = { validEnd: pos, size: f.size, reason: p.reason };
        return;
      }
    } finally {
      await fh.close();
    }
  }

  /** After records(): whether anything but zeros lies past the valid data (a torn write to clean up). */
  async hasGarbageAfterEnd(): Promise<boolean> {
    const end = this.end;
    if (!end) throw new Error('records() has not completed');
    if (end.validEnd >= end.size) return false;
    const fh = await open(this.path, 'r');
    try {
      return await new FileBytes(fh, end.size).anyNonZero(end.validEnd, end.size);
    } finally {
      await fh.close();
    }
  }
}

export interface LogEntry extends TxnEntry {
  /** The entry as logged (what encodeTxnEntry gave when it was appended). */
  bytes: Buffer;
  file: string;
  offset: number;
}

export function decodeRecord(file: string, rec: LogRecord): LogEntry {
  try {
    return { ...decodeTxnEntry(rec.bytes), bytes: rec.bytes, file, offset: rec.offset };
  } catch (e) {
    throw new CorruptLogError(file, rec.offset, `undecodable txn: ${(e as Error).message}`);
  }
}

export interface ReadLogsOptions {
  /** Receives each file's reader once it is done (recovery uses the last one to clean a torn tail). */
  onFileEnd?: (reader: LogFileReader, file: DataFile) => void;
}

/** The log files in <dataLogDir>/version-2 needed to read from `fromZxid`, ascending. */
export async function logFilesFor(dataLogDir: string, fromZxid: number): Promise<DataFile[]> {
  return logFilesFrom(await listDataFiles(versionDir(dataLogDir), LOG_PREFIX), fromZxid);
}

/** Every txn with zxid >= fromZxid in <dataLogDir>/version-2, across files in order. */
export async function* readLogs(
  dataLogDir: string,
  fromZxid: number,
  opts: ReadLogsOptions = {},
): AsyncGenerator<LogEntry> {
  for (const file of await logFilesFor(dataLogDir, fromZxid)) {
    const reader = new LogFileReader(file.path);
    for await (const rec of reader.records()) {
      // A file starts below fromZxid: the records before it are read for their checksums only.
      if (zxidBelow(rec, fromZxid)) continue;
      const entry = decodeRecord(file.path, rec);
      if (entry.header.zxid >= fromZxid) yield entry;
    }
    opts.onFileEnd?.(reader, file);
  }
}

/** Whether the record's txn comes before fromZxid, from its header alone; an undecodable one is left to decodeRecord. */
function zxidBelow(rec: LogRecord, fromZxid: number): boolean {
  try {
    return txnEntryZxid(rec.bytes) < fromZxid;
  } catch {
    return false;
  }
}

/** The highest zxid in the logs of <dataLogDir>/version-2, or -1 (FileTxnLog.getLastLoggedZxid). */
export async function lastLoggedZxid(dataLogDir: string): Promise<number> {
  const files = await listDataFiles(versionDir(dataLogDir), LOG_PREFIX);
  let last = -1;
  // The newest non-empty file holds the answer; older files only matter if newer ones are empty.
  for (let i = files.length - 1; i >= 0 && last < 0; i--) {
    for await (const rec of new LogFileReader(files[i]!.path).records()) {
      const z = decodeRecord(files[i]!.path, rec).header.zxid;
      if (z > last) last = z;
    }
  }
  return last;
}
