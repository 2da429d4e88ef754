// Per-node digest (DigestCalculator, version 2): CRC32 over path, data and the persisted stat fields.
// The tree digest is the wrapping 64-bit sum of node digests; nodes under /zookeeper/ are left out.

import { crc32 } from 'node:zlib';
import type { StatPersisted } from '../jute/records.ts';

const statBytes = Buffer.alloc(60);

export function nodeDigest(path: string, data: Buffer, s: StatPersisted): number {
  if (path.startsWith('/zookeeper/')) return 0;
  const p = path === '/' ? '' : path;
  writeLong(0, s.czxid);
  writeLong(8, s.mzxid);
  writeLong(16, s.pzxid);
  writeLong(24, s.ctime);
  writeLong(32, s.mtime);
  statBytes.writeInt32BE(s.version, 40);
  statBytes.writeInt32BE(s.cversion, 44);
  statBytes.writeInt32BE(s.aversion, 48);
  // Writing a bigint allocates; most nodes have no ephemeral owner.
  if (s.ephemeralOwner === 0n) statBytes.fill(0, 52, 60);
  else statBytes.writeBigInt64BE(s.ephemeralOwner, 52);
  let c = crc32(p);
  if (data.length > 0) c = crc32(data, c);
  return crc32(statBytes, c);
}

function writeLong(off: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  statBytes.writeInt32BE(hi | 0, off);
  statBytes.writeUInt32BE((v - hi * 0x1_0000_0000) >>> 0, off + 4);
}
