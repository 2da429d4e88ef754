// Adler-32 (RFC 1950), the checksum ZooKeeper uses for txn log entries and snapshot seals.
// Node has no built-in one. The running value can be carried across chunks.

const MOD = 65521;
/** Largest n such that 255n(n+1)/2 + (n+1)(MOD-1) fits in 2^32 - 1: the sums can go unreduced that long. */
const NMAX = 5552;

export const ADLER32_INIT = 1;

/** Continues `adler` (start with ADLER32_INIT) over bytes[start, end). Returns an unsigned 32-bit value. */
export function adler32(bytes: Uint8Array, adler = ADLER32_INIT, start = 0, end = bytes.length): number {
  let a = adler & 0xffff;
  let b = (adler >>> 16) & 0xffff;
  let i = start;
  while (i < end) {
    const stop = Math.min(end, i + NMAX);
    for (; i < stop; i++) {
      a += bytes[i]!;
      b += a;
    }
    a %= MOD;
    b %= MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/** A running Adler-32 over a sequence of chunks. */
export class Adler32 {
  value = ADLER32_INIT;

  update(bytes: Uint8Array, start = 0, end = bytes.length): this {
    this.value = adler32(bytes, this.value, start, end);
    return this;
  }
}
