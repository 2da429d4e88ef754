// Which voter to restart next when the StatefulSet's pod template changed (updateStrategy OnDelete):
// one at a time, each only after the previous one is back, ready and synced; followers before the
// leader, so the ensemble elects a leader once rather than after every restart. A voter that is
// already not ready and still runs the old template goes first: restarting it cannot cost the
// quorum anything, and the new template may be what it needs.

import { quorumOf } from './members.ts';

export interface VoterPodState {
  name: string;
  sid: number;
  /** Ready, which for a voter means serving and in sync with the leader. */
  ready: boolean;
  /** Runs the current pod template (its controller-revision-hash is the update revision). */
  updated: boolean;
  terminating?: boolean;
}

export type RestartDecision =
  | { action: 'restart'; pod: string; reason: string }
  | { action: 'wait'; reason: string }
  | { action: 'done' };

export interface RestartPlan {
  next: RestartDecision;
  /** Every voter still to restart, in the order the plan takes them. */
  order: string[];
}

/**
 * pods: the voters' pods; voterCount: voters in the membership, when some have no pod at the moment
 * (a missing pod counts as a voter that is down).
 */
export function planVoterRestarts(
  pods: readonly VoterPodState[],
  leaderSid: number | undefined,
  voterCount = pods.length,
): RestartPlan {
  const outdated = pods.filter((p) => !p.updated && !p.terminating);
  const highestFirst = (a: VoterPodState, b: VoterPodState) => b.sid - a.sid;
  const unready = outdated.filter((p) => !p.ready).sort(highestFirst);
  const followers = outdated.filter((p) => p.ready && p.sid !== leaderSid).sort(highestFirst);
  const leader = outdated.filter((p) => p.ready && p.sid === leaderSid);
  const ordered = [...unready, ...followers, ...leader];
  const order = ordered.map((p) => p.name);
  const plan = (next: RestartDecision): RestartPlan => ({ next, order });

  if (ordered.length === 0) {
    const pending = pods.find((p) => p.terminating || !p.ready);
    return plan(pending ? { action: 'wait', reason: `${pending.name} is not back yet` } : { action: 'done' });
  }
  const terminating = pods.find((p) => p.terminating);
  if (terminating) return plan({ action: 'wait', reason: `${terminating.name} is still terminating` });
  const first = ordered[0]!;
  if (!first.ready)
    return plan({ action: 'restart', pod: first.name, reason: 'not ready on the old template' });
  const catchingUp = pods.find((p) => p.updated && !p.ready);
  if (catchingUp) return plan({ action: 'wait', reason: `${catchingUp.name} is not ready and synced yet` });
  if (leaderSid === undefined || !pods.some((p) => p.sid === leaderSid))
    return plan({ action: 'wait', reason: 'no known leader among the voters' });
  const ready = pods.filter((p) => p.ready).length;
  const n = Math.max(voterCount, pods.length);
  if (n > 1 && ready - 1 < quorumOf(n))
    return plan({
      action: 'wait',
      reason: `restarting ${first.name} would leave ${ready - 1} of ${n} voters ready`,
    });
  return plan({
    action: 'restart',
    pod: first.name,
    reason: first.sid === leaderSid ? 'the leader, last' : 'follower on the old template',
  });
}
