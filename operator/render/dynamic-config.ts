// The membership in ZooKeeper's dynamic config form: one `server.N=host:quorum:election:role;client`
// line per member, ordered by id, then `version=<hex>` (the zxid of the reconfig that made it, as
// ZooKeeper writes it). The ConfigMap copy is what a member starts from; a member that already took
// part in a newer reconfig keeps the newer membership from its data directory (higher version).

import { parseDynamicConfig } from '../../peer/quorum/quorum-config.ts';
import { PORTS } from './contract.ts';
import type { Member } from './members.ts';

const bracket = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** The value of a member's `server.N=` line, also the form reconfig's joining list takes. */
export function serverSpec(m: Member): string {
  const role = m.role === 'voter' ? 'participant' : 'observer';
  return `${bracket(m.host)}:${PORTS.quorum}:${PORTS.election}:${role};${PORTS.client}`;
}

export function serverLine(m: Member): string {
  return `server.${m.sid}=${serverSpec(m)}`;
}

/** Dynamic config text. version: the config's version (a zxid); left out for a first config. */
export function renderDynamicConfig(members: readonly Member[], version?: number): string {
  const sids = new Set<number>();
  for (const m of members) {
    if (sids.has(m.sid)) throw new Error(`server id ${m.sid} appears twice in the membership`);
    sids.add(m.sid);
  }
  if (!members.some((m) => m.role === 'voter')) throw new Error('a membership needs at least one voter');
  const lines = [...members].sort((a, b) => a.sid - b.sid).map(serverLine);
  if (version !== undefined) lines.push(`version=${version.toString(16)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Members and version from config text (a dynamic config file or the data of /zookeeper/config).
 * Voters' pod names come from their DNS names; observers are known by IP only, the caller matches
 * them to pods. No version (a first config, which renderDynamicConfig writes without one; the
 * peer's parser reads it as 0) comes back as undefined, so rendering it again adds none.
 */
export function membersFromConfigText(text: string): { members: Member[]; version?: number } {
  const cfg = parseDynamicConfig(text);
  const members = [...cfg.members.values()]
    .sort((a, b) => a.sid - b.sid)
    .map((q): Member => {
      const role = q.role === 'participant' ? 'voter' : 'observer';
      // A voter's DNS name starts with its pod name; an IPv4 address never starts with a letter.
      const dns = /^[a-z]/.test(q.host) && !q.host.includes(':');
      const pod = role === 'voter' && dns ? q.host.split('.')[0] : undefined;
      return { sid: q.sid, role, host: q.host, ...(pod ? { pod } : {}) };
    });
  return { members, ...(cfg.version > 0 ? { version: cfg.version } : {}) };
}
