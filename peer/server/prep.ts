// Turns client writes into txns (ZooKeeper's PrepRequestProcessor). Validation runs against the
// tree as it will be once every txn already handed out is applied: the tree plus a table of
// pending changes. A write that fails validation becomes an error txn, so errors keep their order.

import { NULL_DATA } from '../jute/archive.ts';
import type { ACL, Id, Request, StatPersisted } from '../jute/records.ts';
import type { Txn } from '../jute/txn.ts';
import {
  CONTAINER_OWNER,
  CreateFlags,
  Err,
  isTtlOwner,
  KeeperError,
  MAX_TTL,
  OpCode,
  Perms,
} from '../protocol/constants.ts';
import { type DataTree, NO_NODE } from '../tree/datatree.ts';
import { pathError, sequenceSuffix } from '../tree/path.ts';
import { type AuthSettings, checkACL, fixupACL } from './auth.ts';
import { prepReconfig, type ReconfigHost } from './reconfig.ts';

export interface NodeRecord {
  stat: StatPersisted;
  childCount: number;
  acl: readonly ACL[];
}

interface Change {
  zxid: number;
  rec: NodeRecord | null;
}

const SPECIAL_PATHS = new Set(['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config']);

/** The tree plus writes that have been prepared but not yet applied. */
export class PendingView {
  private readonly changes = new Map<string, Change>();
  private readonly order: { zxid: number; path: string }[] = [];
  private head = 0;
  private undo: { path: string; prev: Change | undefined }[] | null = null;
  private readonly tree: DataTree;

  constructor(tree: DataTree) {
    this.tree = tree;
  }

  get(path: string): NodeRecord | null {
    const c = this.changes.get(path);
    if (c) return c.rec;
    const s = this.tree.slotOf(path);
    if (s === NO_NODE) return null;
    return {
      stat: this.tree.fields.stat(s),
      childCount: this.tree.fields.childCount(s),
      acl: this.tree.aclOf(s),
    };
  }

  need(path: string): NodeRecord {
    const r = this.get(path);
    if (!r) throw new KeeperError(Err.NONODE, path);
    return r;
  }

  set(path: string, zxid: number, rec: NodeRecord | null): void {
    this.undo?.push({ path, prev: this.changes.get(path) });
    this.changes.set(path, { zxid, rec });
    this.order.push({ zxid, path });
  }

