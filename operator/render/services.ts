// Ensemble-wide objects that are not one group's: the client Service, the ServiceAccount, the
// ServiceMonitor.

import type { ZkEnsemble } from '../api/types.generated.ts';
import { HTTP_PATHS } from './contract.ts';
import { COMPONENT_LABEL, namespaceOf, objectMeta, REGION_LABEL, selectorLabels } from './labels.ts';
import { ensembleNames } from './names.ts';
import type { KubeObject } from './objects.ts';
import { servicePorts } from './voters.ts';

/** Every ready member, voters and observers alike. */
export function clientService(e: ZkEnsemble): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(e, ensembleNames(e.metadata.name).client, 'client'),
    spec: { type: 'ClusterIP', selector: selectorLabels(e), ports: servicePorts(['client']) },
  };
}

/** The pods' identity: no API access (no token is mounted), it exists so policies can name it. */
export function serviceAccount(e: ZkEnsemble): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: objectMeta(e, ensembleNames(e.metadata.name).serviceAccount, 'serviceaccount'),
    automountServiceAccountToken: false,
  };
}

/**
 * Scrapes every member through the headless Services (they list not-ready pods too, so a member
 * that cannot join is still visible); role and region become metric labels.
 */
export function serviceMonitor(e: ZkEnsemble): KubeObject | null {
  const sm = e.spec.metrics.serviceMonitor;
  if (!sm.enabled) return null;
  const meta = objectMeta(e, ensembleNames(e.metadata.name).serviceMonitor, 'metrics');
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { ...meta, labels: { ...sm.labels, ...meta.labels } },
    spec: {
      selector: {
        matchLabels: selectorLabels(e),
        matchExpressions: [{ key: COMPONENT_LABEL, operator: 'In', values: ['voter', 'observer'] }],
      },
      namespaceSelector: { matchNames: [namespaceOf(e)] },
      endpoints: [{ port: 'admin', path: HTTP_PATHS.metrics, scheme: 'http', interval: sm.interval }],
      podTargetLabels: [COMPONENT_LABEL, REGION_LABEL],
    },
  };
}
