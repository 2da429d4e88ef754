// Labels, selectors and ownership shared by every rendered object. Selectors use only labels that
// never change for the life of an ensemble (a StatefulSet's or Deployment's selector is immutable).

import type { ObjectMeta, OwnerReference } from '../api/meta.ts';
import { API_VERSION, KIND } from '../api/schema.ts';
import type { ZkEnsemble } from '../api/types.generated.ts';

export const REGION_LABEL = 'zkensemble.dev/region';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** The managed-by value of every rendered object: the controller lists and watches what it owns by it. */
export const MANAGED_BY = 'zkensemble-operator';

export type Component = 'voter' | 'observer' | 'client' | 'config' | 'metrics' | 'serviceaccount';

/** The labels that select an ensemble's pods (of one component, and one region for observers). */
export function selectorLabels(
  e: ZkEnsemble,
  component?: Component,
  region?: string,
): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'zkensemble',
    [INSTANCE_LABEL]: e.metadata.name,
    ...(component ? { [COMPONENT_LABEL]: component } : {}),
    ...(region !== undefined ? { [REGION_LABEL]: region } : {}),
  };
}

export function labels(e: ZkEnsemble, component: Component, region?: string): Record<string, string> {
  return {
    ...selectorLabels(e, component, region),
    'app.kubernetes.io/part-of': 'zkensemble',
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
}

/** Labels as a label selector (`k=v,...`) for list and watch calls. */
export const labelSelector = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/** Owner reference to the ZkEnsemble: deleting it deletes everything rendered from it. */
export function ownerReference(e: ZkEnsemble): OwnerReference {
  if (!e.metadata.uid)
    throw new Error(`ZkEnsemble ${e.metadata.name} has no uid: render objects read from the API`);
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: e.metadata.name,
    uid: e.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function namespaceOf(e: ZkEnsemble): string {
  if (!e.metadata.namespace) throw new Error(`ZkEnsemble ${e.metadata.name} has no namespace`);
  return e.metadata.namespace;
}

export function objectMeta(
  e: ZkEnsemble,
  name: string,
  component: Component,
  region?: string,
  annotations?: Record<string, string>,
): ObjectMeta {
  return {
    name,
    namespace: namespaceOf(e),
    labels: labels(e, component, region),
    ...(annotations ? { annotations } : {}),
    ownerReferences: [ownerReference(e)],
  };
}
