// One region's observers: a Deployment, optionally a HorizontalPodAutoscaler, a headless Service
// (metrics, peer discovery) and the region's client Service.

import type { ObserverRegion, ZkEnsemble } from '../api/types.generated.ts';
import type { OperatorSettings } from './contract.ts';
import { objectMeta, selectorLabels } from './labels.ts';
import { ensembleNames } from './names.ts';
import type { KubeObject } from './objects.ts';
import { podTemplate } from './pod.ts';
import { servicePorts } from './voters.ts';

/** Per-pod metric the connections target reads (served by a Prometheus adapter as a Pods metric). */
export const CONNECTIONS_METRIC = 'zookeeper_num_alive_connections';

export function observerDeployment(
  e: ZkEnsemble,
  settings: OperatorSettings,
  region: ObserverRegion,
  configHash: string,
): KubeObject {
  const n = ensembleNames(e.metadata.name);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(e, n.observerDeployment(region.name), 'observer', region.name),
    spec: {
      // With autoscaling the HPA owns the count: leaving replicas out keeps an apply from resetting it.
      ...(region.autoscaling ? {} : { replicas: region.replicas }),
      selector: { matchLabels: selectorLabels(e, 'observer', region.name) },
      // A new observer serves before an old one goes: the region never loses read capacity.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      revisionHistoryLimit: 5,
      template: podTemplate(e, settings, { role: 'observer', region, configHash }),
    },
  };
}

export function observerAutoscaler(e: ZkEnsemble, region: ObserverRegion): KubeObject | null {
  const a = region.autoscaling;
  if (!a) return null;
  const n = ensembleNames(e.metadata.name);
  const metrics: Record<string, unknown>[] = [];
  if (a.cpuUtilization !== undefined) {
    metrics.push({
      type: 'Resource',
      resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: a.cpuUtilization } },
    });
  }
  if (a.connectionsPerObserver !== undefined) {
    metrics.push({
      type: 'Pods',
      pods: {
        metric: { name: CONNECTIONS_METRIC },
        target: { type: 'AverageValue', averageValue: String(a.connectionsPerObserver) },
      },
    });
  }
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: objectMeta(e, n.observerHpa(region.name), 'observer', region.name),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: n.observerDeployment(region.name) },
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      metrics,
      // Removing an observer moves its clients' sessions elsewhere: shrink slowly, one at a time.
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 300,
          policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
          selectPolicy: 'Max',
        },
      },
    },
  };
}

export function observerHeadlessService(e: ZkEnsemble, region: ObserverRegion): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(
      e,
      ensembleNames(e.metadata.name).observerHeadless(region.name),
      'observer',
      region.name,
    ),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(e, 'observer', region.name),
      ports: servicePorts(['client', 'quorum', 'election', 'admin']),
    },
  };
}

/**
 * Clients in a region connect here. trafficDistribution (PreferClose / PreferSameZone) keeps
 * connections in the client's zone when an observer is there and falls back to the region's other
 * observers; internalTrafficPolicy: Local would instead drop connections from nodes without one.
 */
export function regionClientService(
  e: ZkEnsemble,
  settings: OperatorSettings,
  region: ObserverRegion,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(e, ensembleNames(e.metadata.name).regionClient(region.name), 'client', region.name),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(e, 'observer', region.name),
      ports: servicePorts(['client']),
      trafficDistribution: settings.trafficDistribution ?? 'PreferClose',
    },
  };
}
