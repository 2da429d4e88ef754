// The ZkEnsemble's status from what the workloads report. Pure: the reconciler reads the objects and
// writes the result. Conditions keep their lastTransitionTime while their status does not change, so
// writing the same status twice is a no-op for the API server (no watch event, no reconcile loop).

import type { Condition, MemberStatus, ZkEnsemble, ZkEnsembleStatus } from '../api/types.generated.ts';
import { type Member, quorumOf } from '../render/members.ts';

export interface WorkloadState {
  /** spec.replicas as the API server holds it (the HPA may have changed a Deployment's). */
  replicas?: number;
  readyReplicas?: number;
  /** status.observedGeneration === metadata.generation */
  current: boolean;
}

export interface ObservedState {
  voters?: WorkloadState;
  /** By region name. */
  observers: Map<string, WorkloadState>;
  members: readonly Member[];
  configVersion?: number;
  /** Pod name of the leader, when the ensemble said. */
  leader?: string;
  /** Why the ensemble is not yet what the spec asks for (membership, rolling restart, reachability). */
  pending?: readonly string[];
  /** Something the operator cannot do until the user acts (e.g. volumes that cannot grow). */
  degraded?: { reason: string; message: string };
}

export const conditionOf = (s: ZkEnsembleStatus | undefined, type: string): Condition | undefined =>
  s?.conditions?.find((c) => c.type === type);

/** Builds this status write's conditions; each keeps its lastTransitionTime while its status stays. */
function conditionMaker(e: ZkEnsemble, now: string) {
  const gen = e.metadata.generation;
  return (type: string, status: Condition['status'], reason: string, message: string): Condition => {
    const old = conditionOf(e.status, type);
    return {
      type,
      status,
      ...(gen !== undefined ? { observedGeneration: gen } : {}),
      lastTransitionTime: old && old.status === status ? old.lastTransitionTime : now,
      reason,
      message,
    };
  };
}

/** Status of an ensemble whose spec cannot be run: the workloads are left as they are. */
export function invalidSpecStatus(e: ZkEnsemble, problems: readonly string[], now: string): ZkEnsembleStatus {
  const condition = conditionMaker(e, now);
  const message = problems.join('; ');
  const available = conditionOf(e.status, 'Available');
  return {
    ...e.status,
    observedGeneration: e.metadata.generation,
    conditions: [
      available ?? condition('Available', 'Unknown', 'InvalidSpec', message),
      condition('Progressing', 'False', 'InvalidSpec', 'the spec must be fixed first'),
      condition('Degraded', 'True', 'InvalidSpec', message),
    ],
  };
}

export function computeStatus(e: ZkEnsemble, observed: ObservedState, now: string): ZkEnsembleStatus {
  const desiredVoters = e.spec.voters.replicas;
  const readyVoters = observed.voters?.readyReplicas ?? 0;
  const quorum = quorumOf(desiredVoters);

  const regions = e.spec.observers.regions.map((r) => {
    const w = observed.observers.get(r.name);
    const desired = w?.replicas ?? (r.autoscaling ? r.autoscaling.minReplicas : r.replicas);
    return { name: r.name, ready: w?.readyReplicas ?? 0, desired, current: w?.current ?? false };
  });
  const readyObservers = regions.reduce((n, r) => n + r.ready, 0);
  const desiredObservers = regions.reduce((n, r) => n + r.desired, 0);

  const lagging: string[] = [];
  if (!observed.voters?.current || readyVoters < desiredVoters)
    lagging.push(`voters ${readyVoters}/${desiredVoters} ready`);
  for (const r of regions)
    if (!r.current || r.ready < r.desired) lagging.push(`region ${r.name} ${r.ready}/${r.desired} ready`);
  lagging.push(...(observed.pending ?? []));

  const hasQuorum = readyVoters >= quorum;
  const condition = conditionMaker(e, now);
  const conditions = [
    hasQuorum
      ? condition('Available', 'True', 'QuorumReady', `${readyVoters} of ${desiredVoters} voters ready`)
      : condition(
          'Available',
          'False',
          'NoQuorum',
          `${readyVoters} of ${desiredVoters} voters ready, ${quorum} needed`,
        ),
    lagging.length > 0
      ? condition('Progressing', 'True', 'RollingOut', lagging.join(', '))
      : condition('Progressing', 'False', 'UpToDate', 'all members ready'),
    !hasQuorum && hadQuorum(e.status)
      ? condition('Degraded', 'True', 'QuorumLost', `fewer than ${quorum} voters ready`)
      : observed.degraded
        ? condition('Degraded', 'True', observed.degraded.reason, observed.degraded.message)
        : condition('Degraded', 'False', 'AsExpected', 'the spec is valid'),
  ];
  const members: MemberStatus[] = observed.members.map((m) => ({
    sid: m.sid,
    ...(m.pod !== undefined ? { pod: m.pod } : {}),
    role: m.role,
    ...(m.region !== undefined ? { region: m.region } : {}),
  }));
  return {
    ...(observed.leader !== undefined ? { leader: observed.leader } : {}),
    observedGeneration: e.metadata.generation,
    conditions,
    readyVoters,
    voters: `${readyVoters}/${desiredVoters}`,
    observers: `${readyObservers}/${desiredObservers}`,
    regions: regions.map(({ name, ready, desired }) => ({ name, ready, desired })),
    members,
    ...(observed.configVersion !== undefined
      ? { configVersion: `0x${observed.configVersion.toString(16)}` }
      : {}),
  };
}

/** Lost quorum after having it (not a first start-up, which only Progresses). */
const hadQuorum = (s: ZkEnsembleStatus | undefined) =>
  conditionOf(s, 'Available')?.status === 'True' || conditionOf(s, 'Degraded')?.reason === 'QuorumLost';

/** Whether two statuses differ in anything the API server would store. */
export function statusChanged(a: ZkEnsembleStatus | undefined, b: ZkEnsembleStatus): boolean {
  return JSON.stringify(canonical(a ?? {})) !== JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}
