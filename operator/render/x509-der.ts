// The DER encoding (ITU-T X.690) of the few ASN.1 types an X.509 certificate is made of. Every value
// is a tag, a length and the content; constructed values hold encoded values. Enough for x509.ts,
// not a general ASN.1 library: no decoding, no indefinite lengths.

export type Der = Buffer;

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Der {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

export const sequence = (...items: Der[]) => tlv(TAG.sequence, ...items);
export const set = (...items: Der[]) => tlv(TAG.set, ...items);
export const boolean = (b: boolean) => tlv(TAG.boolean, Buffer.from([b ? 0xff : 0x00]));
export const octetString = (bytes: Buffer) => tlv(TAG.octetString, bytes);
export const utf8String = (s: string) => tlv(TAG.utf8String, Buffer.from(s, 'utf8'));
export const ia5String = (s: string) => tlv(TAG.ia5String, Buffer.from(s, 'ascii'));

/** A non-negative INTEGER from its big-endian magnitude (or a small number). */
export function unsignedInteger(value: Buffer | number): Der {
  let bytes = typeof value === 'number' ? bigEndian(value) : value;
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++; // minimal: no leading zero bytes
  bytes = bytes.subarray(start);
  // Two's complement: a set top bit would read as negative.
  return tlv(TAG.integer, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function bigEndian(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative integer: ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from(bytes.length ? bytes : [0]);
}

/** An OBJECT IDENTIFIER from dotted form: the first two arcs share a byte, each arc is base-128. */
export function oid(dotted: string): Der {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0))
    throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift(0x80 | (v & 0x7f));
    out.push(...groups);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

/** A BIT STRING of whole bytes (keys, signatures). */
export const bitString = (bytes: Buffer) => tlv(TAG.bitString, Buffer.from([0]), bytes);

/**
 * A BIT STRING of named bits (bit 0 is the most significant bit of the first byte), as DER wants it:
 * trailing zero bits dropped, their count in the first content byte.
 */
export function namedBits(bits: readonly number[]): Der {
  if (bits.length === 0) return tlv(TAG.bitString, Buffer.from([0]));
  const last = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const b of bits) bytes[Math.floor(b / 8)]! |= 0x80 >> (b % 8);
  const unused = 7 - (last % 8);
  return tlv(TAG.bitString, Buffer.from([unused]), bytes);
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, always Zulu. */
export function time(d: Date): Der {
  const iso = d.toISOString(); // 2025-01-02T03:04:05.678Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // 20250102030405
  const year = d.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new RangeError(`year ${year} not encodable`);
  return year < 2050
    ? tlv(TAG.utcTime, Buffer.from(`${digits.slice(2)}Z`, 'ascii'))
    : tlv(TAG.generalizedTime, Buffer.from(`${digits}Z`, 'ascii'));
}

/** [n] EXPLICIT: a constructed context tag around one encoded value. */
export const explicit = (n: number, inner: Der) => tlv(0xa0 | n, inner);

/** [n] IMPLICIT of a primitive type: the context tag replaces the type's own tag. */
export const implicitPrimitive = (n: number, content: Buffer) => tlv(0x80 | n, content);

/**
 * The encoded elements inside one constructed value (a SEQUENCE's fields), each with its own tag
 * and length: just enough reading to copy a certificate's subject and a key's bits verbatim.
 */
export function elements(der: Der): Der[] {
  const { start, end } = extent(der, 0);
  if (end !== der.length) throw new Error('trailing bytes after a DER value');
  const out: Der[] = [];
  for (let at = start; at < end; ) {
    const e = extent(der, at);
    if (e.end > end) throw new Error('DER element overruns its parent');
    out.push(der.subarray(at, e.end));
    at = e.end;
  }
  return out;
}

/** Where the content of the value at `at` starts and where the value ends. */
function extent(der: Der, at: number): { start: number; end: number } {
  if ((der[at]! & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not supported');
  const first = der[at + 1];
  if (first === undefined) throw new Error('truncated DER');
  let len = first;
  let start = at + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return { start, end: start + len };
}

/** The content bytes of one value (without its tag and length). */
export const contentOf = (der: Der): Buffer => der.subarray(extent(der, 0).start, extent(der, 0).end);
