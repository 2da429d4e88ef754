// The znodes' fields, one column per field, a znode being a slot number. A JavaScript object per
// znode cost about 500 bytes of heap at 100 B values: the node, a stat object whose zxids and times
// are each a boxed double, a Buffer view for the value. Columns hold the same fields in about 80
// bytes (measured: 100k znodes take 49 MiB less resident memory), which is what lets a member hold
// a large tree in half the memory ZooKeeper's JVM needs.

import { NULL_DATA } from '../jute/archive.ts';
import type { StatPersisted } from '../jute/records.ts';
import { NULL_LENGTH, ValueStore } from './value-store.ts';

// Doubles per slot: zxids and times (above 2^31, so not small integers).
const CZXID = 0;
const MZXID = 1;
const PZXID = 2;
const CTIME = 3;
const MTIME = 4;
const F = 5;
// 32-bit integers per slot.
const VERSION = 0;
const CVERSION = 1;
const AVERSION = 2;
const ACL = 3;
const DIGEST = 4;
const VALUE_SLAB = 5;
const VALUE_OFFSET = 6;
const VALUE_LENGTH = 7;
const I = 8;

const NO_CHILDREN: ReadonlySet<string> = new Set();

/** The table's readers, what code outside the tree may call. */
export type NodeFields = Pick<
  NodeTable,
  | 'data'
  | 'dataLength'
  | 'children'
  | 'childCount'
  | 'stat'
  | 'czxid'
  | 'mzxid'
  | 'pzxid'
  | 'ctime'
  | 'mtime'
  | 'version'
  | 'cversion'
  | 'aversion'
  | 'owner'
  | 'aclIndex'
>;

