// The operator's own objects, for the Helm chart and the tests: ServiceAccount, the ClusterRole with
// exactly the verbs the controller uses, a Role for its Lease, bindings, and the Deployment. Pure.

import { GROUP, PLURAL } from './api/schema.ts';
import type { KubeObject } from './render/objects.ts';

export const OPERATOR_NAME = 'zkensemble-operator';

export interface OperatorManifestOptions {
  namespace: string;
  image: string;
  /** Default 2: one leads, one stands by. */
  replicas?: number;
  /** Image for ensembles that do not name one (default: the operator's image). */
  ensembleImage?: string;
}

// Server-side apply is a PATCH, and needs `create` as well when the object does not exist yet.
const RW = ['get', 'list', 'watch', 'create', 'patch', 'delete'];

/** What reconcile.ts and manager.ts call, by API group and resource. */
export const OPERATOR_RULES = [
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['patch'] },
  { apiGroups: ['apps'], resources: ['statefulsets', 'deployments'], verbs: RW },
  { apiGroups: [''], resources: ['services', 'configmaps', 'serviceaccounts'], verbs: RW },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: RW },
  { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: RW },
  { apiGroups: ['monitoring.coreos.com'], resources: ['servicemonitors'], verbs: RW },
  // Observer server ids are pod annotations; a rolling restart deletes voter pods one by one.
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch', 'patch', 'delete'] },
  // The super user's password (credentials.ts), made once and read on every reconcile; the generated
  // quorum CA and member certificate (quorum-tls.ts), the latter re-issued in place.
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'update'] },
  // Growing the voters' volumes (storage.ts).
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['list', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
];

export const LEASE_RULES = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

export function renderOperatorManifests(o: OperatorManifestOptions): KubeObject[] {
  const labels = { 'app.kubernetes.io/name': OPERATOR_NAME, 'app.kubernetes.io/part-of': 'zkensemble' };
  const meta = { name: OPERATOR_NAME, namespace: o.namespace, labels };
  const subject = { kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: o.namespace };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: OPERATOR_NAME, labels },
      rules: OPERATOR_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: OPERATOR_NAME, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME },
      subjects: [subject],
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta, rules: LEASE_RULES },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: OPERATOR_NAME },
      subjects: [subject],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta,
      spec: {
        replicas: o.replicas ?? 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: OPERATOR_NAME,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'operator',
                image: o.image,
                args: ['operator', '--listen', '0.0.0.0:8081'],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  { name: 'ZKE_IMAGE', value: o.ensembleImage ?? o.image },
                ],
                ports: [{ name: 'http', containerPort: 8081 }],
                livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
                readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
                resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    },
  ];
}
