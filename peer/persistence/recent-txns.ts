// The last txns a member logged, kept in memory without costing the garbage collector: entries are
// copied into a few reused 256 KiB chunks and indexed by typed arrays, so nothing per txn outlives
// the append. Keeping each txn's own Buffer instead (as a Proposal), about a thousand alive at any
// time on every member, took the observer's visibility lag p99 (W6, 8,000-10,000 writes/s) from
// 3-5 ms to 8-16 ms; the likely reason is that they outlive scavenges and are collected by major
// collections (the lag was measured, the collections were not).

import type { Proposal } from '../quorum/zab-common.ts';

const CHUNK_BYTES = 256 * 1024;
const CHUNK_ENTRIES = 4096;
/** Big values: fewer entries are kept rather than more than this many bytes. */
const MAX_BYTES = 64 << 20;

class Chunk {
  readonly bytes: Buffer;
  readonly zxids = new Float64Array(CHUNK_ENTRIES);
  readonly offsets = new Int32Array(CHUNK_ENTRIES);
  count = 0;
  used = 0;

  constructor(size: number) {
    this.bytes = Buffer.allocUnsafeSlow(size);
  }

  fits(length: number): boolean {
    return this.count < CHUNK_ENTRIES && this.used + length <= this.bytes.length;
  }

  add(zxid: number, entry: Buffer): void {
    entry.copy(this.bytes, this.used);
    this.zxids[this.count] = zxid;
    this.offsets[this.count] = this.used;
    this.count++;
    this.used += entry.length;
  }

  /** A copy of entry i: a view would keep the chunk from being reused. */
  entry(i: number): Buffer {
    const end = i + 1 < this.count ? this.offsets[i + 1]! : this.used;
    return Buffer.from(this.bytes.subarray(this.offsets[i]!, end));
  }
}

export class RecentTxns {
  /** At least this many of the last entries are kept. */
  readonly keep: number;
  private chunks: Chunk[] = [];
  private spare: Chunk[] = [];

  constructor(keep: number) {
    this.keep = keep;
  }

  /** Entries must come in zxid order, each after the one before. */
  add(zxid: number, entry: Buffer): void {
    let last = this.chunks[this.chunks.length - 1];
    if (!last?.fits(entry.length)) {
      last =
        entry.length > CHUNK_BYTES ? new Chunk(entry.length) : (this.spare.pop() ?? new Chunk(CHUNK_BYTES));
      this.chunks.push(last);
      this.evict();
    }
    last.add(zxid, entry);
  }

  /** The entries after the one with `zxid` ([] when it is the last), or null when it is not kept. */
  after(zxid: number): Buffer[] | null {
    for (let c = this.chunks.length - 1; c >= 0; c--) {
      const chunk = this.chunks[c]!;
      for (let i = chunk.count - 1; i >= 0; i--) {
        if (chunk.zxids[i] !== zxid) continue;
        const out: Buffer[] = [];
        for (let j = i + 1; j < chunk.count; j++) out.push(chunk.entry(j));
        for (const later of this.chunks.slice(c + 1))
          for (let j = 0; j < later.count; j++) out.push(later.entry(j));
        return out;
      }
    }
    return null;
  }

  /** The last n entries (fewer if fewer are kept), oldest first. */
  tail(n: number): Proposal[] {
    const out: Proposal[] = [];
    for (let c = this.chunks.length - 1; c >= 0 && out.length < n; c--) {
      const chunk = this.chunks[c]!;
      for (let i = chunk.count - 1; i >= 0 && out.length < n; i--)
        out.push({ zxid: chunk.zxids[i]!, data: chunk.entry(i) });
    }
    return out.reverse();
  }

  /** How many entries are kept now. */
  get size(): number {
    let n = 0;
    for (const c of this.chunks) n += c.count;
    return n;
  }

  clear(): void {
    for (const c of this.chunks) this.recycle(c);
    this.chunks = [];
  }

  /** Drops the oldest chunks while the ones after them still hold `keep` entries, or too many bytes are kept. */
  private evict(): void {
    let after = this.size - (this.chunks[0]?.count ?? 0);
    let bytes = 0;
    for (const c of this.chunks) bytes += c.used;
    while (this.chunks.length > 1 && (after >= this.keep || bytes > MAX_BYTES)) {
      const first = this.chunks.shift()!;
      bytes -= first.used;
      this.recycle(first);
      after -= this.chunks[0]!.count;
    }
  }

  private recycle(c: Chunk): void {
    if (c.bytes.length !== CHUNK_BYTES || this.spare.length >= 2) return;
    c.count = 0;
    c.used = 0;
    this.spare.push(c);
  }
}
