// The replicated state: znodes, their stats and ACLs, ephemerals by session, containers and TTL
// nodes, and the tree digest. Changes come only through applyTxn, in zxid order, so every member
// that applies the same txns holds the same tree. Reads go straight to getNode/statOf.

import type { ACL, OpResult, Stat, StatPersisted } from '../jute/records.ts';
import type { Txn, TxnHeader } from '../jute/txn.ts';
import { CONTAINER_OWNER, Err, EventType, isTtlOwner, OpCode, Perms } from '../protocol/constants.ts';
import { AclCache, OPEN_ACL_INDEX } from './acl-cache.ts';
import { nodeDigest } from './digest.ts';
import { type NodeFields, NodeTable } from './node-table.ts';
import { baseName, joinPath, parentOf } from './path.ts';
import {
  formatTrack,
  LIMIT_NODE,
  parseTrack,
  QUOTA_ROOT,
  QuotaPaths,
  quotaTarget,
  STAT_NODE,
  statPath,
} from './quota.ts';
import { EMPTY_VALUE } from './value-store.ts';

/** A znode's fields as plain values, copied out of the tree (for code off the hot paths). */
export interface NodeSnapshot {
  data: Buffer;
  aclIndex: number;
  stat: StatPersisted;
  children: ReadonlySet<string>;
}

export interface ApplyResult {
  type: number;
  err: number;
  zxid: number;
  path: string;
  stat: Stat | null;
  multi: OpResult[] | null;
}

/** Called for every watch-relevant change, in the order the changes happen. */
export type TriggerFn = (path: string, type: number, zxid: number, acl: readonly ACL[]) => void;

export const READ_ACL_UNSAFE: readonly ACL[] = [{ perms: Perms.READ, id: { scheme: 'world', id: 'anyone' } }];

function emptyStat(): StatPersisted {
  return {
    czxid: 0,
    mzxid: 0,
    ctime: 0,
    mtime: 0,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: 0n,
    pzxid: 0,
  };
}

/** No node at the path (slotOf). */
export const NO_NODE = -1;

export class DataTree {
  /** Path to the node's slot in the table. */
  private readonly slots = new Map<string, number>();
  private readonly table = new NodeTable();
  /**
   * A node's fields by slot, for reading (the setters stay inside: a change must re-digest). A
   * value read here is a view of the tree's own memory, to be copied before the tree changes.
   */
  readonly fields: NodeFields = this.table;
  /** Reused to hand the digest a node's stat without allocating one. */
  private readonly scratch = emptyStat();
  readonly acls = new AclCache();
  readonly ephemerals = new Map<bigint, Set<string>>();
  readonly containers = new Set<string>();
  readonly ttls = new Set<string>();
  readonly quotas = new QuotaPaths();
  lastProcessedZxid = 0;
  private treeDigest = 0n;
  /** Bytes of paths and data, as ZooKeeper's approximate_data_size. */
  approximateDataSize = 0;
  trigger: TriggerFn = () => {};

  /** A tree with the root and ZooKeeper's system nodes; `empty` leaves it bare for a snapshot load. */
  constructor(opts: { empty?: boolean; config?: Buffer } = {}) {
    if (opts.empty) return;
    this.putNode('/', EMPTY_VALUE, OPEN_ACL_INDEX, emptyStat());
    this.addSystemNode('/zookeeper', EMPTY_VALUE, OPEN_ACL_INDEX);
    this.addSystemNode('/zookeeper/quota', EMPTY_VALUE, OPEN_ACL_INDEX);
    this.addSystemNode('/zookeeper/config', opts.config ?? EMPTY_VALUE, this.acls.intern(READ_ACL_UNSAFE));
    // ZooKeeper sets this ACL with version -1 when it creates the node.
    const config = this.slots.get('/zookeeper/config')!;
    this.table.setAcl(config, this.table.aclIndex(config), -1);
    this.touched('/zookeeper/config', config);
  }

  /**
   * Replaces a system node's data without a txn (ZooKeeper does this for /zookeeper/config when a
   * member starts or learns a config); stat and watches stay as they are.
   */
  setSystemNodeData(path: string, data: Buffer): void {
    const s = this.slots.get(path);
    if (s === undefined) return;
    this.approximateDataSize += data.length - this.table.dataLength(s);
    this.table.setData(s, data);
    this.touched(path, s, data);
  }

