// Helpers shared by the persistence tests: temp dirs and txn builders.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ACL } from '../jute/records.ts';
import { encodeTxnEntry, type Txn, type TxnHeader } from '../jute/txn.ts';
import { OpCode, Perms } from '../protocol/constants.ts';
import { OPEN_ACL_UNSAFE } from '../tree/acl-cache.ts';
import type { DataTree } from '../tree/datatree.ts';
import { parentOf } from '../tree/path.ts';
import type { TxnLog } from './txnlog.ts';

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'zke-persist-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function hdr(zxid: number, type: number, clientId = 0x1000n, cxid = zxid): TxnHeader {
  return { clientId, cxid, zxid, time: 1_700_000_000_000 + zxid, type };
}

export function createTxn(
  path: string,
  data = `d${path}`,
  acl: readonly ACL[] = OPEN_ACL_UNSAFE,
  ephemeral = false,
): Txn {
  return { type: 1, path, data: Buffer.from(data), acl: [...acl], ephemeral, parentCVersion: -1 };
}

export function createEntry(zxid: number, path: string, data?: string): Buffer {
  return encodeTxnEntry(hdr(zxid, 1), createTxn(path, data), null);
}

/** A temp dir's version-2 subdirectory (not yet created): where log and snapshot files land. */
export async function withVersionDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  return withTempDir((tmp) => fn(join(tmp, 'version-2')));
}

/** Applies txns to a live tree the way a server would, logging each one first. */
export class Scribe {
  readonly tree: DataTree;
  readonly sessions: Map<bigint, number>;
  readonly log: TxnLog | null;
  zxid: number;

  constructor(tree: DataTree, sessions: Map<bigint, number>, log: TxnLog | null) {
    this.tree = tree;
    this.sessions = sessions;
    this.log = log;
    this.zxid = tree.lastProcessedZxid;
  }

  apply(type: number, txn: Txn, clientId = 0x1000n, withDigest = false): void {
    const h = hdr(++this.zxid, type, clientId);
    if (type === OpCode.createSession && txn.type === OpCode.createSession)
      this.sessions.set(clientId, txn.timeOut);
    if (type === OpCode.closeSession) this.sessions.delete(clientId);
    this.tree.applyTxn(h, txn);
    const digest = withDigest ? { version: 2, treeDigest: this.tree.digest() } : null;
    this.log?.append(encodeTxnEntry(h, txn, digest), h.zxid);
  }

  /** Parent cversion a create of `path` would record (as PrepRequestProcessor computes it). */
  parentCVersion(path: string): number {
    return this.tree.getNode(parentOf(path))!.stat.cversion + 1;
  }

  create(
    path: string,
    data = '',
    opts: { acl?: readonly ACL[]; owner?: bigint; ttl?: number; container?: boolean } = {},
  ): void {
    const acl = [...(opts.acl ?? OPEN_ACL_UNSAFE)];
    const parentCVersion = this.parentCVersion(path);
    const d = Buffer.from(data);
    if (opts.container) this.apply(OpCode.createContainer, { type: 19, path, data: d, acl, parentCVersion });
    else if (opts.ttl !== undefined)
      this.apply(OpCode.createTTL, { type: 21, path, data: d, acl, parentCVersion, ttl: opts.ttl });
    else {
      const ephemeral = opts.owner !== undefined;
      this.apply(
        OpCode.create2,
        { type: 15, path, data: d, acl, ephemeral, parentCVersion },
        opts.owner ?? 0x1000n,
      );
    }
  }

  setData(path: string, data: string): void {
    const version = this.tree.getNode(path)!.stat.version + 1;
    this.apply(OpCode.setData, { type: 5, path, data: Buffer.from(data), version });
  }

  setAcl(path: string, acl: readonly ACL[]): void {
    const version = this.tree.getNode(path)!.stat.aversion + 1;
    this.apply(OpCode.setACL, { type: 7, path, acl: [...acl], version });
  }

  delete(path: string): void {
    this.apply(OpCode.delete, { type: 2, path });
  }
}

export const DIGEST_ACL: readonly ACL[] = [
  { perms: Perms.ALL, id: { scheme: 'digest', id: 'bob:DFP3YQ9OcVx4lqpTWtkC8q1hPWQ=' } },
  { perms: Perms.READ, id: { scheme: 'world', id: 'anyone' } },
];
export const IP_ACL: readonly ACL[] = [
  { perms: Perms.READ | Perms.WRITE, id: { scheme: 'ip', id: '127.0.0.1' } },
];

/** Asserts two trees hold the same nodes, stats, data, ACLs, bookkeeping and digest. */
export function assertSameTree(actual: DataTree, expected: DataTree): void {
  const paths = (t: DataTree) => [...t.paths()].sort();
  assert.deepEqual(paths(actual), paths(expected));
  for (const path of expected.paths()) {
    const a = actual.getNode(path)!;
    const e = expected.getNode(path)!;
    assert.deepEqual(a.stat, e.stat, `stat of ${path}`);
    assert.deepEqual(a.data, e.data, `data of ${path}`);
    assert.deepEqual(actual.acls.get(a.aclIndex), expected.acls.get(e.aclIndex), `acl of ${path}`);
    assert.deepEqual([...a.children].sort(), [...e.children].sort(), `children of ${path}`);
  }
  const eph = (t: DataTree) =>
    [...t.ephemerals].map(([k, v]) => [k, [...v].sort()]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
  assert.deepEqual(eph(actual), eph(expected));
  assert.deepEqual([...actual.containers].sort(), [...expected.containers].sort());
  assert.deepEqual([...actual.ttls].sort(), [...expected.ttls].sort());
  assert.equal(actual.digest(), expected.digest());
}