  /** Forgets changes that the tree now reflects. */
  applied(zxid: number): void {
    while (this.head < this.order.length && this.order[this.head]!.zxid <= zxid) {
      const { zxid: z, path } = this.order[this.head++]!;
      if (this.changes.get(path)?.zxid === z) this.changes.delete(path);
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  begin(): void {
    this.undo = [];
  }

  commit(): void {
    this.undo = null;
  }

  rollback(): void {
    const undo = this.undo ?? [];
    this.undo = null;
    for (let i = undo.length - 1; i >= 0; i--) {
      const { path, prev } = undo[i]!;
      if (prev) this.changes.set(path, prev);
      else this.changes.delete(path);
    }
  }

  /** The session's ephemerals as they will be once pending changes apply. */
  ephemeralsOf(sessionId: bigint): string[] {
    const out = new Set(this.tree.ephemerals.get(sessionId) ?? []);
    for (const [path, c] of this.changes) {
      if (c.rec?.stat.ephemeralOwner === sessionId) out.add(path);
      else out.delete(path);
    }
    return [...out].sort();
  }

  get pendingCount(): number {
    return this.changes.size;
  }
}

export interface PrepContext {
  view: PendingView;
  sessionId: bigint;
  ids: readonly Id[];
  auth: AuthSettings;
  extendedTypes: boolean;
  zxid: number;
  time: number;
  reconfig?: ReconfigHost | null;
}

function validatePath(path: string): void {
  if (pathError(path) !== null) throw new KeeperError(Err.BADARGUMENTS, path);
}

/** parent path for a path already known to contain a '/', keyed as the tree keys it. */
function parentKey(path: string, lastSlash: number): string {
  return lastSlash === 0 ? '/' : path.slice(0, lastSlash);
}

function checkAndIncVersion(current: number, expected: number): number {
  if (expected !== -1 && expected !== current) throw new KeeperError(Err.BADVERSION);
  return (current + 1) | 0;
}

function copyStat(s: StatPersisted): StatPersisted {
  return { ...s };
}

/** A write request as a txn; a failed validation throws KeeperError. */
export function prepTxn(req: Request, ctx: PrepContext): Txn {
  const { view } = ctx;
  switch (req.type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return prepCreate(req, ctx);
    case OpCode.delete:
    case OpCode.deleteContainer: {
      const path = req.path;
      const lastSlash = path.lastIndexOf('/');
      if (
        req.type === OpCode.delete &&
        (lastSlash === -1 || path.includes('\0') || SPECIAL_PATHS.has(path))
      ) {
        throw new KeeperError(Err.BADARGUMENTS, path);
      }
      let node: NodeRecord;
      let parent: NodeRecord;
      const parentPath = parentKey(path, lastSlash);
      if (req.type === OpCode.deleteContainer) {
        node = view.need(path);
        if (node.childCount > 0) throw new KeeperError(Err.NOTEMPTY, path);
        // ZooKeeper refuses only session ephemerals here; persistent, container and TTL nodes go.
        const owner = node.stat.ephemeralOwner;
        if (owner !== 0n && owner !== CONTAINER_OWNER && !isTtlOwner(owner))
          throw new KeeperError(Err.BADVERSION, path);
        validatePath(path);
        if (SPECIAL_PATHS.has(path)) throw new KeeperError(Err.BADARGUMENTS, path);
        parent = view.need(parentPath);
      } else {
        // Permission on the parent is checked before the node's existence, as ZooKeeper does.
        parent = view.need(parentPath);
        checkACL(parent.acl, Perms.DELETE, ctx.ids, ctx.auth);
        node = view.need(path);
        checkAndIncVersion(node.stat.version, req.version);
        if (node.childCount > 0) throw new KeeperError(Err.NOTEMPTY, path);
      }
      const pstat = copyStat(parent.stat);
      pstat.pzxid = ctx.zxid;
      view.set(parentPath, ctx.zxid, { stat: pstat, childCount: parent.childCount - 1, acl: parent.acl });
      view.set(path, ctx.zxid, null);
      return { type: req.type, path };
    }
    case OpCode.setData: {
      validatePath(req.path);
      const node = view.need(req.path);
      checkACL(node.acl, Perms.WRITE, ctx.ids, ctx.auth);
      const version = checkAndIncVersion(node.stat.version, req.version);
      const stat = copyStat(node.stat);
      stat.version = version;
      stat.mtime = ctx.time;
      stat.mzxid = ctx.zxid;
      view.set(req.path, ctx.zxid, { ...node, stat });
      return { type: OpCode.setData, path: req.path, data: req.data ?? NULL_DATA, version };
    }
    case OpCode.setACL: {
      validatePath(req.path);
      const acl = fixupACL(req.acl, ctx.ids);
      const node = view.need(req.path);
      checkACL(node.acl, Perms.ADMIN, ctx.ids, ctx.auth);
      const version = checkAndIncVersion(node.stat.aversion, req.version);
      const stat = copyStat(node.stat);
      stat.aversion = version;
      view.set(req.path, ctx.zxid, { stat, childCount: node.childCount, acl });
      return { type: OpCode.setACL, path: req.path, acl, version };
    }
    case OpCode.check: {
      validatePath(req.path);
      const node = view.need(req.path);
      checkACL(node.acl, Perms.READ, ctx.ids, ctx.auth);
      return {
        type: OpCode.check,
        path: req.path,
        version: checkAndIncVersion(node.stat.version, req.version),
      };
    }
    case OpCode.multi:
      return prepMulti(req.ops, ctx);
    case OpCode.closeSession: {
      const paths = view.ephemeralsOf(ctx.sessionId);
      for (const path of paths) {
        const lastSlash = path.lastIndexOf('/');
        const parentPath = parentKey(path, lastSlash);
        const parent = view.get(parentPath);
        if (parent) {
          const pstat = copyStat(parent.stat);
          pstat.pzxid = ctx.zxid;
          view.set(parentPath, ctx.zxid, { stat: pstat, childCount: parent.childCount - 1, acl: parent.acl });
        }
        view.set(path, ctx.zxid, null);
      }
      return { type: OpCode.closeSession, paths };
    }
    case OpCode.createSession:
      return { type: OpCode.createSession, timeOut: req.timeOut };
    case OpCode.reconfig:
      return prepReconfig(req, ctx, ctx.reconfig ?? null);
    default:
      throw new KeeperError(Err.BADARGUMENTS, `opcode ${req.type} is not a write`);
  }
}

function prepCreate(req: Extract<Request, { type: 1 | 15 | 19 | 21 }>, ctx: PrepContext): Txn {
  const { view } = ctx;
  const flags = req.flags;
  if (flags < CreateFlags.PERSISTENT || flags > CreateFlags.PERSISTENT_SEQUENTIAL_WITH_TTL) {
    throw new KeeperError(Err.BADARGUMENTS, req.path);
  }
  const isTtlMode =
    flags === CreateFlags.PERSISTENT_WITH_TTL || flags === CreateFlags.PERSISTENT_SEQUENTIAL_WITH_TTL;
  const sequential =
    flags === CreateFlags.PERSISTENT_SEQUENTIAL ||
    flags === CreateFlags.EPHEMERAL_SEQUENTIAL ||
    flags === CreateFlags.PERSISTENT_SEQUENTIAL_WITH_TTL;
  const ephemeralMode = flags === CreateFlags.EPHEMERAL || flags === CreateFlags.EPHEMERAL_SEQUENTIAL;
  const ttl = req.type === OpCode.createTTL ? req.ttl : -1;
  if (isTtlMode && !ctx.extendedTypes) throw new KeeperError(Err.UNIMPLEMENTED);
  if (isTtlMode ? ttl <= 0 || ttl > MAX_TTL : ttl >= 0) throw new KeeperError(Err.BADARGUMENTS, req.path);

  let path = req.path;
  const lastSlash = path.lastIndexOf('/');
  if (lastSlash === -1 || path.includes('\0')) throw new KeeperError(Err.BADARGUMENTS, path);
  const parentPath = parentKey(path, lastSlash);
  const acl = fixupACL(req.acl, ctx.ids);
  const parent = view.need(parentPath);
  checkACL(parent.acl, Perms.CREATE, ctx.ids, ctx.auth);
  if (sequential) path += sequenceSuffix(parent.stat.cversion);
  validatePath(path);
  if (view.get(path) !== null) throw new KeeperError(Err.NODEEXISTS, path);
  const parentOwner = parent.stat.ephemeralOwner;
  if (parentOwner !== 0n && parentOwner !== CONTAINER_OWNER && !isTtlOwner(parentOwner)) {
    throw new KeeperError(Err.NOCHILDRENFOREPHEMERALS, path);
  }
  const newCversion = (parent.stat.cversion + 1) | 0;
  const data = req.data ?? NULL_DATA;
  let txn: Txn;
  let owner: bigint;
  if (req.type === OpCode.createContainer) {
    txn = { type: OpCode.createContainer, path, data, acl, parentCVersion: newCversion };
    owner = CONTAINER_OWNER;
  } else if (req.type === OpCode.createTTL) {
    txn = { type: OpCode.createTTL, path, data, acl, parentCVersion: newCversion, ttl };
    owner = BigInt.asIntN(64, 0xff00000000000000n | BigInt(ttl));
  } else {
    txn = { type: req.type, path, data, acl, ephemeral: ephemeralMode, parentCVersion: newCversion };
    owner = ephemeralMode ? ctx.sessionId : 0n;
  }
  const pstat = copyStat(parent.stat);
  pstat.cversion = newCversion;
  pstat.pzxid = ctx.zxid;
  view.set(parentPath, ctx.zxid, { stat: pstat, childCount: parent.childCount + 1, acl: parent.acl });
  const stat: StatPersisted = {
    czxid: ctx.zxid,
    mzxid: ctx.zxid,
    ctime: ctx.time,
    mtime: ctx.time,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: owner,
    pzxid: ctx.zxid,
  };
  view.set(path, ctx.zxid, { stat, childCount: 0, acl });
  return txn;
}

function prepMulti(ops: Request[], ctx: PrepContext): Txn {
  const txns: Txn[] = [];
  let failedAt = -1;
  let failCode = 0;
  ctx.view.begin();
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    try {
      txns.push(prepTxn(op, ctx));
    } catch (e) {
      if (!(e instanceof KeeperError)) throw e;
      failedAt = i;
      failCode = e.code;
      break;
    }
  }
  if (failedAt === -1) {
    ctx.view.commit();
    return { type: OpCode.multi, txns };
  }
  ctx.view.rollback();
  return {
    type: OpCode.multi,
    txns: ops.map((_, i) => ({
      type: OpCode.error,
      err: i < failedAt ? Err.OK : i === failedAt ? failCode : Err.RUNTIMEINCONSISTENCY,
    })),
  };
}