  private addSystemNode(path: string, data: Buffer, aclIndex: number): void {
    this.putNode(path, data, aclIndex, emptyStat());
    this.table.addChild(this.slots.get(parentOf(path))!, baseName(path));
  }

  private putNode(path: string, data: Buffer, aclIndex: number, stat: StatPersisted): number {
    const s = this.table.add(stat, data);
    this.table.setAcl(s, aclIndex, stat.aversion);
    this.slots.set(path, s);
    const d = nodeDigest(path, data, stat);
    this.table.setDigest(s, d);
    this.treeDigest = BigInt.asIntN(64, this.treeDigest + BigInt(d));
    this.approximateDataSize += path.length + data.length;
    return s;
  }

  /** Re-digests a node after its data or stat changed; `data` is its value when the caller has it. */
  private touched(path: string, s: number, data: Buffer = this.table.data(s)): void {
    const d = nodeDigest(path, data, this.table.stat(s, this.scratch));
    this.treeDigest = BigInt.asIntN(64, this.treeDigest - BigInt(this.table.digest(s)) + BigInt(d));
    this.table.setDigest(s, d);
  }

  /**
   * Snapshot load: adds a node whose parent is already present. Ephemeral, container and TTL
   * bookkeeping is rebuilt from its stat.
   */
  loadNode(path: string, data: Buffer, aclIndex: number, stat: StatPersisted): void {
    let parent = NO_NODE;
    if (path !== '/') {
      parent = this.slots.get(parentOf(path)) ?? NO_NODE;
      if (parent === NO_NODE) throw new Error(`snapshot node ${path} has no parent`);
    }
    this.acls.addRef(aclIndex);
    if (parent !== NO_NODE) this.table.addChild(parent, baseName(path));
    const s = this.putNode(path, data, aclIndex, stat);
    this.track(path, this.table.owner(s));
  }

  private track(path: string, owner: bigint): void {
    if (owner === 0n) return;
    if (owner === CONTAINER_OWNER) this.containers.add(path);
    else if (isTtlOwner(owner)) this.ttls.add(path);
    else {
      let set = this.ephemerals.get(owner);
      if (!set) this.ephemerals.set(owner, (set = new Set()));
      set.add(path);
    }
  }

  private untrack(path: string, owner: bigint): void {
    if (owner === 0n) return;
    if (owner === CONTAINER_OWNER) this.containers.delete(path);
    else if (isTtlOwner(owner)) this.ttls.delete(path);
    else {
      const set = this.ephemerals.get(owner);
      if (set) {
        set.delete(path);
        if (set.size === 0) this.ephemerals.delete(owner);
      }
    }
  }

  /** The node's slot, or NO_NODE; "" is the root too, as in ZooKeeper, where the root is stored under both. */
  slotOf(path: string): number {
    return this.slots.get(path === '' ? '/' : path) ?? NO_NODE;
  }

  /** Whether a node is stored under exactly this path. */
  has(path: string): boolean {
    return this.slots.has(path);
  }

  paths(): IterableIterator<string> {
    return this.slots.keys();
  }

  /** A copy of the node at path (as slotOf finds it). */
  getNode(path: string): NodeSnapshot | undefined {
    const s = this.slotOf(path);
    if (s === NO_NODE) return undefined;
    const data = this.table.data(s);
    return {
      // Copied out of the slab; a value without bytes stays the shared null or empty one.
      data: data.length === 0 ? data : Buffer.from(data),
      aclIndex: this.table.aclIndex(s),
      stat: this.table.stat(s),
      children: new Set(this.table.children(s)),
    };
  }

  aclOf(s: number): readonly ACL[] {
    return this.acls.get(this.table.aclIndex(s));
  }

