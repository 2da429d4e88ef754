// From the committed membership to the desired one in reconfig steps ZooKeeper accepts safely.
// Observers never count toward a quorum: all their changes go in one step. Voters change one per
// step, and only while both the old and the new voter set keep a synced majority (a reconfig
// commits with acks from a quorum of each). Additions come before removals, higher ids leave first
// and the leader leaves last. Run the first step, wait for it to commit, read the membership again
// and recompute: later steps assume the earlier ones are done.

import { serverSpec } from './dynamic-config.ts';
import { type Member, quorumOf } from './members.ts';

export interface ReconfigStep {
  /** Members to add or change (`server.N=<spec>` for reconfig's joining list). */
  joining: Member[];
  /** Server ids to remove. */
  leaving: number[];
  reason: string;
}

export interface Refusal {
  sid: number;
  reason: string;
}

export interface LiveState {
  /**
   * Members whose peer runs and is in sync with the leader (for a voter not yet in the membership:
   * running and ready to join).
   */
  synced: ReadonlySet<number>;
  leaderSid?: number;
}

export interface MembershipDiff {
  steps: ReconfigStep[];
  refused: Refusal[];
}

const syncedCount = (voters: ReadonlySet<number>, synced: ReadonlySet<number>) =>
  [...voters].filter((v) => synced.has(v)).length;

type VoterChange =
  | { kind: 'add'; member: Member }
  | { kind: 'update'; member: Member }
  | { kind: 'remove'; sid: number };

function bySid(members: readonly Member[], what: string): Map<number, Member> {
  const map = new Map<number, Member>();
  for (const m of members) {
    if (map.has(m.sid)) throw new Error(`server id ${m.sid} appears twice in the ${what} membership`);
    map.set(m.sid, m);
  }
  return map;
}

export function membershipDiff(
  desired: readonly Member[],
  current: readonly Member[],
  live: LiveState,
): MembershipDiff {
  const want = bySid(desired, 'desired');
  const have = bySid(current, 'current');
  const refused: Refusal[] = [];
  for (const [sid, m] of want) {
    const c = have.get(sid);
    if (c && c.role !== m.role)
      refused.push({ sid, reason: `server.${sid} cannot change from ${c.role} to ${m.role}` });
  }
  const roleChanged = new Set(refused.map((r) => r.sid));
  const differs = (m: Member) => serverSpec(m) !== serverSpec(have.get(m.sid)!);

  const steps: ReconfigStep[] = [];
  const obsJoin = desired.filter(
    (m) => m.role === 'observer' && !roleChanged.has(m.sid) && (!have.has(m.sid) || differs(m)),
  );
  const obsLeave = current.filter((m) => m.role === 'observer' && !want.has(m.sid)).map((m) => m.sid);
  if (obsJoin.length + obsLeave.length > 0) {
    steps.push({
      joining: [...obsJoin].sort((a, b) => a.sid - b.sid),
      leaving: [...obsLeave].sort((a, b) => a - b),
      reason: `observers: ${obsJoin.length} joining, ${obsLeave.length} leaving`,
    });
  }

  const byAscendingSid = (a: Member, b: Member) => a.sid - b.sid;
  const leaderLast = (a: number, b: number) =>
    Number(a === live.leaderSid) - Number(b === live.leaderSid) || b - a;
  const changes: VoterChange[] = [
    ...desired
      .filter((m) => m.role === 'voter' && !have.has(m.sid))
      .sort(byAscendingSid)
      .map((member) => ({ kind: 'add' as const, member })),
    ...desired
      .filter((m) => m.role === 'voter' && have.get(m.sid)?.role === 'voter' && differs(m))
      .sort(byAscendingSid)
      .map((member) => ({ kind: 'update' as const, member })),
    ...current
      .filter((m) => m.role === 'voter' && !want.has(m.sid))
      .map((m) => m.sid)
      .sort(leaderLast)
      .map((sid) => ({ kind: 'remove' as const, sid })),
  ];

  let voters = new Set(current.filter((m) => m.role === 'voter').map((m) => m.sid));
  for (let i = 0; i < changes.length; i++) {
    const change = changes[i]!;
    const sid = change.kind === 'remove' ? change.sid : change.member.sid;
    const problem = voterStepProblem(change, voters, live);
    if (problem) {
      refused.push({ sid, reason: problem });
      for (const later of changes.slice(i + 1)) {
        const s = later.kind === 'remove' ? later.sid : later.member.sid;
        refused.push({ sid: s, reason: `waits for the change of server.${sid}` });
      }
      break;
    }
    const next = new Set(voters);
    if (change.kind === 'add') next.add(sid);
    if (change.kind === 'remove') next.delete(sid);
    steps.push(
      change.kind === 'remove'
        ? {
            joining: [],
            leaving: [sid],
            reason: `remove voter server.${sid}${sid === live.leaderSid ? ' (the leader: a new one is elected)' : ''}`,
          }
        : { joining: [change.member], leaving: [], reason: `${change.kind} voter server.${sid}` },
    );
    voters = next;
  }
  return { steps, refused };
}

function voterStepProblem(change: VoterChange, voters: ReadonlySet<number>, live: LiveState): string | null {
  const { synced } = live;
  if (syncedCount(voters, synced) < quorumOf(voters.size))
    return `only ${syncedCount(voters, synced)} of ${voters.size} voters are synced: no quorum to commit a reconfig`;
  if (change.kind === 'add') {
    if (!synced.has(change.member.sid)) return `server.${change.member.sid} is not running and synced yet`;
    return null;
  }
  if (change.kind === 'update') {
    const others = new Set([...voters].filter((v) => v !== change.member.sid));
    if (syncedCount(others, synced) < quorumOf(voters.size))
      return `changing server.${change.member.sid} needs a synced quorum without it`;
    return null;
  }
  const next = new Set([...voters].filter((v) => v !== change.sid));
  if (next.size === 0) return `server.${change.sid} is the last voter`;
  if (syncedCount(next, synced) < quorumOf(next.size))
    return `without server.${change.sid}, ${syncedCount(next, synced)} of ${next.size} remaining voters are synced: no quorum`;
  return null;
}
