// Transactions as ZooKeeper serializes them: TxnHeader, the txn record for its type, and an
// optional TxnDigest. The same bytes go into the txn log, PROPOSAL and INFORM packets.

import { OpCode } from '../protocol/constants.ts';
import { JuteError, JuteReader, JuteWriter } from './archive.ts';
import { type ACL, readAclList, writeAclList } from './records.ts';

export interface TxnHeader {
  clientId: bigint;
  cxid: number;
  zxid: number;
  time: number;
  type: number;
}

export type Txn =
  | { type: -10; timeOut: number }
  | { type: -11; paths: string[] | null }
  | { type: 1 | 15; path: string; data: Buffer; acl: ACL[]; ephemeral: boolean; parentCVersion: number }
  | { type: 21; path: string; data: Buffer; acl: ACL[]; parentCVersion: number; ttl: number }
  | { type: 19; path: string; data: Buffer; acl: ACL[]; parentCVersion: number }
  | { type: 2 | 20; path: string }
  | { type: 5 | 16; path: string; data: Buffer; version: number }
  | { type: 7; path: string; acl: ACL[]; version: number }
  | { type: 13; path: string; version: number }
  | { type: 14; txns: Txn[] }
  | { type: -1; err: number };

export interface TxnDigest {
  version: number;
  treeDigest: bigint;
}

export const DIGEST_VERSION = 2;

export function writeTxnHeader(w: JuteWriter, h: TxnHeader): void {
  w.bigLong(h.clientId).int(h.cxid).long(h.zxid).long(h.time).int(h.type);
}

export function readTxnHeader(r: JuteReader): TxnHeader {
  return { clientId: r.bigLong(), cxid: r.int(), zxid: r.long(), time: r.long(), type: r.int() };
}

export function writeTxn(w: JuteWriter, t: Txn): void {
  switch (t.type) {
    case -10:
      w.int(t.timeOut);
      return;
    case -11:
      w.vector(t.paths, (x, s) => x.ustring(s));
      return;
    case 1:
    case 15:
      w.ustring(t.path).buffer(t.data);
      writeAclList(w, t.acl);
      w.bool(t.ephemeral).int(t.parentCVersion);
      return;
    case 21:
      w.ustring(t.path).buffer(t.data);
      writeAclList(w, t.acl);
      w.int(t.parentCVersion).long(t.ttl);
      return;
    case 19:
      w.ustring(t.path).buffer(t.data);
      writeAclList(w, t.acl);
      w.int(t.parentCVersion);
      return;
    case 2:
    case 20:
      w.ustring(t.path);
      return;
    case 5:
    case 16:
      w.ustring(t.path).buffer(t.data).int(t.version);
      return;
    case 7:
      w.ustring(t.path);
      writeAclList(w, t.acl);
      w.int(t.version);
      return;
    case 13:
      w.ustring(t.path).int(t.version);
      return;
    case 14:
      w.int(t.txns.length);
      for (const sub of t.txns) {
        const inner = new JuteWriter(64);
        writeTxn(inner, sub);
        w.int(sub.type).buffer(inner.view());
      }
      return;
    case -1:
      w.int(t.err);
      return;
  }
}

export function readTxn(type: number, r: JuteReader): Txn {
  switch (type) {
    case OpCode.createSession:
      return { type, timeOut: r.int() };
    case OpCode.closeSession:
      // Logs written before closeSessionTxn existed carry no body.
      return { type, paths: r.remaining > 0 ? r.vector((x) => x.string()) : null };
    case OpCode.create:
    case OpCode.create2: {
      const path = r.string();
      const data = r.data();
      const acl = readAclList(r) ?? [];
      const ephemeral = r.bool();
      // CreateTxnV0 has no parentCVersion; -1 means "old + 1".
      const parentCVersion = r.remaining >= 4 ? r.int() : -1;
      return { type, path, data, acl, ephemeral, parentCVersion };
    }
    case OpCode.createTTL:
      return {
        type,
        path: r.string(),
        data: r.data(),
        acl: readAclList(r) ?? [],
        parentCVersion: r.int(),
        ttl: r.long(),
      };
    case OpCode.createContainer:
      return {
        type,
        path: r.string(),
        data: r.data(),
        acl: readAclList(r) ?? [],
        parentCVersion: r.int(),
      };
    case OpCode.delete:
    case OpCode.deleteContainer:
      return { type, path: r.string() };
    case OpCode.setData:
    case OpCode.reconfig:
      return { type, path: r.string(), data: r.data(), version: r.int() };
    case OpCode.setACL:
      return { type, path: r.string(), acl: readAclList(r) ?? [], version: r.int() };
    case OpCode.check:
      return { type, path: r.string(), version: r.int() };
    case OpCode.multi: {
      const n = r.int();
      if (n < 0 || n > r.remaining) throw new JuteError(`multi txn count ${n} out of bounds`);
      const txns: Txn[] = [];
      for (let i = 0; i < n; i++) {
        const subType = r.int();
        const body = r.bufferView() ?? Buffer.alloc(0);
        txns.push(readTxn(subType, new JuteReader(body)));
      }
      return { type, txns };
    }
    case OpCode.error:
      return { type, err: r.int() };
    default:
      throw new JuteError(`unknown txn type ${type}`);
  }
}

/** TxnHeader + txn + optional digest, as one byte string. */
export function encodeTxnEntry(h: TxnHeader, t: Txn, digest: TxnDigest | null): Buffer {
  const w = new JuteWriter(256);
  writeTxnHeader(w, h);
  writeTxn(w, t);
  if (digest) w.int(digest.version).bigLong(digest.treeDigest);
  return w.take();
}

export interface TxnEntry {
  header: TxnHeader;
  txn: Txn;
  digest: TxnDigest | null;
}

/** The zxid of an encoded txn entry, read from its header alone (clientId, cxid, then zxid). */
export function txnEntryZxid(bytes: Buffer): number {
  return new JuteReader(bytes, 12, bytes.length, Number.MAX_SAFE_INTEGER).long();
}

export function decodeTxnEntry(bytes: Buffer): TxnEntry {
  const r = new JuteReader(bytes, 0, bytes.length, Number.MAX_SAFE_INTEGER);
  const header = readTxnHeader(r);
  const txn = readTxn(header.type, r);
  const digest = r.remaining >= 12 ? { version: r.int(), treeDigest: r.bigLong() } : null;
  return { header, txn, digest };
}