  /** The stat a client sees. */
  statOf(s: number): Stat {
    const t = this.table;
    const numChildren = t.childCount(s);
    const owner = t.owner(s);
    return {
      czxid: t.czxid(s),
      mzxid: t.mzxid(s),
      ctime: t.ctime(s),
      mtime: t.mtime(s),
      version: t.version(s),
      // Stored cversion counts creates; clients see creates + deletes.
      cversion: t.cversion(s) * 2 - numChildren,
      aversion: t.aversion(s),
      ephemeralOwner: owner === CONTAINER_OWNER || isTtlOwner(owner) ? 0n : owner,
      dataLength: t.dataLength(s),
      numChildren,
      pzxid: t.pzxid(s),
    };
  }

  /**
   * Recovery: a node loaded with an ACL index the snapshot did not define gets the ACL a later
   * logged txn names, if it still has that index.
   */
  repairAcl(path: string, danglingIndex: number, acl: readonly ACL[]): void {
    const s = this.slots.get(path);
    if (s === undefined || this.table.aclIndex(s) !== danglingIndex) return;
    this.acls.release(danglingIndex);
    this.table.setAcl(s, this.acls.intern(acl), this.table.aversion(s));
  }

  digest(): bigint {
    return this.treeDigest;
  }

  get nodeCount(): number {
    return this.slots.size;
  }

  /** Bytes held for znode values, including what deleted values leave unused in shared slabs. */
  get valueBytes(): number {
    return this.table.valueBytes;
  }

  ephemeralCount(): number {
    let n = 0;
    for (const s of this.ephemerals.values()) n += s.size;
    return n;
  }

  /** Number of descendants of path (getAllChildrenNumber). */
  countDescendants(path: string): number {
    // ZooKeeper counts map keys under path + "/"; for "" that includes the root's "/" alias.
    if (path === '') return this.countDescendants('/') + 1;
    if (!this.slots.has(path)) return 0;
    let n = 0;
    const stack: string[] = [path];
    while (stack.length > 0) {
      const p = stack.pop()!;
      for (const c of this.table.children(this.slots.get(p)!)) {
        n++;
        stack.push(p === '/' ? `/${c}` : `${p}/${c}`);
      }
    }
    return n;
  }

  /** Updates the stats node of the quota covering path, in place, as ZooKeeper does. */
  private quotaChanged(path: string, bytes: number, count: number): void {
    const owner = this.quotas.owner(path);
    if (owner === null) return;
    const statNode = this.slots.get(statPath(owner));
    if (statNode === undefined) return;
    const t = parseTrack(this.table.data(statNode).toString('utf8'));
    t.count += count;
    t.bytes += bytes;
    this.setQuotaStats(statNode, formatTrack(t));
  }

  private setQuotaStats(statNode: number, text: string): void {
    const data = Buffer.from(text, 'utf8');
    this.approximateDataSize += data.length - this.table.dataLength(statNode);
    this.table.setData(statNode, data);
  }

  /** Recomputes a quota's count and bytes from its subtree (the node itself included). */
  private recountQuota(path: string): void {
    const statNode = this.slots.get(statPath(path));
    if (statNode === undefined || !this.slots.has(path)) return;
    let count = 0;
    let bytes = 0;
    const stack = [path];
    while (stack.length > 0) {
      const p = stack.pop()!;
      const n = this.slots.get(p)!;
      count++;
      bytes += this.table.dataLength(n);
      for (const c of this.table.children(n)) stack.push(joinPath(p, c));
    }
    const t = parseTrack(this.table.data(statNode).toString('utf8'));
    t.count = count;
    t.bytes = bytes;
    this.setQuotaStats(statNode, formatTrack(t));
  }

  /** Finds every quota under /zookeeper/quota and recounts it (after loading a snapshot). */
  setupQuotas(): void {
    const stack = [QUOTA_ROOT];
    while (stack.length > 0) {
      const p = stack.pop()!;
      const n = this.slots.get(p);
      if (n === undefined) continue;
      for (const c of this.table.children(n)) {
        if (c === LIMIT_NODE) {
          const target = quotaTarget(p);
          if (target !== null) this.quotas.add(target);
        } else stack.push(joinPath(p, c));
      }
    }
    for (const q of this.quotas.all()) this.recountQuota(q);
  }

  /** Applies one committed txn. Errors inside it are results, not exceptions. */
  applyTxn(h: TxnHeader, txn: Txn): ApplyResult {
    const rc = this.apply(h, txn, false);
    if (h.zxid > this.lastProcessedZxid) this.lastProcessedZxid = h.zxid;
    return rc;
  }

