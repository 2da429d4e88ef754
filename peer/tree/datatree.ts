// The replicated state: znodes, their stats and ACLs, ephemerals by session, containers and TTL
// nodes, and the tree digest. Changes come only through applyTxn, in zxid order, so every member
// that applies the same txns holds the same tree. Reads go straight to getNode/statOf.

import type { ACL, OpResult, Stat, StatPersisted } from '../jute/records.ts';
import type { Txn, TxnHeader } from '../jute/txn.ts';
import { CONTAINER_OWNER, Err, EventType, isTtlOwner, OpCode, Perms } from '../protocol/constants.ts';
import { AclCache, OPEN_ACL_INDEX } from './acl-cache.ts';
import { nodeDigest } from './digest.ts';
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
import { EMPTY_VALUE, keepValue } from './value-slab.ts';

export interface DataNode {
  data: Buffer;
  aclIndex: number;
  stat: StatPersisted;
  /** NO_CHILDREN until the first child: most znodes are leaves, and an empty Set costs 100 bytes. */
  children: ReadonlySet<string>;
  /** Cached nodeDigest of this node as it stands. */
  digest: number;
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

const NO_CHILDREN: ReadonlySet<string> = new Set();
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

export function toStat(n: DataNode): Stat {
  const s = n.stat;
  const numChildren = n.children.size;
  return {
    czxid: s.czxid,
    mzxid: s.mzxid,
    ctime: s.ctime,
    mtime: s.mtime,
    version: s.version,
    // Stored cversion counts creates; clients see creates + deletes.
    cversion: s.cversion * 2 - numChildren,
    aversion: s.aversion,
    ephemeralOwner:
      s.ephemeralOwner === CONTAINER_OWNER || isTtlOwner(s.ephemeralOwner) ? 0n : s.ephemeralOwner,
    dataLength: n.data.length,
    numChildren,
    pzxid: s.pzxid,
  };
}

export class DataTree {
  readonly nodes = new Map<string, DataNode>();
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
    this.putNode('/', this.newNode(EMPTY_VALUE, OPEN_ACL_INDEX, emptyStat()));
    this.addSystemNode('/zookeeper', EMPTY_VALUE, OPEN_ACL_INDEX);
    this.addSystemNode('/zookeeper/quota', EMPTY_VALUE, OPEN_ACL_INDEX);
    this.addSystemNode('/zookeeper/config', opts.config ?? EMPTY_VALUE, this.acls.intern(READ_ACL_UNSAFE));
    // ZooKeeper sets this ACL with version -1 when it creates the node.
    this.nodes.get('/zookeeper/config')!.stat.aversion = -1;
    this.touched('/zookeeper/config', this.nodes.get('/zookeeper/config')!);
  }

  /**
   * Replaces a system node's data without a txn (ZooKeeper does this for /zookeeper/config when a
   * member starts or learns a config); stat and watches stay as they are.
   */
  setSystemNodeData(path: string, data: Buffer): void {
    const node = this.nodes.get(path);
    if (!node) return;
    this.approximateDataSize += data.length - node.data.length;
    node.data = keepValue(data);
    this.touched(path, node);
  }

  private newNode(data: Buffer, aclIndex: number, stat: StatPersisted): DataNode {
    return { data: keepValue(data), aclIndex, stat, children: NO_CHILDREN, digest: 0 };
  }

  private addSystemNode(path: string, data: Buffer, aclIndex: number): void {
    this.putNode(path, this.newNode(data, aclIndex, emptyStat()));
    addChild(this.nodes.get(parentOf(path))!, baseName(path));
  }

  private putNode(path: string, node: DataNode): void {
    this.nodes.set(path, node);
    node.digest = nodeDigest(path, node.data, node.stat);
    this.treeDigest = BigInt.asIntN(64, this.treeDigest + BigInt(node.digest));
    this.approximateDataSize += path.length + node.data.length;
  }

  /** Re-digests a node after its data or stat changed. */
  private touched(path: string, node: DataNode): void {
    const d = nodeDigest(path, node.data, node.stat);
    this.treeDigest = BigInt.asIntN(64, this.treeDigest - BigInt(node.digest) + BigInt(d));
    node.digest = d;
  }

