// The snapshot body shared by snapshot files and the SNAP sync stream (SerializeUtils.serializeSnapshot):
//   int count, count × (long sessionId, int timeoutMs)
//   int count, count × (long aclIndex, vector<ACL>)           the ACL cache
//   (ustring path, buffer data, long aclIndex, StatPersisted)* pre-order, the root under path ""
//   ustring "/"                                                end of nodes
// The SNAP stream sent to a learner is that body followed by the ustring "BenWasHere".

import { JuteError, JuteReader, JuteWriter } from '../jute/archive.ts';
import {
  type ACL,
  readAclList,
  readStatPersisted,
  type StatPersisted,
  writeAclList,
  writeStatPersisted,
} from '../jute/records.ts';
import { OPEN_ACL_INDEX } from '../tree/acl-cache.ts';
import { DataTree, NO_NODE } from '../tree/datatree.ts';

export const SNAP_SIGNATURE = 'BenWasHere';
/** Largest string or buffer accepted inside a snapshot (far above jute.maxbuffer). */
export const SNAPSHOT_MAX_BUFFER = 64 << 20;

/**
 * ACL given to a node whose ACL index is missing from the snapshot's ACL cache. That happens in
 * fuzzy snapshots (the cache is written first; a node created later with a new ACL list refers to
 * an index the cache lacks). It grants nothing; replaying the txn that created the node repairs it.
 */
export const UNKNOWN_ACL: readonly ACL[] = Object.freeze([
  { perms: 0, id: { scheme: 'world', id: 'anyone' } },
]);

export interface SnapBodyOptions {
  /** Yield (hand a chunk to the consumer) after this many nodes. */
  nodesPerChunk?: number;
  /** ... or once the writer holds this many bytes. */
  bytesPerChunk?: number;
}

/**
 * Writes the body into `w`, yielding every so often so the caller can drain `w` (and let the event
 * loop run). The tree may change between yields: each node is written as it is when visited, and a
 * node's children are the ones it has when it is visited (a fuzzy snapshot, as ZooKeeper's).
 */
export function* snapBody(
  tree: DataTree,
  sessions: ReadonlyMap<bigint, number>,
  w: JuteWriter,
  opts: SnapBodyOptions = {},
): Generator<void, void, void> {
  const nodesPerChunk = opts.nodesPerChunk ?? 4096;
  const bytesPerChunk = opts.bytesPerChunk ?? 1 << 20;
  w.int(sessions.size);
  for (const [id, timeout] of sessions) w.bigLong(id).int(timeout);
  w.int(tree.acls.size);
  for (const [index, entry] of tree.acls.entries()) {
    w.long(index);
    writeAclList(w, entry.acl);
  }
  // Pre-order walk with an explicit stack of (parent path, remaining child names).
  const stack: { path: string; children: string[]; i: number }[] = [];
  const stat = {} as StatPersisted;
  let sinceYield = 0;
  const visit = (path: string): void => {
    const node = tree.slotOf(path);
    if (node === NO_NODE) return; // deleted since its parent was written
    w.ustring(path === '/' ? '' : path);
    w.buffer(tree.fields.data(node)).long(tree.fields.aclIndex(node));
    writeStatPersisted(w, tree.fields.stat(node, stat));
    const children = tree.fields.children(node);
    if (children.size > 0) stack.push({ path, children: [...children], i: 0 });
    sinceYield++;
  };
  visit('/');
  while (stack.length > 0) {
    if (sinceYield >= nodesPerChunk || w.length >= bytesPerChunk) {
      yield;
      sinceYield = 0;
    }
    const top = stack[stack.length - 1]!;
    if (top.i >= top.children.length) {
      stack.pop();
      continue;
    }
    const name = top.children[top.i++]!;
    visit(top.path === '/' ? `/${name}` : `${top.path}/${name}`);
  }
  w.ustring('/');
}

/**
 * The SNAP stream (body + signature) for a learner, in chunks of about `bytesPerChunk`: the sender
 * asks for the next one only after the last is on its way, so other work runs between them. Serialized
 * all at once, 100k znodes held the leader's event loop for about 0.26 s, more for a larger tree, and
 * every client of the leader waited. The tree may change between chunks (a fuzzy snapshot, as
 * ZooKeeper's LearnerHandler sends it): the txns after the SNAP's zxid follow the stream and the
 * learner applies them again, as recovery does over a fuzzy snapshot on disk.
 */
export function* snapStreamChunks(
  tree: DataTree,
  sessions: ReadonlyMap<bigint, number>,
  bytesPerChunk = 256 * 1024,
): Generator<Buffer, void, void> {
  const w = new JuteWriter(bytesPerChunk + 64 * 1024);
  for (const _ of snapBody(tree, sessions, w, { nodesPerChunk: Number.POSITIVE_INFINITY, bytesPerChunk })) {
    yield Buffer.from(w.view());
    w.reset();
  }
  w.ustring(SNAP_SIGNATURE);
  yield Buffer.from(w.view());
}

/** Writes the SNAP stream (body + signature) for a learner, all at once. */
export function serializeSnapStream(
  tree: DataTree,
  sessions: ReadonlyMap<bigint, number>,
  w: JuteWriter,
): void {
  for (const _ of snapBody(tree, sessions, w, {
    nodesPerChunk: Number.POSITIVE_INFINITY,
    bytesPerChunk: Number.POSITIVE_INFINITY,
  }));
  w.ustring(SNAP_SIGNATURE);
}