  private apply(h: TxnHeader, txn: Txn, sub: boolean): ApplyResult {
    const rc: ApplyResult = { type: txn.type, err: Err.OK, zxid: h.zxid, path: '', stat: null, multi: null };
    switch (txn.type) {
      case OpCode.create:
      case OpCode.create2:
      case OpCode.createTTL:
      case OpCode.createContainer: {
        rc.path = txn.path;
        const owner =
          txn.type === OpCode.createContainer
            ? CONTAINER_OWNER
            : txn.type === OpCode.createTTL
              ? BigInt.asIntN(64, 0xff00000000000000n | BigInt(txn.ttl))
              : 'ephemeral' in txn && txn.ephemeral
                ? h.clientId
                : 0n;
        rc.err = this.createNode(txn.path, txn.data, txn.acl, owner, txn.parentCVersion, h.zxid, h.time);
        if (rc.err === Err.OK) {
          if (txn.type !== OpCode.create) rc.stat = this.statOf(this.slots.get(txn.path)!);
        } else if (
          rc.err === Err.NODEEXISTS &&
          !sub &&
          (txn.type === OpCode.create || txn.type === OpCode.create2)
        ) {
          // Replaying a log over a fuzzy snapshot: the node is there, but the parent's cversion
          // and pzxid may predate this create.
          this.setCversionPzxid(parentOf(txn.path), txn.parentCVersion, h.zxid);
        }
        return rc;
      }
      case OpCode.delete:
      case OpCode.deleteContainer:
        rc.path = txn.path;
        rc.err = this.deleteNode(txn.path, h.zxid);
        if (rc.err === Err.NONODE) {
          // Replaying a log over a fuzzy snapshot: the child was already gone when it was written,
          // but its parent was written before the delete and still needs the delete's pzxid.
          // (A live delete of a missing node never gets here: prep turns it into an error txn.)
          const parentPath = parentOf(txn.path);
          const parent = this.slots.get(parentPath);
          if (parent !== undefined && h.zxid > this.table.pzxid(parent)) {
            this.table.setPzxid(parent, h.zxid);
            this.touched(parentPath, parent);
          }
        }
        return rc;
      case OpCode.setData:
      case OpCode.reconfig: {
        rc.path = txn.path;
        const node = this.slots.get(txn.path);
        if (node === undefined) {
          rc.err = Err.NONODE;
          return rc;
        }
        const grown = txn.data.length - this.table.dataLength(node);
        this.approximateDataSize += grown;
        this.quotaChanged(txn.path, grown, 0);
        this.table.setData(node, txn.data);
        this.table.setModified(node, txn.version, h.zxid, h.time);
        this.touched(txn.path, node, txn.data);
        rc.stat = this.statOf(node);
        this.trigger(txn.path, EventType.NodeDataChanged, h.zxid, this.aclOf(node));
        return rc;
      }
      case OpCode.setACL: {
        rc.path = txn.path;
        const node = this.slots.get(txn.path);
        if (node === undefined) {
          rc.err = Err.NONODE;
          return rc;
        }
        this.acls.release(this.table.aclIndex(node));
        this.table.setAcl(node, this.acls.intern(txn.acl), txn.version);
        this.touched(txn.path, node);
        rc.stat = this.statOf(node);
        return rc;
      }
      case OpCode.createSession:
        return rc;
      case OpCode.closeSession: {
        const owned = this.ephemerals.get(h.clientId);
        const paths = new Set<string>(txn.paths ?? []);
        if (owned) for (const p of owned) paths.add(p);
        // Children before parents is not a concern (ephemerals have no children); sort for a
        // deterministic event order.
        for (const p of [...paths].sort()) {
          const n = this.slots.get(p);
          if (n !== undefined && this.table.owner(n) === h.clientId) this.deleteNode(p, h.zxid);
        }
        return rc;
      }
      case OpCode.check:
        rc.path = txn.path;
        return rc;
      case OpCode.error:
        rc.err = txn.err;
        return rc;
      case OpCode.multi: {
        const results: OpResult[] = [];
        const failed = txn.txns.some((t) => t.type === OpCode.error);
        for (const t of txn.txns) {
          if (failed) {
            results.push({ type: -1, err: t.type === OpCode.error ? t.err : Err.OK });
            continue;
          }
          const sub = this.apply({ ...h, type: t.type }, t, true);
          results.push(opResult(sub));
        }
        rc.multi = results;
        return rc;
      }
    }
  }

