// REST paths of the kinds the operator renders, and the kinds it owns (listed to prune leftovers).

import { GROUP, PLURAL, VERSION } from '../api/schema.ts';

export interface Resource {
  apiVersion: string;
  kind: string;
  plural: string;
  /** Absent from clusters without the CRD (ServiceMonitor): a 404 on list means "none". */
  optional?: boolean;
}

/** Every kind renderEnsemble may produce. */
export const OWNED: readonly Resource[] = [
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts' },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets' },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers' },
  {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    plural: 'servicemonitors',
    optional: true,
  },
];

export function resourceOf(apiVersion: string, kind: string): Resource {
  const r = OWNED.find((o) => o.apiVersion === apiVersion && o.kind === kind);
  if (!r) throw new Error(`the operator does not manage ${kind} (${apiVersion})`);
  return r;
}

const groupPrefix = (apiVersion: string) =>
  apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;

export function collectionPath(r: Pick<Resource, 'apiVersion' | 'plural'>, namespace?: string): string {
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${groupPrefix(r.apiVersion)}${ns}/${r.plural}`;
}

export function objectPath(
  r: Pick<Resource, 'apiVersion' | 'plural'>,
  namespace: string,
  name: string,
): string {
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}`;
}

export const ENSEMBLES: Resource = { apiVersion: `${GROUP}/${VERSION}`, kind: 'ZkEnsemble', plural: PLURAL };
export const PODS: Resource = { apiVersion: 'v1', kind: 'Pod', plural: 'pods' };
export const PVCS: Resource = {
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  plural: 'persistentvolumeclaims',
};
export const SECRETS: Resource = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' };
export const EVENTS: Resource = { apiVersion: 'v1', kind: 'Event', plural: 'events' };
export const LEASES: Resource = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases' };

export const objectKey = (o: { kind?: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`;
