// Client-protocol records (zookeeper.jute), both directions: the server decodes requests and
// encodes responses; the test client and the benchmark do the reverse with the same layouts.

import { OpCode } from '../protocol/constants.ts';
import { JuteError, type JuteReader, type JuteWriter } from './archive.ts';

export interface Id {
  scheme: string;
  id: string;
}

export interface ACL {
  perms: number;
  id: Id;
}

/** The on-disk and in-memory stat; clients get Stat, which adds two computed fields. */
export interface StatPersisted {
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  pzxid: number;
}

export interface Stat {
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: number;
}

export function writeId(w: JuteWriter, id: Id): void {
  w.ustring(id.scheme).ustring(id.id);
}

export function readId(r: JuteReader): Id {
  return { scheme: r.ustring() ?? '', id: r.ustring() ?? '' };
}

export function writeAcl(w: JuteWriter, a: ACL): void {
  w.int(a.perms);
  writeId(w, a.id);
}

export function readAcl(r: JuteReader): ACL {
  return { perms: r.int(), id: readId(r) };
}

export function writeAclList(w: JuteWriter, acl: readonly ACL[] | null): void {
  w.vector(acl, writeAcl);
}

export function readAclList(r: JuteReader): ACL[] | null {
  return r.vector(readAcl);
}

export function writeStat(w: JuteWriter, s: Stat): void {
  w.long(s.czxid).long(s.mzxid).long(s.ctime).long(s.mtime);
  w.int(s.version).int(s.cversion).int(s.aversion);
  w.bigLong(s.ephemeralOwner).int(s.dataLength).int(s.numChildren).long(s.pzxid);
}

export function readStat(r: JuteReader): Stat {
  return {
    czxid: r.long(),
    mzxid: r.long(),
    ctime: r.long(),
    mtime: r.long(),
    version: r.int(),
    cversion: r.int(),
    aversion: r.int(),
    ephemeralOwner: r.bigLong(),
    dataLength: r.int(),
    numChildren: r.int(),
    pzxid: r.long(),
  };
}

export function writeStatPersisted(w: JuteWriter, s: StatPersisted): void {
  w.long(s.czxid).long(s.mzxid).long(s.ctime).long(s.mtime);
  w.int(s.version).int(s.cversion).int(s.aversion);
  w.bigLong(s.ephemeralOwner).long(s.pzxid);
}

export function readStatPersisted(r: JuteReader): StatPersisted {
  return {
    czxid: r.long(),
    mzxid: r.long(),
    ctime: r.long(),
    mtime: r.long(),
    version: r.int(),
    cversion: r.int(),
    aversion: r.int(),
    ephemeralOwner: r.bigLong(),
    pzxid: r.long(),
  };
}

// ---- connect handshake -------------------------------------------------------------------

export interface ConnectRequest {
  protocolVersion: number;
  lastZxidSeen: number;
  timeOut: number;
  sessionId: bigint;
  passwd: Buffer;
  /** undefined when the client did not send the optional trailing byte. */
  readOnly: boolean | undefined;
}

export function readConnectRequest(r: JuteReader): ConnectRequest {
  const protocolVersion = r.int();
  const lastZxidSeen = r.long();
  const timeOut = r.int();
  const sessionId = r.bigLong();
  const passwd = r.buffer() ?? Buffer.alloc(0);
  const readOnly = r.remaining > 0 ? r.bool() : undefined;
  return { protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly };
}

export function writeConnectRequest(w: JuteWriter, c: ConnectRequest): void {
  w.int(c.protocolVersion).long(c.lastZxidSeen).int(c.timeOut).bigLong(c.sessionId).buffer(c.passwd);
  if (c.readOnly !== undefined) w.bool(c.readOnly);
}

export interface ConnectResponse {
  protocolVersion: number;
  timeOut: number;
  sessionId: bigint;
  passwd: Buffer;
  readOnly: boolean | undefined;
}

export function writeConnectResponse(w: JuteWriter, c: ConnectResponse): void {
  w.int(c.protocolVersion).int(c.timeOut).bigLong(c.sessionId).buffer(c.passwd);
  if (c.readOnly !== undefined) w.bool(c.readOnly);
}

export function readConnectResponse(r: JuteReader): ConnectResponse {
  const protocolVersion = r.int();
  const timeOut = r.int();
  const sessionId = r.bigLong();
  const passwd = r.buffer() ?? Buffer.alloc(0);
  const readOnly = r.remaining > 0 ? r.bool() : undefined;
  return { protocolVersion, timeOut, sessionId, passwd, readOnly };
}

// ---- requests ------------------------------------------------------------------------------

