// Which of the objects an ensemble owns are no longer rendered (a removed region, a disabled PDB).
// Only objects whose controller owner reference is this very ensemble (by uid) are candidates: a
// same-named ensemble recreated, or an object someone labelled alike, is never touched.

import type { KubeObj } from './kube.ts';
import { objectKey } from './resources.ts';

export function ownedBy(o: KubeObj, uid: string): boolean {
  return (o.metadata.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true);
}

export function objectsToPrune(
  existing: readonly KubeObj[],
  desired: readonly { kind?: string; metadata: { name: string } }[],
  uid: string,
): KubeObj[] {
  const keep = new Set(desired.map(objectKey));
  return existing.filter((o) => ownedBy(o, uid) && !keep.has(objectKey(o)) && !o.metadata.deletionTimestamp);
}
