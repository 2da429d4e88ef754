// The running ensemble's side of a reconcile: what membership it has committed and who leads (read
// through EnsembleAccess), the one reconfig step that moves it towards the spec, and the one voter
// restart a changed pod template asks for. One step per reconcile: the next reconcile reads the
// result back before planning again, so a step that failed or raced is never built upon.

import type { Logger } from '../../peer/log.ts';
import type { ZkEnsemble } from '../api/types.generated.ts';
import type { EnsembleAccess, EnsembleView } from '../membership/ensemble-access.ts';
import { ReconfigRefusedError } from '../membership/ensemble-access.ts';
import type { Member } from '../render/members.ts';
import { membershipDiff, type Refusal } from '../render/membership-diff.ts';
import { planVoterRestarts, type VoterPodState } from '../render/restart-plan.ts';
import type { Recorder } from './events.ts';
import type { KubeClient, KubeObj } from './kube.ts';
import { isNotFound } from './kube.ts';
import { objectPath, PODS } from './resources.ts';

export interface PodLike extends KubeObj {
  status?: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
  };
}

export const isReady = (p: PodLike) =>
  p.metadata.deletionTimestamp === undefined &&
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

export const votersOf = (members: readonly Member[]) => members.filter((m) => m.role === 'voter');

/** What the ensemble said, or why it could not be asked. */
export type Observation = { view: EnsembleView } | { unreachable: string };

export async function observeEnsemble(
  access: EnsembleAccess,
  committed: readonly Member[],
): Promise<Observation> {
  const voters = votersOf(committed);
  if (voters.length === 0) return { unreachable: 'no membership yet' };
  try {
    return { view: await access.observe(voters) };
  } catch (err) {
    return { unreachable: (err as Error).message };
  }
}

export interface StepContext {
  access: EnsembleAccess;
  recorder: Recorder;
  log: Logger;
}

export interface MembershipProgress {
  /** Reasons the membership is not yet what the spec asks for (empty: it is). */
  pending: string[];
  /** A reconfig was sent this time: look again soon. */
  acted: boolean;
}

/**
 * Sends the first reconfig step from the committed membership towards the desired one. `synced`:
 * server ids whose pods are ready (a voter's readiness means synced with the leader).
 */
export async function stepMembership(
  ctx: StepContext,
  e: ZkEnsemble,
  view: EnsembleView,
  desired: readonly Member[],
  synced: ReadonlySet<number>,
): Promise<MembershipProgress> {
  const diff = membershipDiff(desired, view.members, {
    synced,
    ...(view.leaderSid !== undefined ? { leaderSid: view.leaderSid } : {}),
  });
  const pending = [...diff.steps.map((s) => s.reason), ...diff.refused.map(refusalText)];
  const step = diff.steps[0];
  if (!step) return { pending, acted: false };
  const where = `${e.metadata.namespace}/${e.metadata.name}`;
  try {
    await ctx.access.reconfig(votersOf(view.members), step, view.version);
  } catch (err) {
    const refused = err instanceof ReconfigRefusedError;
    ctx.log.warn({ ensemble: where, step: step.reason, err: (err as Error).message }, 'reconfig failed');
    await ctx.recorder.event(
      e,
      'Warning',
      refused ? 'ReconfigRefused' : 'ReconfigFailed',
      (err as Error).message,
    );
    return { pending, acted: true };
  }
  ctx.log.info(
    { ensemble: where, joining: step.joining.map((m) => m.sid), leaving: step.leaving },
    'reconfigured',
  );
  await ctx.recorder.event(e, 'Normal', 'Reconfigured', step.reason);
  return { pending, acted: true };
}

const refusalText = (r: Refusal) => `server.${r.sid}: ${r.reason}`;

export interface RestartInput {
  voterPods: readonly PodLike[];
  /** The StatefulSet as the API server returned it after the apply. */
  statefulSet: KubeObj | undefined;
  leaderSid: number | undefined;
  voterCount: number;
  sidOfPod: (name: string) => number | undefined;
}

/**
 * Restarts (deletes) at most one voter pod that runs an old pod template, in restart-plan.ts's order.
 * Returns why the rollout is not finished, or null when every voter runs the current template.
 */
export async function stepVoterRestart(
  client: KubeClient,
  ctx: Omit<StepContext, 'access'>,
  e: ZkEnsemble,
  input: RestartInput,
): Promise<string | null> {
  const sts = input.statefulSet;
  if (!sts) return null;
  const status = (sts.status ?? {}) as { updateRevision?: string; observedGeneration?: number };
  if (status.observedGeneration !== sts.metadata.generation || !status.updateRevision)
    return 'waiting for the StatefulSet controller to see the new template';
  const pods: VoterPodState[] = [];
  for (const p of input.voterPods) {
    const sid = input.sidOfPod(p.metadata.name);
    if (sid === undefined) continue;
    pods.push({
      name: p.metadata.name,
      sid,
      ready: isReady(p),
      updated: p.metadata.labels?.['controller-revision-hash'] === status.updateRevision,
      terminating: p.metadata.deletionTimestamp !== undefined,
    });
  }
  const plan = planVoterRestarts(pods, input.leaderSid, input.voterCount);
  const next = plan.next;
  if (next.action === 'done') return null;
  if (next.action === 'wait') return `rolling restart: ${next.reason}`;
  try {
    await client.delete(objectPath(PODS, e.metadata.namespace!, next.pod));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  ctx.log.info({ ensemble: `${e.metadata.namespace}/${e.metadata.name}`, pod: next.pod }, next.reason);
  await ctx.recorder.event(e, 'Normal', 'Restarted', `restarted ${next.pod}: ${next.reason}`);
  return `rolling restart: restarted ${next.pod}, ${plan.order.length - 1} to go`;
}