export type Request =
  | { type: 1 | 15 | 19; path: string; data: Buffer | null; acl: ACL[] | null; flags: number }
  | { type: 21; path: string; data: Buffer | null; acl: ACL[] | null; flags: number; ttl: number }
  | { type: 2; path: string; version: number }
  | { type: 3 | 4 | 8 | 12; path: string; watch: boolean }
  | { type: 5; path: string; data: Buffer | null; version: number }
  | { type: 6; path: string }
  | { type: 7; path: string; acl: ACL[] | null; version: number }
  | { type: 9; path: string }
  | { type: 13; path: string; version: number }
  | { type: 14 | 22; ops: Request[] }
  | {
      type: 16;
      joiningServers: string | null;
      leavingServers: string | null;
      newMembers: string | null;
      curConfigId: number;
    }
  | { type: 17 | 18; path: string; watcherType: number }
  | { type: 20; path: string }
  | { type: 100; authType: number; scheme: string; auth: Buffer }
  | {
      /** setWatches (101) has no persistent lists on the wire: they are empty. */
      type: 101 | 105;
      relativeZxid: number;
      data: string[];
      exist: string[];
      child: string[];
      persistent: string[];
      persistentRecursive: string[];
    }
  | { type: 102; token: Buffer | null }
  | { type: 103; prefixPath: string }
  | { type: 104; path: string }
  | { type: 106; path: string; mode: number }
  | { type: 11 | 107 | -11 }
  /** Made by a server for a new session (forwarded by learners), never decoded from a client. */
  | { type: -10; timeOut: number };

export type RequestOf<T extends Request['type']> = Extract<Request, { type: T }>;

const strings = (r: JuteReader): string[] => r.vector((x) => x.string()) ?? [];

/** Decodes the body of a request with the given opcode; throws JuteError on malformed input. */
export function readRequest(type: number, r: JuteReader): Request {
  switch (type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
      return { type, path: r.string(), data: r.bufferView(), acl: readAclList(r), flags: r.int() };
    case OpCode.createTTL:
      return {
        type,
        path: r.string(),
        data: r.bufferView(),
        acl: readAclList(r),
        flags: r.int(),
        ttl: r.long(),
      };
    case OpCode.delete:
      return { type, path: r.string(), version: r.int() };
    case OpCode.exists:
    case OpCode.getData:
    case OpCode.getChildren:
    case OpCode.getChildren2:
      return { type, path: r.string(), watch: r.bool() };
    case OpCode.setData:
      return { type, path: r.string(), data: r.bufferView(), version: r.int() };
    case OpCode.getACL:
    case OpCode.sync:
      return { type, path: r.string() };
    case OpCode.setACL:
      return { type, path: r.string(), acl: readAclList(r), version: r.int() };
    case OpCode.check:
      return { type, path: r.string(), version: r.int() };
    case OpCode.multi:
    case OpCode.multiRead:
      return { type, ops: readMultiOps(r, type === OpCode.multiRead) };
    case OpCode.reconfig:
      return {
        type,
        joiningServers: r.ustring(),
        leavingServers: r.ustring(),
        newMembers: r.ustring(),
        curConfigId: r.long(),
      };
    case OpCode.checkWatches:
    case OpCode.removeWatches:
      return { type, path: r.string(), watcherType: r.int() };
    case OpCode.deleteContainer: {
      const b = r.buffer();
      if (b === null) throw new JuteError('null path');
      return { type, path: b.toString('utf8') };
    }
    case OpCode.auth:
      return { type, authType: r.int(), scheme: r.ustring() ?? '', auth: r.buffer() ?? Buffer.alloc(0) };
    case OpCode.setWatches:
    case OpCode.setWatches2: {
      const v2 = type === OpCode.setWatches2;
      return {
        type,
        relativeZxid: r.long(),
        data: strings(r),
        exist: strings(r),
        child: strings(r),
        persistent: v2 ? strings(r) : [],
        persistentRecursive: v2 ? strings(r) : [],
      };
    }
    case OpCode.sasl:
      return { type, token: r.buffer() };
    case OpCode.getEphemerals:
      return { type, prefixPath: r.ustring() ?? '' };
    case OpCode.getAllChildrenNumber:
      return { type, path: r.string() };
    case OpCode.addWatch:
      return { type, path: r.string(), mode: r.int() };
    case OpCode.ping:
    case OpCode.whoAmI:
    case OpCode.closeSession:
      return { type };
    default:
      throw new JuteError(`unknown opcode ${type}`);
  }
}

const MULTI_WRITE_OPS = new Set<number>([
  OpCode.create,
  OpCode.create2,
  OpCode.createTTL,
  OpCode.createContainer,
  OpCode.delete,
  OpCode.setData,
  OpCode.check,
]);
const MULTI_READ_OPS = new Set<number>([OpCode.getChildren, OpCode.getData]);

