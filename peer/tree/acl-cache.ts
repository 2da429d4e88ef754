// Interned ACL lists with reference counts (ReferenceCountedACLCache): nodes store a long index,
// snapshots store the table once. Index -1 is OPEN_ACL_UNSAFE and is never stored in the table.

import type { ACL } from '../jute/records.ts';
import { Perms } from '../protocol/constants.ts';

export const OPEN_ACL_UNSAFE: readonly ACL[] = Object.freeze([
  { perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } },
]);
export const OPEN_ACL_INDEX = -1;

function keyOf(acl: readonly ACL[]): string {
  let k = '';
  for (const a of acl) k += `${a.perms}\u0000${a.id.scheme}\u0000${a.id.id}\u0001`;
  return k;
}

const OPEN_KEY = keyOf(OPEN_ACL_UNSAFE);

interface Entry {
  acl: readonly ACL[];
  key: string;
  refs: number;
}

export class AclCache {
  private readonly byIndex = new Map<number, Entry>();
  private readonly byKey = new Map<string, number>();
  private next = 1;

  /** Returns the index for this list, counting one more reference to it. */
  intern(acl: readonly ACL[]): number {
    const key = keyOf(acl);
    if (key === OPEN_KEY) return OPEN_ACL_INDEX;
    const found = this.byKey.get(key);
    if (found !== undefined) {
      this.byIndex.get(found)!.refs++;
      return found;
    }
    const index = this.next++;
    this.byIndex.set(index, { acl: acl.map((a) => ({ perms: a.perms, id: { ...a.id } })), key, refs: 1 });
    this.byKey.set(key, index);
    return index;
  }

  get(index: number): readonly ACL[] {
    if (index === OPEN_ACL_INDEX) return OPEN_ACL_UNSAFE;
    const e = this.byIndex.get(index);
    if (!e) throw new Error(`ACL index ${index} not in cache`);
    return e.acl;
  }

  release(index: number): void {
    if (index === OPEN_ACL_INDEX) return;
    const e = this.byIndex.get(index);
    if (!e) return;
    if (--e.refs <= 0) {
      this.byIndex.delete(index);
      this.byKey.delete(e.key);
    }
  }

  /** Snapshot load: put an entry back under its stored index, with no references yet. */
  restore(index: number, acl: readonly ACL[]): void {
    const key = keyOf(acl);
    this.byIndex.set(index, { acl, key, refs: 0 });
    this.byKey.set(key, index);
    if (index >= this.next) this.next = index + 1;
  }

  /** Snapshot load: count a node's reference to a restored entry. */
  addRef(index: number): void {
    if (index === OPEN_ACL_INDEX) return;
    const e = this.byIndex.get(index);
    if (!e) throw new Error(`ACL index ${index} not in cache`);
    e.refs++;
  }

  /** Drops entries no node refers to (after a snapshot load). */
  purgeUnused(): void {
    for (const [index, e] of this.byIndex) if (e.refs <= 0) this.release(index);
  }

  entries(): IterableIterator<[number, Entry]> {
    return this.byIndex.entries();
  }

  get size(): number {
    return this.byIndex.size;
  }
}