  /**
   * Snapshot load: adds a node whose parent is already present. Ephemeral, container and TTL
   * bookkeeping is rebuilt from its stat.
   */
  loadNode(path: string, data: Buffer, aclIndex: number, stat: StatPersisted): void {
    // A decoded long is a new BigInt each time; most owners are 0, and one shared 0n does for them.
    if (stat.ephemeralOwner === 0n) stat.ephemeralOwner = 0n;
    const node = this.newNode(data, aclIndex, stat);
    this.acls.addRef(aclIndex);
    if (path !== '/') {
      const parent = this.nodes.get(parentOf(path));
      if (!parent) throw new Error(`snapshot node ${path} has no parent`);
      addChild(parent, baseName(path));
    }
    this.putNode(path, node);
    this.track(path, stat.ephemeralOwner);
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

  /** The node at path; "" is the root too, as in ZooKeeper, where the root is stored under both. */
  getNode(path: string): DataNode | undefined {
    return this.nodes.get(path === '' ? '/' : path);
  }

  aclOf(node: DataNode): readonly ACL[] {
    return this.acls.get(node.aclIndex);
  }

  digest(): bigint {
    return this.treeDigest;
  }

  get nodeCount(): number {
    return this.nodes.size;
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
    const node = this.nodes.get(path);
    if (!node) return 0;
    let n = 0;
    const stack: string[] = [path];
    while (stack.length > 0) {
      const p = stack.pop()!;
      const nd = this.nodes.get(p)!;
      for (const c of nd.children) {
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
    const statNode = this.nodes.get(statPath(owner));
    if (!statNode) return;
    const t = parseTrack(statNode.data.toString('utf8'));
    t.count += count;
    t.bytes += bytes;
    this.setQuotaStats(statNode, formatTrack(t));
  }

  private setQuotaStats(statNode: DataNode, text: string): void {
    const data = Buffer.from(text, 'utf8');
    this.approximateDataSize += data.length - statNode.data.length;
    statNode.data = keepValue(data);
  }

  /** Recomputes a quota's count and bytes from its subtree (the node itself included). */
  private recountQuota(path: string): void {
    const statNode = this.nodes.get(statPath(path));
    if (!statNode || !this.nodes.has(path)) return;
    let count = 0;
    let bytes = 0;
    const stack = [path];
    while (stack.length > 0) {
      const p = stack.pop()!;
      const n = this.nodes.get(p)!;
      count++;
      bytes += n.data.length;
      for (const c of n.children) stack.push(joinPath(p, c));
    }
    const t = parseTrack(statNode.data.toString('utf8'));
    t.count = count;
    t.bytes = bytes;
    this.setQuotaStats(statNode, formatTrack(t));
  }

  /** Finds every quota under /zookeeper/quota and recounts it (after loading a snapshot). */
  setupQuotas(): void {
    const stack = [QUOTA_ROOT];
    while (stack.length > 0) {
      const p = stack.pop()!;
      const n = this.nodes.get(p);
      if (!n) continue;
      for (const c of n.children) {
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
          if (txn.type !== OpCode.create) rc.stat = toStat(this.nodes.get(txn.path)!);
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
          const parent = this.nodes.get(parentPath);
          if (parent && h.zxid > parent.stat.pzxid) {
            parent.stat.pzxid = h.zxid;
            this.touched(parentPath, parent);
          }
        }
        return rc;
      case OpCode.setData:
      case OpCode.reconfig: {
        rc.path = txn.path;
        const node = this.nodes.get(txn.path);
        if (!node) {
          rc.err = Err.NONODE;
          return rc;
        }
        this.approximateDataSize += txn.data.length - node.data.length;
        this.quotaChanged(txn.path, txn.data.length - node.data.length, 0);
        node.data = keepValue(txn.data);
        node.stat.version = txn.version;
        node.stat.mtime = h.time;
        node.stat.mzxid = h.zxid;
        this.touched(txn.path, node);
        rc.stat = toStat(node);
        this.trigger(txn.path, EventType.NodeDataChanged, h.zxid, this.aclOf(node));
        return rc;
      }
      case OpCode.setACL: {
        rc.path = txn.path;
        const node = this.nodes.get(txn.path);
        if (!node) {
          rc.err = Err.NONODE;
          return rc;
        }
        this.acls.release(node.aclIndex);
        node.aclIndex = this.acls.intern(txn.acl);
        node.stat.aversion = txn.version;
        this.touched(txn.path, node);
        rc.stat = toStat(node);
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
          const n = this.nodes.get(p);
          if (n && n.stat.ephemeralOwner === h.clientId) this.deleteNode(p, h.zxid);
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
    const node = this.nodes.get(path);
    if (!node) return;
    const v = cversion === -1 ? node.stat.cversion + 1 : cversion;
    if (v > node.stat.cversion) {
      node.stat.cversion = v;
      node.stat.pzxid = zxid;
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
    const parent = this.nodes.get(parentPath);
    if (!parent) return Err.NONODE;
    const name = baseName(path);
    if (parent.children.has(name)) return Err.NODEEXISTS;
    const cv = parentCVersion === -1 ? parent.stat.cversion + 1 : parentCVersion;
    if (cv > parent.stat.cversion) {
      parent.stat.cversion = cv;
      parent.stat.pzxid = zxid;
    }
    addChild(parent, name);
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
    this.putNode(path, this.newNode(data, this.acls.intern(acl), stat));
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
    const node = this.nodes.get(path);
    if (!node || path === '/') return Err.NONODE;
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath)!;
    this.nodes.delete(path);
    this.treeDigest = BigInt.asIntN(64, this.treeDigest - BigInt(node.digest));
    this.approximateDataSize -= path.length + node.data.length;
    const acl = this.aclOf(node);
    this.acls.release(node.aclIndex);
    this.untrack(path, node.stat.ephemeralOwner);
    removeChild(parent, baseName(path));
    const target = quotaTarget(parentPath);
    if (target !== null && baseName(path) === LIMIT_NODE) this.quotas.delete(target);
    else this.quotaChanged(path, -node.data.length, -1);
    // A create with a higher zxid may already have moved pzxid on (log replay over a fuzzy snapshot).
    if (zxid > parent.stat.pzxid) parent.stat.pzxid = zxid;
    this.touched(parentPath, parent);
    this.trigger(path, EventType.NodeDeleted, zxid, acl);
    this.trigger(parentPath, EventType.NodeChildrenChanged, zxid, this.aclOf(parent));
    return Err.OK;
  }
}

function addChild(node: DataNode, name: string): void {
  if (node.children === NO_CHILDREN) node.children = new Set([name]);
  else (node.children as Set<string>).add(name);
}

function removeChild(node: DataNode, name: string): void {
  const children = node.children as Set<string>;
  children.delete(name);
  if (children.size === 0) node.children = NO_CHILDREN;
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
