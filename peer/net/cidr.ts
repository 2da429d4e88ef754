// IP addresses and CIDR ranges, for ip ACLs and the learner allow-list.

import net from 'node:net';

export interface Cidr {
  bytes: number[];
  bits: number;
}

/** Normalizes IPv4-mapped IPv6 addresses so rules written for a.b.c.d match. */
export function remoteIp(address: string | undefined): string {
  if (!address) return '0.0.0.0';
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

export function ipBytes(addr: string): number[] | null {
  if (net.isIPv4(addr)) return addr.split('.').map(Number);
  if (!net.isIPv6(addr)) return null;
  const [head = '', tail = ''] = addr.includes('::') ? addr.split('::') : [addr, ''];
  const hs = head ? head.split(':') : [];
  const ts = tail ? tail.split(':') : [];
  const groups = [...hs, ...new Array(8 - hs.length - ts.length).fill('0'), ...ts];
  if (groups.length !== 8) return null;
  return groups.flatMap((g) => {
    const v = Number.parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}

export function parseCidr(id: string): Cidr | null {
  const [addr = '', bitsText] = id.split('/');
  const bytes = ipBytes(addr);
  if (!bytes) return null;
  const bits = bitsText === undefined ? bytes.length * 8 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) return null;
  return { bytes, bits };
}

export function ipMatches(authId: string, aclId: string): boolean {
  const acl = parseCidr(aclId);
  const who = ipBytes(authId);
  return acl !== null && who !== null && who.length === acl.bytes.length && prefixMatches(who, acl);
}

/** Parses a comma-separated allow-list; throws naming the bad entry. */
export function parseAllowList(text: string): Cidr[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const c = parseCidr(entry);
      if (!c) throw new Error(`not an address or CIDR range: ${entry}`);
      return c;
    });
}

/** True when address falls in one of the ranges (an empty list allows nothing). */
export function inAllowList(list: readonly Cidr[], address: string): boolean {
  const who = ipBytes(remoteIp(address));
  if (!who) return false;
  return list.some((c) => who.length === c.bytes.length && prefixMatches(who, c));
}

function prefixMatches(who: number[], c: Cidr): boolean {
  for (let bit = 0; bit < c.bits; bit++) {
    const i = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((who[i]! & mask) !== (c.bytes[i]! & mask)) return false;
  }
  return true;
}