export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError';
}

type State = 'sessionCount' | 'sessions' | 'aclCount' | 'acls' | 'nodes' | 'done';

/**
 * Loads a snapshot body into a fresh tree, one item (session, ACL entry, node) per step(). A step
 * either consumes a whole item or throws leaving the parser unchanged, so a caller that gets a
 * truncation error can retry the same step once more bytes arrive.
 */
export class SnapBodyParser {
  readonly tree = new DataTree({ empty: true });
  readonly sessions = new Map<bigint, number>();
  /** Nodes that got UNKNOWN_ACL because their ACL index was not in the cache. */
  readonly danglingAcl = new Map<string, number>();
  private readonly unknownIndexes = new Set<number>();
  nodeCount = 0;
  private state: State = 'sessionCount';
  private left = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  step(r: JuteReader): void {
    switch (this.state) {
      case 'sessionCount':
      case 'aclCount': {
        const n = r.int();
        if (n < 0) throw new SnapshotFormatError(`negative ${this.state} ${n}`);
        this.left = n;
        this.state = this.state === 'sessionCount' ? 'sessions' : 'acls';
        break;
      }
      case 'sessions': {
        const id = r.bigLong();
        const timeout = r.int();
        this.sessions.set(id, timeout);
        this.left--;
        break;
      }
      case 'acls': {
        const index = r.long();
        const acl = readAclList(r) ?? [];
        this.tree.acls.restore(index, acl);
        this.left--;
        break;
      }
      case 'nodes': {
        const path = r.string();
        if (path === '/') {
          this.finish();
          return;
        }
        const data = r.data();
        const aclIndex = r.long();
        const stat = readStatPersisted(r);
        this.loadNode(path, data, aclIndex, stat);
        break;
      }
      case 'done':
        throw new Error('snapshot body already complete');
    }
    if ((this.state === 'sessions' || this.state === 'acls') && this.left === 0) {
      this.state = this.state === 'sessions' ? 'aclCount' : 'nodes';
    }
  }

  private loadNode(rawPath: string, data: Buffer, aclIndex: number, stat: StatPersisted): void {
    const path = rawPath === '' ? '/' : rawPath;
    if (!path.startsWith('/')) throw new SnapshotFormatError(`invalid node path ${JSON.stringify(rawPath)}`);
    if (this.tree.has(path)) throw new SnapshotFormatError(`node ${path} appears twice`);
    if (path !== '/' && !this.tree.has(path.slice(0, Math.max(1, path.lastIndexOf('/'))))) {
      throw new SnapshotFormatError(`invalid data tree: no parent for ${path}`);
    }
    if (aclIndex !== OPEN_ACL_INDEX && !this.hasAcl(aclIndex)) {
      this.tree.acls.restore(aclIndex, UNKNOWN_ACL);
      this.unknownIndexes.add(aclIndex);
    }
    if (this.unknownIndexes.has(aclIndex)) this.danglingAcl.set(path, aclIndex);
    this.tree.loadNode(path, data, aclIndex, stat);
    this.nodeCount++;
  }

  private hasAcl(index: number): boolean {
    try {
      this.tree.acls.get(index);
      return true;
    } catch {
      return false;
    }
  }

  private finish(): void {
    if (!this.tree.has('/')) throw new SnapshotFormatError('snapshot has no root node');
    this.tree.acls.purgeUnused();
    this.state = 'done';
  }
}

/** Reads a SNAP stream (body + signature) that is entirely in `r`. */
export function deserializeSnapStream(r: JuteReader): { tree: DataTree; sessions: Map<bigint, number> } {
  const p = new SnapBodyParser();
  while (!p.done) p.step(r);
  const sig = r.ustring();
  if (sig !== SNAP_SIGNATURE) throw new SnapshotFormatError(`missing signature, got ${JSON.stringify(sig)}`);
  return { tree: p.tree, sessions: p.sessions };
}

/**
 * Reads a SNAP stream as it arrives in chunks (from a socket). feed() returns true once the
 * signature has been read; the bytes after it (the next packets) are in `rest`.
 */
export class SnapStreamReader {
  private readonly parser = new SnapBodyParser();
  private pending: Buffer = Buffer.alloc(0);
  private complete = false;
  rest: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): boolean {
    if (this.complete) throw new Error('SNAP stream already complete');
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const r = new JuteReader(this.pending, 0, this.pending.length, SNAPSHOT_MAX_BUFFER);
    let mark = 0;
    try {
      while (!this.parser.done) {
        this.parser.step(r);
        mark = r.offset;
      }
      const sig = r.ustring();
      if (sig !== SNAP_SIGNATURE)
        throw new SnapshotFormatError(`missing signature, got ${JSON.stringify(sig)}`);
      this.complete = true;
      this.rest = Buffer.from(r.rest());
      this.pending = Buffer.alloc(0);
      return true;
    } catch (e) {
      // A truncated item: keep its bytes and wait for more, unless it can't be a truncation.
      const truncated = e instanceof JuteError && /^(truncated record|vector count)/.test(e.message);
      if (!truncated || this.pending.length - mark > 2 * SNAPSHOT_MAX_BUFFER + 4096) throw e;
      this.pending = this.pending.subarray(mark);
      return false;
    }
  }

  result(): { tree: DataTree; sessions: Map<bigint, number> } {
    if (!this.complete) throw new Error('SNAP stream not complete');
    return { tree: this.parser.tree, sessions: this.parser.sessions };
  }
}
