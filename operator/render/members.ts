// Ensemble members as the operator sees them, and their addresses.
//
// Voters are StatefulSet pods with stable DNS names (`<pod>.<name>-voters.<ns>.svc.<domain>`).
// Observers are Deployment pods: Kubernetes publishes no per-pod DNS name for them (a headless
// Service only names pods that set spec.hostname), so an observer's address is its pod IP. That is
// stable for the member's life: a replacement pod is a new member with a new id. Nobody dials an
// observer anyway: the higher server id opens election connections, and observers' ids are above
// every voter's, and observers connect to the leader, never the other way round.

import type { ZkEnsemble } from '../api/types.generated.ts';
import type { OperatorSettings, Role } from './contract.ts';
import { namespaceOf } from './labels.ts';
import { ensembleNames } from './names.ts';

export interface Member {
  sid: number;
  role: Role;
  /** Address in the server line: a DNS name for voters, the pod IP for observers. */
  host: string;
  pod?: string;
  region?: string;
}

export const clusterDomain = (s: OperatorSettings) => s.clusterDomain ?? 'cluster.local';

/** Voters that make a quorum (a majority: observers never count). */
export const quorumOf = (voters: number) => Math.floor(voters / 2) + 1;

/** Voters' server ids are their StatefulSet ordinal + 1. */
export const voterSid = (ordinal: number) => ordinal + 1;

export function voterHost(e: ZkEnsemble, ordinal: number, settings: OperatorSettings): string {
  const n = ensembleNames(e.metadata.name);
  return `${n.voterPod(ordinal)}.${n.voterHeadless}.${namespaceOf(e)}.svc.${clusterDomain(settings)}`;
}

export function voterMember(e: ZkEnsemble, ordinal: number, settings: OperatorSettings): Member {
  return {
    sid: voterSid(ordinal),
    role: 'voter',
    host: voterHost(e, ordinal, settings),
    pod: ensembleNames(e.metadata.name).voterPod(ordinal),
  };
}

/** An observer pod with its assigned id (server-ids.ts) and, once scheduled, its IP. */
export interface ObserverPodInfo {
  name: string;
  region: string;
  sid: number;
  ip?: string;
}

/**
 * The membership the spec asks for: voters 1..replicas, and every observer pod that has an id and
 * an IP. Pods still waiting for either join later.
 */
export function desiredMembers(
  e: ZkEnsemble,
  settings: OperatorSettings,
  observerPods: readonly ObserverPodInfo[],
): Member[] {
  const voters = Array.from({ length: e.spec.voters.replicas }, (_, i) => voterMember(e, i, settings));
  const regions = new Set(e.spec.observers.regions.map((r) => r.name));
  const observers = observerPods
    .filter((p) => p.ip && regions.has(p.region))
    .map((p): Member => ({ sid: p.sid, role: 'observer', host: p.ip!, pod: p.name, region: p.region }));
  return [...voters, ...observers].sort((a, b) => a.sid - b.sid);
}
