// Per-node digest (DigestCalculator, version 2): CRC32 over path, data and the persisted stat fields.
// The tree digest is the wrapping 64-bit sum of node digests; nodes under /zookeeper/ are left out.

import { crc32 } from 'node:zlib';
import { writeBigLongAt, writeLongAt } from '../jute/archive.ts';
import type { StatPersisted } from '../jute/records.ts';

const statBytes = Buffer.alloc(60);

export function nodeDigest(path: string, data: Buffer, s: StatPersisted): number {
  if (path.startsWith('/zookeeper/')) return 0;
  const p = path === '/' ? '' : path;
  writeLongAt(statBytes, s.czxid, 0);
  writeLongAt(statBytes, s.mzxid, 8);
  writeLongAt(statBytes, s.pzxid, 16);
  writeLongAt(statBytes, s.ctime, 24);
  writeLongAt(statBytes, s.mtime, 32);
  statBytes.writeInt32BE(s.version, 40);
  statBytes.writeInt32BE(s.cversion, 44);
  statBytes.writeInt32BE(s.aversion, 48);
  writeBigLongAt(statBytes, s.ephemeralOwner, 52);
  let c = crc32(p);
  if (data.length > 0) c = crc32(data, c);
  return crc32(statBytes, c);
}
