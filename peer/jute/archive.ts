// Jute binary archive: big-endian ints and longs, length-prefixed strings, buffers and vectors.
// Longs that are identifiers (session ids, ephemeral owners) are bigint; zxids and times are
// numbers, which is exact as long as epochs stay below 2^21 (readZxid refuses anything larger).

export class JuteError extends Error {
  override name = 'JuteError';
}

/** Default jute.maxbuffer: the largest string or buffer a reader accepts, and the largest frame. */
export const DEFAULT_MAX_BUFFER = 0xfffff;

const TWO_32 = 0x1_0000_0000;

/**
 * Node data that a client sent as null. ZooKeeper keeps null and empty apart (getData returns a
 * null buffer for the first), so the tree stores this one shared empty buffer for null and the
 * writer turns it back into a null buffer.
 */
export const NULL_DATA: Buffer = Buffer.alloc(0);

/** A safe integer as a big-endian 64-bit long at `off`. */
export function writeLongAt(buf: Buffer, v: number, off: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi | 0, off);
  buf.writeUInt32BE((v - hi * TWO_32) >>> 0, off + 4);
}

/** A bigint as a big-endian 64-bit long at `off`. */
export function writeBigLongAt(buf: Buffer, v: bigint, off: number): void {
  // Zero (no ephemeral owner, no session) is the common case, and writing a bigint allocates.
  if (v === 0n) buf.fill(0, off, off + 8);
  else buf.writeBigInt64BE(BigInt.asIntN(64, v), off);
}

export class JuteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  int(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v | 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** A long given as a safe integer (zxids, times, counters). */
  long(v: number): this {
    this.ensure(8);
    writeLongAt(this.buf, v, this.pos);
    this.pos += 8;
    return this;
  }

  /** A long given as a bigint (session ids, ephemeral owners). */
  bigLong(v: bigint): this {
    this.ensure(8);
    writeBigLongAt(this.buf, v, this.pos);
    this.pos += 8;
    return this;
  }

  ustring(s: string | null): this {
    if (s === null) return this.int(-1);
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(4 + n);
    this.buf.writeInt32BE(n, this.pos);
    this.buf.write(s, this.pos + 4, n, 'utf8');
    this.pos += 4 + n;
    return this;
  }

  buffer(b: Uint8Array | null): this {
    if (b === null || b === NULL_DATA) return this.int(-1);
    this.ensure(4 + b.length);
    this.buf.writeInt32BE(b.length, this.pos);
    this.buf.set(b, this.pos + 4);
    this.pos += 4 + b.length;
    return this;
  }

  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  vector<T>(items: readonly T[] | null, each: (w: JuteWriter, item: T) => void): this {
    if (items === null) return this.int(-1);
    this.int(items.length);
    for (const item of items) each(this, item);
    return this;
  }

  /** Reserves 4 bytes for a frame length; call endFrame with the returned mark. */
  beginFrame(): number {
    const mark = this.pos;
    this.int(0);
    return mark;
  }

  endFrame(mark: number): this {
    this.buf.writeInt32BE(this.pos - mark - 4, mark);
    return this;
  }

  /** A copy of what has been written. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /**
   * What has been written, without a copy, for a writer used once: the writer's own buffer when
   * the initial size was exact, else a view of it. Write nothing more after this.
   */
  take(): Buffer {
    return this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos);
  }

  /** A view of what has been written; valid until the next write. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }
}

export class JuteReader {
  private pos: number;
  private readonly buf: Buffer;
  private readonly end: number;
  readonly maxBuffer: number;

  constructor(buf: Buffer, offset = 0, end = buf.length, maxBuffer = DEFAULT_MAX_BUFFER) {
    this.buf = buf;
    this.pos = offset;
    this.end = end;
    this.maxBuffer = maxBuffer;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new JuteError(`truncated record: ${what} needs ${n} bytes`);
  }

  bool(): boolean {
    this.need(1, 'boolean');
    return this.buf[this.pos++] !== 0;
  }

  byte(): number {
    this.need(1, 'byte');
    const v = this.buf.readInt8(this.pos);
    this.pos += 1;
    return v;
  }

  int(): number {
    this.need(4, 'int');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A long that must be a safe integer (zxids, times). */
  long(): number {
    this.need(8, 'long');
    const hi = this.buf.readInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    const v = hi * TWO_32 + lo;
    if (!Number.isSafeInteger(v)) throw new JuteError(`long out of range: ${hi}:${lo}`);
    return v;
  }

  bigLong(): bigint {
    this.need(8, 'long');
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  private length(what: string): number {
    const n = this.int();
    if (n === -1) return -1;
    if (n < 0 || n > this.maxBuffer) throw new JuteError(`${what} length ${n} out of bounds`);
    this.need(n, what);
    return n;
  }

  ustring(): string | null {
    const n = this.length('ustring');
    if (n === -1) return null;
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** A ustring where null is a protocol error. */
  string(): string {
    const s = this.ustring();
    if (s === null) throw new JuteError('unexpected null string');
    return s;
  }

  /** A buffer that may be null, copied out of the input. */
  buffer(): Buffer | null {
    const b = this.bufferView();
    return b === null ? null : Buffer.from(b);
  }

  /**
   * A buffer that may be null, sharing memory with the input: for node data, which the tree copies
   * into its own slabs (tree/value-slab.ts) as it takes it, so a copy here would be made twice.
   */
  bufferView(): Buffer | null {
    const n = this.length('buffer');
    if (n === -1) return null;
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Node data, a view as bufferView(): null becomes NULL_DATA. */
  data(): Buffer {
    return this.bufferView() ?? NULL_DATA;
  }

  vector<T>(each: (r: JuteReader) => T): T[] | null {
    const n = this.int();
    if (n === -1) return null;
    // Every element takes at least one byte, so a count beyond the remaining bytes is garbage.
    if (n < 0 || n > this.remaining) throw new JuteError(`vector count ${n} out of bounds`);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = each(this);
    return out;
  }

  rest(): Buffer {
    const b = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }
}
