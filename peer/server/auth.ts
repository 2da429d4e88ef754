// Authentication schemes and ACL checks: world, auth, digest (with super digest) and ip, as
// ZooKeeper's ProviderRegistry, checkACL and fixupACL do them.

import { createHash } from 'node:crypto';
import type { ACL, Id } from '../jute/records.ts';
import { ipMatches, parseCidr, remoteIp } from '../net/cidr.ts';

export { remoteIp };

import { Err, KeeperError } from '../protocol/constants.ts';

export interface AuthSettings {
  /** `super:<base64 sha1>`, from zookeeper.DigestAuthenticationProvider.superDigest. */
  superDigest: string | null;
  skipACL: boolean;
}

/** user:BASE64(SHA1("user:password")), as DigestAuthenticationProvider.generateDigest. */
export function digestId(userPassword: string): string {
  const user = userPassword.split(':', 1)[0];
  return `${user}:${createHash('sha1').update(userPassword, 'utf8').digest('base64')}`;
}

interface Provider {
  /** Ids to add to the connection for an auth packet, or null when authentication failed. */
  authenticate(auth: Buffer, remoteAddress: string, settings: AuthSettings): Id[] | null;
  matches(authId: string, aclId: string): boolean;
  isValid(id: string): boolean;
  /** Whether ids of this scheme stand for a user (the `auth` scheme expands to them). */
  isAuthenticated: boolean;
}

const digest: Provider = {
  authenticate(auth, _remote, settings) {
    const id = digestId(auth.toString('utf8'));
    const ids: Id[] = [];
    if (settings.superDigest !== null && id === settings.superDigest) ids.push({ scheme: 'super', id: '' });
    ids.push({ scheme: 'digest', id });
    return ids;
  },
  matches: (authId, aclId) => authId === aclId,
  isValid: (id) => id.split(':').length === 2,
  isAuthenticated: true,
};

const ip: Provider = {
  authenticate: (_auth, remote) => [{ scheme: 'ip', id: remote }],
  matches: ipMatches,
  isValid: (id) => parseCidr(id) !== null,
  isAuthenticated: false,
};

const providers: Record<string, Provider> = { digest, ip };

export function providerFor(scheme: string): Provider | undefined {
  return Object.hasOwn(providers, scheme) ? providers[scheme] : undefined;
}

/** True when the ids hold `perm` under acl (ZooKeeperServer.checkACL). */
export function permitted(
  acl: readonly ACL[],
  perm: number,
  ids: readonly Id[],
  settings: AuthSettings,
): boolean {
  if (settings.skipACL || acl.length === 0) return true;
  for (const id of ids) if (id.scheme === 'super') return true;
  for (const a of acl) {
    if ((a.perms & perm) === 0) continue;
    if (a.id.scheme === 'world' && a.id.id === 'anyone') return true;
    const p = providerFor(a.id.scheme);
    if (!p) continue;
    for (const id of ids) if (id.scheme === a.id.scheme && p.matches(id.id, a.id.id)) return true;
  }
  return false;
}

export function checkACL(
  acl: readonly ACL[],
  perm: number,
  ids: readonly Id[],
  settings: AuthSettings,
): void {
  if (!permitted(acl, perm, ids, settings)) throw new KeeperError(Err.NOAUTH);
}

/** Validates an ACL list for create/setACL, expanding the `auth` scheme (PrepRequestProcessor.fixupACL). */
export function fixupACL(acl: readonly ACL[] | null, ids: readonly Id[]): ACL[] {
  if (!acl || acl.length === 0) throw new KeeperError(Err.INVALIDACL);
  const unique = withoutDuplicates(acl);
  const out: ACL[] = [];
  for (const a of unique) {
    if (a.id.scheme === 'world' && a.id.id === 'anyone') {
      out.push(a);
    } else if (a.id.scheme === 'auth') {
      let any = false;
      for (const id of ids) {
        if (providerFor(id.scheme)?.isAuthenticated) {
          any = true;
          out.push({ perms: a.perms, id: { scheme: id.scheme, id: id.id } });
        }
      }
      if (!any) throw new KeeperError(Err.INVALIDACL);
    } else {
      const p = providerFor(a.id.scheme);
      if (!p?.isValid(a.id.id)) throw new KeeperError(Err.INVALIDACL);
      out.push(a);
    }
  }
  return out;
}

function withoutDuplicates(acl: readonly ACL[]): readonly ACL[] {
  // Nearly every create carries one ACL: no Set and no key strings for it.
  if (acl.length < 2) return acl;
  const seen = new Set<string>();
  return acl.filter((a) => {
    const k = `${a.perms}\u0000${a.id.scheme}\u0000${a.id.id}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * Auth ids in the order ZooKeeper iterates them (a ConcurrentHashMap-backed set: by hash bucket,
 * then insertion). The order shows in whoAmI and in how an `auth` ACL expands.
 */
export function javaSetOrder(idsInInsertionOrder: readonly Id[]): Id[] {
  let table = 16;
  while (idsInInsertionOrder.length > table * 0.75) table *= 2;
  const bucket = (id: Id) => {
    const h =
      (Math.imul(37, (Math.imul(37, 17) + javaStringHash(id.scheme)) | 0) + javaStringHash(id.id)) | 0;
    return (h ^ (h >>> 16)) & 0x7fffffff & (table - 1);
  };
  return idsInInsertionOrder
    .map((id, i) => ({ id, i, b: bucket(id) }))
    .sort((x, y) => x.b - y.b || x.i - y.i)
    .map((x) => x.id);
}

/** The user part of an id, as whoAmI reports it (DigestAuthenticationProvider.getUserName). */
export function userName(id: Id): string {
  return id.scheme === 'digest' ? id.id.split(':', 1)[0]! : id.id;
}
