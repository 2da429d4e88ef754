// The voters: a StatefulSet (one pod and volume per voter), its headless Service and the PDB.

import type { ZkEnsemble } from '../api/types.generated.ts';
import { type OperatorSettings, PORTS } from './contract.ts';
import { objectMeta, selectorLabels } from './labels.ts';
import type { Member } from './members.ts';
import { ensembleNames } from './names.ts';
import type { KubeObject } from './objects.ts';
import { podTemplate, VOLUMES } from './pod.ts';

export const servicePorts = (names: readonly (keyof typeof PORTS)[]) =>
  names.map((name) => ({ name, port: PORTS[name], targetPort: name, protocol: 'TCP' }));

/**
 * Never fewer pods than the highest voter still in the committed membership: a voter leaves the
 * ensemble by reconfig first, and only then does its pod go.
 */
export function voterReplicas(e: ZkEnsemble, committed: readonly Member[]): number {
  const highest = Math.max(0, ...committed.filter((m) => m.role === 'voter').map((m) => m.sid));
  return Math.max(e.spec.voters.replicas, highest);
}

export function voterStatefulSet(
  e: ZkEnsemble,
  settings: OperatorSettings,
  committed: readonly Member[],
  configHash: string,
): KubeObject {
  const n = ensembleNames(e.metadata.name);
  const storage = e.spec.voters.storage;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: objectMeta(e, n.voterStatefulSet, 'voter'),
    spec: {
      serviceName: n.voterHeadless,
      replicas: voterReplicas(e, committed),
      // Membership, not pod start order, keeps the ensemble safe: start pods together.
      podManagementPolicy: 'Parallel',
      // The operator restarts voters itself, one at a time, followers first and the leader last
      // (restart-plan.ts, membership.ts): the StatefulSet controller only replaces deleted pods.
      updateStrategy: { type: 'OnDelete' },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(e, 'voter') },
      template: podTemplate(e, settings, { role: 'voter', configHash }),
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: VOLUMES.data, labels: selectorLabels(e, 'voter') },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: String(storage.size) } },
            // "" (no class: pre-provisioned volumes) differs from unset (the cluster's default class).
            ...(storage.storageClassName !== undefined ? { storageClassName: storage.storageClassName } : {}),
          },
        },
      ],
    },
  };
}

/** Stable DNS names for voters; not-ready pods are published so members can find each other. */
export function voterHeadlessService(e: ZkEnsemble): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(e, ensembleNames(e.metadata.name).voterHeadless, 'voter'),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(e, 'voter'),
      ports: servicePorts(['client', 'quorum', 'election', 'admin']),
    },
  };
}

/** Voters that may fail while a quorum remains: (n - 1) / 2, but at least 1 so drains can proceed. */
export const tolerableVoterFailures = (replicas: number) => Math.max(1, Math.floor((replicas - 1) / 2));

export function voterPodDisruptionBudget(e: ZkEnsemble): KubeObject | null {
  const pdb = e.spec.podDisruptionBudget;
  if (!pdb.enabled) return null;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(e, ensembleNames(e.metadata.name).voterPdb, 'voter'),
    spec: {
      maxUnavailable: Math.min(pdb.maxUnavailable, tolerableVoterFailures(e.spec.voters.replicas)),
      selector: { matchLabels: selectorLabels(e, 'voter') },
      // A voter that is not ready adds nothing to the quorum: evicting it must not block drains.
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}
