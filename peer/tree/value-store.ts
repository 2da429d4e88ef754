// Where the tree keeps znode data. A value decoded from a request or a txn is a slice of Node's
// shared 8 KiB Buffer pool, where every short-lived frame and reply also comes from: one long-lived
// value would pin the whole pool slab it landed in (measured at 100k znodes of 100 B: 100 MB of
// slabs held for 10 MB of data). So values are copied into slabs only the tree uses, and a value is
// known by (slab, offset, length) numbers rather than by a Buffer of its own, which would cost more
// than a 100-byte value itself. A slab is dropped once every value in it is replaced or deleted.

import { NULL_DATA } from '../jute/archive.ts';

/** Values this size or larger get a slab of their own: few of them fill a shared one. */
const OWN_ALLOCATION = 2048;
const SLAB_SIZE = 16 * 1024;

/** Slab number of values that take no bytes: the null value and the empty one. */
export const NO_SLAB = -1;
/** Length recorded for a null value (length -1 on the wire), which is not an empty one. */
export const NULL_LENGTH = -1;

export const EMPTY_VALUE: Buffer = Buffer.alloc(0);

export class ValueStore {
  private readonly slabs: (Buffer | undefined)[] = [];
  /** Bytes of values still held in each slab. */
  private readonly live: number[] = [];
  private readonly freeSlabs: number[] = [];
  private current = NO_SLAB;
  private used = SLAB_SIZE;
  /** Offset of the value last stored by put(). */
  offset = 0;

  /** Copies data in; returns its slab (NO_SLAB for a value without bytes) and sets `offset`. */
  put(data: Buffer): number {
    const n = data.length;
    this.offset = 0;
    if (n === 0) return NO_SLAB;
    if (n >= OWN_ALLOCATION) {
      const slab = this.newSlab(n);
      data.copy(this.slabs[slab]!);
      this.live[slab] = n;
      return slab;
    }
    if (this.used + n > SLAB_SIZE) {
      this.current = this.newSlab(SLAB_SIZE);
      this.used = 0;
    }
    const slab = this.current;
    data.copy(this.slabs[slab]!, this.used);
    this.offset = this.used;
    this.used += n;
    this.live[slab]! += n;
    return slab;
  }

  /** The value's bytes (a view into its slab, valid until the value is released). */
  get(slab: number, offset: number, length: number): Buffer {
    if (slab === NO_SLAB) return length === NULL_LENGTH ? NULL_DATA : EMPTY_VALUE;
    return this.slabs[slab]!.subarray(offset, offset + length);
  }

  /** Forgets a value; its slab goes when nothing else lives in it. */
  release(slab: number, length: number): void {
    if (slab === NO_SLAB) return;
    const left = (this.live[slab]! -= length);
    if (left > 0) return;
    if (slab === this.current) {
      // Empty again: the open slab is refilled from the start rather than dropped.
      this.used = 0;
      return;
    }
    this.slabs[slab] = undefined;
    this.freeSlabs.push(slab);
  }

  /** Bytes held in slabs, used or not (tests check that deletes give slabs back). */
  get heldBytes(): number {
    let n = 0;
    for (const s of this.slabs) n += s?.length ?? 0;
    return n;
  }

  private newSlab(size: number): number {
    const buf = Buffer.allocUnsafeSlow(size);
    const slab = this.freeSlabs.pop();
    if (slab === undefined) {
      this.slabs.push(buf);
      this.live.push(0);
      return this.slabs.length - 1;
    }
    this.slabs[slab] = buf;
    this.live[slab] = 0;
    return slab;
  }
}
