// How the operator talks to a running ensemble: as a ZooKeeper client authenticated as the super user
// (the digest is in every member's zoo.cfg, the password in a Secret only the operator reads), it
// reads /zookeeper/config and sends reconfig; it asks a voter's admin server who leads. A connection
// per call: reconciles are rare and short, and a fresh session cannot be left in a bad state.

import { createHash } from 'node:crypto';
import { ZkConnection } from '../../peer/client/connection.ts';
import { Err, errorName, OpCode } from '../../peer/protocol/constants.ts';
import { PORTS } from '../render/contract.ts';
import { membersFromConfigText, serverLine } from '../render/dynamic-config.ts';
import type { Member } from '../render/members.ts';
import type { ReconfigStep } from '../render/membership-diff.ts';

export const SUPER_USER = 'super';

/** zoo.cfg's DigestAuthenticationProvider.superDigest value for a password. */
export function superDigest(password: string): string {
  const hash = createHash('sha1').update(`${SUPER_USER}:${password}`).digest('base64');
  return `${SUPER_USER}:${hash}`;
}

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * Where to connect for a member's address and port. In a cluster that is the address itself; an
 * operator outside the cluster (or a test) maps it to a forwarded port.
 */
export type Dial = (host: string, port: number) => Endpoint;
export const directDial: Dial = (host, port) => ({ host, port });

export interface EnsembleView {
  members: Member[];
  /** The config's version (a zxid); undefined for a first config that no reconfig has changed. */
  version?: number;
  /** The leader's server id, when a voter's admin server named one. */
  leaderSid?: number;
}

export class EnsembleUnreachableError extends Error {
  override name = 'EnsembleUnreachableError';
}

/** A reconfig the ensemble refused; `code` is ZooKeeper's error name (NEWCONFIGNOQUORUM, ...). */
export class ReconfigRefusedError extends Error {
  override name = 'ReconfigRefusedError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface EnsembleAccess {
  /** The committed membership and the leader, from any voter that answers. */
  observe(voters: readonly Member[]): Promise<EnsembleView>;
  /** One incremental reconfig, conditional on the config version it was planned from. */
  reconfig(voters: readonly Member[], step: ReconfigStep, fromVersion: number | undefined): Promise<void>;
}

export interface ZkAccessOptions {
  password: string;
  dial?: Dial;
  /** Per connection attempt and per request. Default 5000 ms. */
  timeoutMs?: number;
}

export function zkEnsembleAccess(o: ZkAccessOptions): EnsembleAccess {
  const dial = o.dial ?? directDial;
  const timeoutMs = o.timeoutMs ?? 5000;

  async function withSession<T>(voters: readonly Member[], f: (c: ZkConnection) => Promise<T>): Promise<T> {
    const problems: string[] = [];
    for (const v of voters) {
      const at = dial(v.host, PORTS.client);
      let conn: ZkConnection;
      try {
        conn = await ZkConnection.connect({ ...at, connectTimeoutMs: timeoutMs, timeOut: 10_000 });
      } catch (err) {
        problems.push(`server.${v.sid} (${at.host}:${at.port}): ${(err as Error).message}`);
        continue;
      }
      try {
        if (conn.session?.timeOut === 0) {
          problems.push(`server.${v.sid}: refused the session (not serving)`);
          continue;
        }
        const auth = await conn.auth('digest', `${SUPER_USER}:${o.password}`);
        if (auth.err !== Err.OK) throw new Error(`authentication failed: ${errorName(auth.err)}`);
        return await withTimeout(f(conn), timeoutMs, `server.${v.sid}`);
      } finally {
        conn.destroy();
      }
    }
    throw new EnsembleUnreachableError(`no voter answered: ${problems.join('; ') || 'no voters'}`);
  }

  async function leaderSid(voters: readonly Member[]): Promise<number | undefined> {
    for (const v of voters) {
      const at = dial(v.host, PORTS.admin);
      try {
        const res = await fetch(`http://${hostForUrl(at.host)}:${at.port}/commands/leader`, {
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!res.ok) continue;
        const body = (await res.json()) as { leader_id?: number };
        if (typeof body.leader_id === 'number' && body.leader_id > 0) return body.leader_id;
      } catch {
        // next voter
      }
    }
    return undefined;
  }

  return {
    async observe(voters) {
      const text = await withSession(voters, async (c) => {
        const r = await c.getData('/zookeeper/config');
        if (r.err !== Err.OK) throw new Error(`reading /zookeeper/config: ${errorName(r.err)}`);
        return r.data?.toString('utf8') ?? '';
      });
      const config = membersFromConfigText(text);
      const leader = await leaderSid(voters);
      return { ...config, ...(leader !== undefined ? { leaderSid: leader } : {}) };
    },

    async reconfig(voters, step, fromVersion) {
      const joining = step.joining.map(serverLine).join(',');
      const leaving = step.leaving.join(',');
      const r = await withSession(voters, (c) =>
        c.call(OpCode.reconfig, {
          type: OpCode.reconfig,
          joiningServers: joining || null,
          leavingServers: leaving || null,
          newMembers: null,
          curConfigId: fromVersion ?? -1,
        }),
      );
      if (r.err !== Err.OK)
        throw new ReconfigRefusedError(
          errorName(r.err),
          `reconfig (${step.reason}) refused: ${errorName(r.err)}`,
        );
    },
  };
}

const hostForUrl = (h: string) => (h.includes(':') ? `[${h}]` : h);

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
