// Session ids and passwords exactly as ZooKeeper derives them, so that servers of a mixed
// ensemble can check each other's sessions on reconnect.

const MASK48 = (1n << 48n) - 1n;
const MULTIPLIER = 0x5deece66dn;

/** First session id of a server (SessionTrackerImpl.initializeNextSessionId). */
export function initialSessionId(serverId: number, nowMs: number): bigint {
  const t = BigInt.asUintN(64, BigInt(nowMs) << 24n) >> 8n;
  let id = BigInt.asIntN(64, t | (BigInt(serverId) << 56n));
  if (id === -0x8000000000000000n) id++;
  return id;
}

/** 16 bytes of java.util.Random(sessionId ^ 0xB3415C00).nextBytes (ZooKeeperServer.generatePasswd). */
export function sessionPassword(sessionId: bigint): Buffer {
  let seed = (BigInt.asUintN(64, sessionId ^ 0xb3415c00n) ^ MULTIPLIER) & MASK48;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; ) {
    seed = (seed * MULTIPLIER + 0xbn) & MASK48;
    let rnd = Number(BigInt.asIntN(32, seed >> 16n));
    for (let n = Math.min(16 - i, 4); n-- > 0; rnd >>= 8) out[i++] = rnd & 0xff;
  }
  return out;
}