  private setCversionPzxid(path: string, cversion: number, zxid: number): void {
    const node = this.slots.get(path);
    if (node === undefined) return;
    const v = cversion === -1 ? this.table.cversion(node) + 1 : cversion;
    if (v > this.table.cversion(node)) {
      this.table.setChildVersion(node, v, zxid);
      this.touched(path, node);
    }
  }

  private createNode(
    path: string,
    data: Buffer,
    acl: readonly ACL[],
    owner: bigint,
    parentCVersion: number,
    zxid: number,
    time: number,
  ): number {
    const parentPath = parentOf(path);
    const parent = this.slots.get(parentPath);
    if (parent === undefined) return Err.NONODE;
    const name = baseName(path);
    if (this.table.children(parent).has(name)) return Err.NODEEXISTS;
    const cv = parentCVersion === -1 ? this.table.cversion(parent) + 1 : parentCVersion;
    if (cv > this.table.cversion(parent)) this.table.setChildVersion(parent, cv, zxid);
    this.table.addChild(parent, name);
    this.touched(parentPath, parent);
    const stat: StatPersisted = {
      czxid: zxid,
      mzxid: zxid,
      ctime: time,
      mtime: time,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: owner,
      pzxid: zxid,
    };
    this.putNode(path, data, this.acls.intern(acl), stat);
    this.track(path, owner);
    const target = quotaTarget(parentPath);
    if (target !== null && name === LIMIT_NODE) this.quotas.add(target);
    else if (target !== null && name === STAT_NODE) this.recountQuota(target);
    else this.quotaChanged(path, data.length, 1);
    this.trigger(path, EventType.NodeCreated, zxid, acl);
    this.trigger(parentPath, EventType.NodeChildrenChanged, zxid, this.aclOf(parent));
    return Err.OK;
  }

  private deleteNode(path: string, zxid: number): number {
    const node = this.slots.get(path);
    if (node === undefined || path === '/') return Err.NONODE;
    const parentPath = parentOf(path);
    const parent = this.slots.get(parentPath)!;
    const dataLength = this.table.dataLength(node);
    this.slots.delete(path);
    this.treeDigest = BigInt.asIntN(64, this.treeDigest - BigInt(this.table.digest(node)));
    this.approximateDataSize -= path.length + dataLength;
    const acl = this.aclOf(node);
    this.acls.release(this.table.aclIndex(node));
    this.untrack(path, this.table.owner(node));
    this.table.remove(node);
    this.table.removeChild(parent, baseName(path));
    const target = quotaTarget(parentPath);
    if (target !== null && baseName(path) === LIMIT_NODE) this.quotas.delete(target);
    else this.quotaChanged(path, -dataLength, -1);
    // A create with a higher zxid may already have moved pzxid on (log replay over a fuzzy snapshot).
    if (zxid > this.table.pzxid(parent)) this.table.setPzxid(parent, zxid);
    this.touched(parentPath, parent);
    this.trigger(path, EventType.NodeDeleted, zxid, acl);
    this.trigger(parentPath, EventType.NodeChildrenChanged, zxid, this.aclOf(parent));
    return Err.OK;
  }
}

function opResult(rc: ApplyResult): OpResult {
  if (rc.err !== Err.OK) return { type: -1, err: rc.err };
  switch (rc.type) {
    case OpCode.create:
      return { type: 1, path: rc.path };
    case OpCode.create2:
    case OpCode.createTTL:
    case OpCode.createContainer:
      return { type: 15, path: rc.path, stat: rc.stat! };
    case OpCode.delete:
    case OpCode.deleteContainer:
      return { type: 2 };
    case OpCode.setData:
      return { type: 5, stat: rc.stat! };
    case OpCode.check:
      return { type: 13 };
    default:
      return { type: -1, err: Err.RUNTIMEINCONSISTENCY };
  }
}
