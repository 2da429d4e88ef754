// Growing the voters' volumes. A StatefulSet's volumeClaimTemplates cannot change, so a bigger
// spec.voters.storage.size is carried out in two reconciles: first every existing claim is asked to
// grow (the storage class must allow expansion; the API server refuses otherwise), then the
// StatefulSet is deleted with its pods orphaned and applied again with the new template. The pod
// template is unchanged, so the new StatefulSet adopts the running pods without restarting them.
// Volumes never shrink: the CRD refuses it, and a spec that gets past the CRD keeps the old size.

import { parseQuantity } from '../api/quantity.ts';
import type { ZkEnsemble } from '../api/types.generated.ts';
import { labelSelector, selectorLabels } from '../render/labels.ts';
import { ensembleNames } from '../render/names.ts';
import { ApiError, isNotFound, type KubeClient, type KubeObj } from './kube.ts';
import { collectionPath, objectPath, PVCS, resourceOf } from './resources.ts';

export type VolumePlan =
  /** Render this size (the template's own spelling when the quantity is unchanged). */
  | { kind: 'keep'; size: string; problem?: string }
  /** The claims were asked to grow and the StatefulSet deleted (pods orphaned): apply it next time. */
  | { kind: 'recreating'; size: string };

interface Claim extends KubeObj {
  spec?: { resources?: { requests?: { storage?: string } } };
}

const templateSize = (sts: KubeObj) =>
  (sts.spec as { volumeClaimTemplates?: Claim[] } | undefined)?.volumeClaimTemplates?.[0]?.spec?.resources
    ?.requests?.storage;

export async function planVoterVolumes(
  client: KubeClient,
  e: ZkEnsemble,
  sts: KubeObj | undefined,
): Promise<VolumePlan> {
  const wanted = String(e.spec.voters.storage.size);
  const current = sts ? templateSize(sts) : undefined;
  if (!sts || current === undefined) return { kind: 'keep', size: wanted };
  const from = parseQuantity(current);
  const to = parseQuantity(wanted);
  if (from === null || to === null || to === from) return { kind: 'keep', size: current };
  if (to < from)
    return {
      kind: 'keep',
      size: current,
      problem: `voters.storage.size ${wanted} is smaller than the volumes' ${current}: volumes never shrink`,
    };

  const ns = e.metadata.namespace!;
  const claims = await client.list<Claim>(
    collectionPath(PVCS, ns),
    labelSelector(selectorLabels(e, 'voter')),
  );
  for (const c of claims.items) {
    const size = parseQuantity(c.spec?.resources?.requests?.storage ?? '0') ?? 0;
    if (size >= to) continue;
    try {
      await client.mergePatch(objectPath(PVCS, ns, c.metadata.name), {
        spec: { resources: { requests: { storage: wanted } } },
      });
    } catch (err) {
      if (err instanceof ApiError && (err.code === 403 || err.code === 422))
        return {
          kind: 'keep',
          size: current,
          problem: `volume ${c.metadata.name} cannot grow to ${wanted}: ${err.message}`,
        };
      throw err;
    }
  }
  try {
    await client.delete(
      objectPath(resourceOf('apps/v1', 'StatefulSet'), ns, ensembleNames(e.metadata.name).voterStatefulSet),
      'Orphan',
    );
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return { kind: 'recreating', size: wanted };
}
