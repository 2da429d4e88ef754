// The reconfig operation (opcode 16) as the leader's prep stage sees it: who may run it, what the
// new membership is (incremental: joining/leaving; non-incremental: the whole member list), and
// whether it is safe. The result is a txn that sets /zookeeper/config to the new config text,
// versioned with the txn's own zxid, as ZooKeeper does.

import type { Id } from '../jute/records.ts';
import type { Txn } from '../jute/txn.ts';
import { Err, KeeperError, OpCode, Perms } from '../protocol/constants.ts';
import {
  parseServerSpec,
  type QuorumConfig,
  type QuorumMember,
  QuorumVerifier,
  renderQuorumConfig,
} from '../quorum/quorum-config.ts';
import { type AuthSettings, checkACL } from './auth.ts';
import type { PendingView } from './prep.ts';

export const CONFIG_NODE = '/zookeeper/config';

/** What the leader knows that a reconfig decision needs. */
export interface ReconfigHost {
  readonly enabled: boolean;
  /** The newest config: the one in force, or one proposed and not committed yet. */
  config(): QuorumConfig;
  /** A reconfig was proposed and has not committed. */
  inProgress(): boolean;
  /** Voters connected and in sync right now, the leader included. */
  syncedVoters(): ReadonlySet<number>;
  /** Told the zxid of a reconfig this prep let through, before it reaches the leader's core. */
  proposed?(zxid: number): void;
}

export interface ReconfigRequest {
  joiningServers: string | null;
  leavingServers: string | null;
  newMembers: string | null;
  curConfigId: number | bigint;
}

export interface ReconfigContext {
  view: PendingView;
  ids: readonly Id[];
  auth: AuthSettings;
  zxid: number;
  time: number;
}

function bad(message: string): KeeperError {
  return new KeeperError(Err.BADARGUMENTS, message);
}

/** `server.N=spec` entries, comma or newline separated (zkCli sends them comma-joined). */
function parseServers(text: string): QuorumMember[] {
  const out: QuorumMember[] = [];
  for (const raw of text.split(/[,\n]/)) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^server\.(\d+)\s*=\s*(.+)$/.exec(entry);
    if (!m) {
      if (/^version\s*=/.test(entry)) continue; // a pasted config text carries its old version
      throw bad(`"${entry}" is not server.N=host:quorumPort:electionPort[:role][;[clientHost:]clientPort]`);
    }
    try {
      out.push(parseServerSpec(Number(m[1]), m[2]!));
    } catch (e) {
      throw bad((e as Error).message);
    }
  }
  return out;
}

/** The membership the request asks for, before any safety check. */
export function requestedMembers(req: ReconfigRequest, current: QuorumConfig): Map<number, QuorumMember> {
  if (req.newMembers !== null && req.newMembers.trim() !== '') {
    if ((req.joiningServers ?? '').trim() !== '' || (req.leavingServers ?? '').trim() !== '')
      throw bad('a reconfig is either incremental (joining/leaving) or a new member list, not both');
    const members = new Map<number, QuorumMember>();
    for (const m of parseServers(req.newMembers)) {
      if (members.has(m.sid)) throw bad(`server.${m.sid} is listed twice`);
      members.set(m.sid, m);
    }
    return members;
  }
  const members = new Map(current.members);
  for (const raw of (req.leavingServers ?? '').split(',')) {
    const s = raw.trim();
    if (s === '') continue;
    if (!/^\d+$/.test(s)) throw bad(`leaving server "${s}" is not a server id`);
    members.delete(Number(s));
  }
  for (const m of parseServers(req.joiningServers ?? '')) members.set(m.sid, m);
  return members;
}

/**
 * Prep of a reconfig request on the leader. Errors are ZooKeeper's: RECONFIGDISABLED,
 * NOAUTH (only the super user, or anyone with WRITE on /zookeeper/config, or skipACL),
 * RECONFIGINPROGRESS, BADVERSION (fromConfig is not the current version), BADARGUMENTS (malformed,
 * no change, no voter left, more than one voter changed at once) and NEWCONFIGNOQUORUM (the new
 * voters that are in sync now are not a quorum of the new config).
 */
export function prepReconfig(req: ReconfigRequest, ctx: ReconfigContext, host: ReconfigHost | null): Txn {
  if (!host?.enabled) throw new KeeperError(Err.RECONFIGDISABLED);
  const node = ctx.view.need(CONFIG_NODE);
  if (!ctx.auth.skipACL) checkACL(node.acl, Perms.WRITE, ctx.ids, ctx.auth);
  if (host.inProgress()) throw new KeeperError(Err.RECONFIGINPROGRESS);
  const current = host.config();
  const from = Number(req.curConfigId);
  if (from !== -1 && from !== current.version) throw new KeeperError(Err.BADVERSION, CONFIG_NODE);

  const next: QuorumConfig = { members: requestedMembers(req, current), version: ctx.zxid };
  const nextVerifier = new QuorumVerifier(next);
  const after = nextVerifier.voters;
  if (after.size === 0) throw bad('the new config has no voter');
  if (renderQuorumConfig({ ...next, version: 0 }) === renderQuorumConfig({ ...current, version: 0 }))
    throw bad('the new config is the same as the current one');
  const before = new QuorumVerifier(current).voters;
  let changed = 0;
  for (const sid of after) if (!before.has(sid)) changed++;
  for (const sid of before) if (!after.has(sid)) changed++;
  if (changed > 1) throw bad(`${changed} voters would change at once; add or remove one voter per reconfig`);
  if (changed === 1 || voterEndpointsChanged(current, next)) {
    // Synced servers that do not vote in the new config count for nothing there.
    if (!nextVerifier.containsQuorum(host.syncedVoters())) throw new KeeperError(Err.NEWCONFIGNOQUORUM);
  }
  const data = Buffer.from(renderQuorumConfig(next), 'utf8');
  const version = (node.stat.version + 1) | 0;
  ctx.view.set(CONFIG_NODE, ctx.zxid, {
    ...node,
    stat: { ...node.stat, version, mtime: ctx.time, mzxid: ctx.zxid },
  });
  host.proposed?.(ctx.zxid);
  return { type: OpCode.reconfig, path: CONFIG_NODE, data, version };
}

/** A voter that stays but moves (other ports or host) needs the same proof of quorum. */
function voterEndpointsChanged(a: QuorumConfig, b: QuorumConfig): boolean {
  for (const m of b.members.values()) {
    const old = a.members.get(m.sid);
    if (m.role !== 'participant' || old?.role !== 'participant') continue;
    if (old.host !== m.host || old.quorumPort !== m.quorumPort || old.electionPort !== m.electionPort)
      return true;
  }
  return false;
}