/** The ops of a multi (only writes and check) or a multiRead (only getChildren and getData). */
function readMultiOps(r: JuteReader, read: boolean): Request[] {
  const allowed = read ? MULTI_READ_OPS : MULTI_WRITE_OPS;
  const ops: Request[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    r.int(); // err, always -1 in requests
    if (done) return ops;
    if (!allowed.has(type))
      throw new JuteError(`opcode ${type} is not allowed in ${read ? 'multiRead' : 'multi'}`);
    ops.push(readRequest(type, r));
  }
}

export function writeRequest(w: JuteWriter, q: Request): void {
  switch (q.type) {
    case 1:
    case 15:
    case 19:
      w.ustring(q.path).buffer(q.data);
      writeAclList(w, q.acl);
      w.int(q.flags);
      return;
    case 21:
      w.ustring(q.path).buffer(q.data);
      writeAclList(w, q.acl);
      w.int(q.flags).long(q.ttl);
      return;
    case 2:
    case 13:
      w.ustring(q.path).int(q.version);
      return;
    case 3:
    case 4:
    case 8:
    case 12:
      w.ustring(q.path).bool(q.watch);
      return;
    case 5:
      w.ustring(q.path).buffer(q.data).int(q.version);
      return;
    case 6:
    case 9:
    case 104:
      w.ustring(q.path);
      return;
    case 7:
      w.ustring(q.path);
      writeAclList(w, q.acl);
      w.int(q.version);
      return;
    case 14:
    case 22:
      for (const op of q.ops) {
        w.int(op.type).bool(false).int(-1);
        writeRequest(w, op);
      }
      w.int(-1).bool(true).int(-1);
      return;
    case 16:
      w.ustring(q.joiningServers).ustring(q.leavingServers).ustring(q.newMembers).long(q.curConfigId);
      return;
    case 17:
    case 18:
      w.ustring(q.path).int(q.watcherType);
      return;
    case 20:
      w.buffer(Buffer.from(q.path, 'utf8'));
      return;
    case 100:
      w.int(q.authType).ustring(q.scheme).buffer(q.auth);
      return;
    case 101:
    case 105: {
      w.long(q.relativeZxid);
      const lists =
        q.type === 101
          ? [q.data, q.exist, q.child]
          : [q.data, q.exist, q.child, q.persistent, q.persistentRecursive];
      for (const l of lists) w.vector(l, (x, s) => x.ustring(s));
      return;
    }
    case 102:
      w.buffer(q.token);
      return;
    case 103:
      w.ustring(q.prefixPath);
      return;
    case 106:
      w.ustring(q.path).int(q.mode);
      return;
    case 11:
    case 107:
    case -11:
      return;
    case -10:
      w.int(q.timeOut);
      return;
  }
}

// ---- responses -----------------------------------------------------------------------------

export interface WatcherEvent {
  type: number;
  state: number;
  path: string;
}

export function writeWatcherEvent(w: JuteWriter, e: WatcherEvent): void {
  w.int(e.type).int(e.state).ustring(e.path);
}

export function readWatcherEvent(r: JuteReader): WatcherEvent {
  return { type: r.int(), state: r.int(), path: r.ustring() ?? '' };
}

/** One result inside a multi or multiRead response. */
export type OpResult =
  | { type: 1; path: string }
  | { type: 15; path: string; stat: Stat }
  | { type: 2 | 13 }
  | { type: 5; stat: Stat }
  | { type: 8; children: string[] }
  | { type: 4; data: Buffer | null; stat: Stat }
  | { type: -1; err: number };

export function writeMultiResponse(w: JuteWriter, results: readonly OpResult[]): void {
  for (const res of results) {
    w.int(res.type)
      .bool(false)
      .int(res.type === -1 ? res.err : 0);
    switch (res.type) {
      case 1:
        w.ustring(res.path);
        break;
      case 15:
        w.ustring(res.path);
        writeStat(w, res.stat);
        break;
      case 5:
        writeStat(w, res.stat);
        break;
      case 8:
        w.vector(res.children, (x, s) => x.ustring(s));
        break;
      case 4:
        w.buffer(res.data);
        writeStat(w, res.stat);
        break;
      case -1:
        w.int(res.err);
        break;
    }
  }
  w.int(-1).bool(true).int(-1);
}

export function readMultiResponse(r: JuteReader): OpResult[] {
  const out: OpResult[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    const err = r.int();
    if (done) return out;
    switch (type) {
      case 1:
        out.push({ type, path: r.string() });
        break;
      case 15:
        out.push({ type, path: r.string(), stat: readStat(r) });
        break;
      case 2:
      case 13:
        out.push({ type });
        break;
      case 5:
        out.push({ type, stat: readStat(r) });
        break;
      case 8:
        out.push({ type, children: strings(r) });
        break;
      case 4:
        out.push({ type, data: r.buffer(), stat: readStat(r) });
        break;
      case -1:
        r.int();
        out.push({ type, err });
        break;
      default:
        throw new JuteError(`unknown multi result type ${type}`);
    }
  }
}