export class NodeTable {
  private f = new Float64Array(F * 1024);
  private i = new Int32Array(I * 1024);
  /** Most owners are 0n, a shared constant; an ephemeral's owner is its session's BigInt. */
  private readonly owners: bigint[] = [];
  /** Absent until a node's first child: most znodes are leaves, and an empty Set costs 100 bytes. */
  private readonly kids: (Set<string> | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private next = 0;
  private readonly values = new ValueStore();

  /** A slot with the given stat and value, no children, ACL index and digest 0. */
  add(stat: StatPersisted, data: Buffer): number {
    let s = this.freeSlots.pop();
    if (s === undefined) {
      s = this.next++;
      if (s * I >= this.i.length) this.grow();
    }
    this.setStat(s, stat);
    this.i[s * I + ACL] = 0;
    this.i[s * I + DIGEST] = 0;
    this.kids[s] = undefined;
    this.storeValue(s, data);
    return s;
  }

  remove(s: number): void {
    this.values.release(this.i[s * I + VALUE_SLAB]!, this.dataLength(s));
    this.owners[s] = 0n;
    this.kids[s] = undefined;
    this.freeSlots.push(s);
  }

  private grow(): void {
    const f = new Float64Array(this.f.length * 2);
    f.set(this.f);
    this.f = f;
    const i = new Int32Array(this.i.length * 2);
    i.set(this.i);
    this.i = i;
  }

  setStat(s: number, stat: StatPersisted): void {
    const f = s * F;
    this.f[f + CZXID] = stat.czxid;
    this.f[f + MZXID] = stat.mzxid;
    this.f[f + PZXID] = stat.pzxid;
    this.f[f + CTIME] = stat.ctime;
    this.f[f + MTIME] = stat.mtime;
    const i = s * I;
    this.i[i + VERSION] = stat.version;
    this.i[i + CVERSION] = stat.cversion;
    this.i[i + AVERSION] = stat.aversion;
    // A decoded long is a new BigInt each time; one shared 0n does for the many owners that are 0.
    this.owners[s] = stat.ephemeralOwner === 0n ? 0n : stat.ephemeralOwner;
  }

  /** The persisted stat, into `into` when given (a reused object allocates nothing). */
  stat(s: number, into?: StatPersisted): StatPersisted {
    const f = s * F;
    const i = s * I;
    const out = into ?? ({} as StatPersisted);
    out.czxid = this.f[f + CZXID]!;
    out.mzxid = this.f[f + MZXID]!;
    out.ctime = this.f[f + CTIME]!;
    out.mtime = this.f[f + MTIME]!;
    out.version = this.i[i + VERSION]!;
    out.cversion = this.i[i + CVERSION]!;
    out.aversion = this.i[i + AVERSION]!;
    out.ephemeralOwner = this.owners[s]!;
    out.pzxid = this.f[f + PZXID]!;
    return out;
  }

  czxid(s: number): number {
    return this.f[s * F + CZXID]!;
  }
  mzxid(s: number): number {
    return this.f[s * F + MZXID]!;
  }
  pzxid(s: number): number {
    return this.f[s * F + PZXID]!;
  }
  ctime(s: number): number {
    return this.f[s * F + CTIME]!;
  }
  mtime(s: number): number {
    return this.f[s * F + MTIME]!;
  }
  version(s: number): number {
    return this.i[s * I + VERSION]!;
  }
  cversion(s: number): number {
    return this.i[s * I + CVERSION]!;
  }
  aversion(s: number): number {
    return this.i[s * I + AVERSION]!;
  }
  owner(s: number): bigint {
    return this.owners[s]!;
  }
  aclIndex(s: number): number {
    return this.i[s * I + ACL]!;
  }
  /** The node's digest, an unsigned 32-bit CRC. */
  digest(s: number): number {
    return this.i[s * I + DIGEST]! >>> 0;
  }

  setModified(s: number, version: number, mzxid: number, mtime: number): void {
    this.i[s * I + VERSION] = version;
    this.f[s * F + MZXID] = mzxid;
    this.f[s * F + MTIME] = mtime;
  }
  setChildVersion(s: number, cversion: number, pzxid: number): void {
    this.i[s * I + CVERSION] = cversion;
    this.f[s * F + PZXID] = pzxid;
  }
  setPzxid(s: number, pzxid: number): void {
    this.f[s * F + PZXID] = pzxid;
  }
  setAcl(s: number, aclIndex: number, aversion: number): void {
    this.i[s * I + ACL] = aclIndex;
    this.i[s * I + AVERSION] = aversion;
  }
  setDigest(s: number, digest: number): void {
    this.i[s * I + DIGEST] = digest;
  }

  /** The value, as a view into the tree's slab: copy it before the node changes again. */
  data(s: number): Buffer {
    const i = s * I;
    return this.values.get(this.i[i + VALUE_SLAB]!, this.i[i + VALUE_OFFSET]!, this.i[i + VALUE_LENGTH]!);
  }
  dataLength(s: number): number {
    return Math.max(0, this.i[s * I + VALUE_LENGTH]!);
  }
  setData(s: number, data: Buffer): void {
    this.values.release(this.i[s * I + VALUE_SLAB]!, this.dataLength(s));
    this.storeValue(s, data);
  }

  private storeValue(s: number, data: Buffer): void {
    const i = s * I;
    const slab = this.values.put(data);
    this.i[i + VALUE_SLAB] = slab;
    this.i[i + VALUE_OFFSET] = this.values.offset;
    this.i[i + VALUE_LENGTH] = data === NULL_DATA ? NULL_LENGTH : data.length;
  }

  children(s: number): ReadonlySet<string> {
    return this.kids[s] ?? NO_CHILDREN;
  }
  childCount(s: number): number {
    return this.kids[s]?.size ?? 0;
  }
  addChild(s: number, name: string): void {
    const set = this.kids[s];
    if (set) set.add(name);
    else this.kids[s] = new Set([name]);
  }
  removeChild(s: number, name: string): void {
    const set = this.kids[s];
    if (!set) return;
    set.delete(name);
    if (set.size === 0) this.kids[s] = undefined;
  }

  /** Bytes held for values, used or not (tests check that deletes give slabs back). */
  get valueBytes(): number {
    return this.values.heldBytes;
  }
}
