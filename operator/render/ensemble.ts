// Everything one ZkEnsemble needs, as plain objects in apply order. The list is complete: an object
// the ensemble owns that is not in it (a removed region, a disabled PDB) should be deleted.

import { withDefaults } from '../api/defaults.ts';
import type { ZkEnsemble, ZkEnsembleInput } from '../api/types.generated.ts';
import { dynamicConfigMap, staticConfigMap } from './configmaps.ts';
import type { OperatorSettings } from './contract.ts';
import type { Member } from './members.ts';
import type { KubeObject } from './objects.ts';
import {
  observerAutoscaler,
  observerDeployment,
  observerHeadlessService,
  regionClientService,
} from './observers.ts';
import { clientService, serviceAccount, serviceMonitor } from './services.ts';
import { voterHeadlessService, voterPodDisruptionBudget, voterStatefulSet } from './voters.ts';
import { configHash, renderStaticConfig } from './zoocfg.ts';

export interface Membership {
  /** The committed membership (or, before the ensemble first starts, the voters to start with). */
  members: readonly Member[];
  /** Its version (zxid); unknown before the first reconfig. */
  version?: number;
}

export interface RenderInput {
  ensemble: ZkEnsemble | ZkEnsembleInput;
  settings: OperatorSettings;
  membership: Membership;
  /** Digest of the operator's super user password (zoo.cfg); none leaves reconfig to ACLs. */
  superDigest?: string;
  /** Fingerprint of the generated quorum certificate (generateCA): a new one restarts the pods. */
  tlsFingerprint?: string;
}

export function renderEnsemble(input: RenderInput): KubeObject[] {
  const e = withDefaults(input.ensemble);
  const { settings, membership } = input;
  const zooCfg = renderStaticConfig(e, input.superDigest ? { superDigest: input.superDigest } : {});
  // The pod template carries a hash of what members read only at start-up.
  const hash = configHash(input.tlsFingerprint ? `${zooCfg}\n${input.tlsFingerprint}` : zooCfg);
  const regions = e.spec.observers.regions;
  const objects: (KubeObject | null)[] = [
    serviceAccount(e),
    staticConfigMap(e, zooCfg),
    dynamicConfigMap(e, membership.members, membership.version),
    voterHeadlessService(e),
    clientService(e),
    ...regions.flatMap((r) => [observerHeadlessService(e, r), regionClientService(e, settings, r)]),
    voterPodDisruptionBudget(e),
    voterStatefulSet(e, settings, membership.members, hash),
    ...regions.flatMap((r) => [observerDeployment(e, settings, r, hash), observerAutoscaler(e, r)]),
    serviceMonitor(e),
  ];
  return objects.filter((o): o is KubeObject => o !== null);
}
