// The pod template shared by voters and observers: one hardened container running
// `zkensemble peer --k8s /etc/zkensemble`, its config projected into /etc/zkensemble, data at /data.

import type {
  ObserverRegion,
  RegionScheduling,
  ResourceRequirements,
  VoterScheduling,
  ZkEnsemble,
} from '../api/types.generated.ts';
import {
  CONFIG_DIR,
  CONFIG_HASH_ANNOTATION,
  CONTAINER_NAME,
  DATA_DIR,
  DYNAMIC_CONFIG_FILE,
  ENV,
  HTTP_PATHS,
  type OperatorSettings,
  PEER_ARGS,
  PODINFO_DIR,
  PORTS,
  type Role,
  RUN_AS,
  SERVER_ID_ANNOTATION,
  SERVER_ID_FILE,
  SHARED_SECRET_PATH,
  STATIC_CONFIG_FILE,
  TLS_CA_FILE,
  TLS_DIR,
  TLS_KEYSTORE_FILE,
  TOPOLOGY,
} from './contract.ts';
import { labels, selectorLabels } from './labels.ts';
import { ensembleNames } from './names.ts';

type Obj = Record<string, unknown>;

export const VOLUMES = { config: 'config', data: 'data', tmp: 'tmp', podinfo: 'podinfo' } as const;

/** Quorum TLS Secret the pods mount: the user's, or the one the operator generates. */
export function quorumTlsSecretName(e: ZkEnsemble): string | null {
  const t = e.spec.security.quorumTLS;
  if (!t) return null;
  return t.secretName ?? ensembleNames(e.metadata.name).generatedQuorumTls;
}

function fieldEnv(name: string, fieldPath: string): Obj {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

function env(e: ZkEnsemble, role: Role, region?: string): Obj[] {
  return [
    fieldEnv(ENV.podName, 'metadata.name'),
    fieldEnv(ENV.podNamespace, 'metadata.namespace'),
    fieldEnv(ENV.podIP, 'status.podIP'),
    { name: ENV.role, value: role },
    ...(region !== undefined ? [{ name: ENV.region, value: region }] : []),
    { name: ENV.ensemble, value: e.metadata.name },
  ];
}

/** Everything under /etc/zkensemble comes from one read-only projected volume. */
function configVolume(e: ZkEnsemble): Obj {
  const n = ensembleNames(e.metadata.name);
  const sources: Obj[] = [
    { configMap: { name: n.staticConfig, items: [{ key: STATIC_CONFIG_FILE, path: STATIC_CONFIG_FILE }] } },
    {
      configMap: { name: n.dynamicConfig, items: [{ key: DYNAMIC_CONFIG_FILE, path: DYNAMIC_CONFIG_FILE }] },
    },
  ];
  const tls = quorumTlsSecretName(e);
  if (tls) {
    sources.push({
      secret: {
        name: tls,
        items: [TLS_KEYSTORE_FILE, TLS_CA_FILE].map((f) => ({ key: f, path: `${TLS_DIR}/${f}` })),
      },
    });
  }
  const shared = e.spec.security.sharedSecret;
  if (shared)
    sources.push({
      secret: { name: shared.secretName, items: [{ key: shared.key, path: SHARED_SECRET_PATH }] },
    });
  // Group-readable: files belong to root with the pod's fsGroup as group.
  return { name: VOLUMES.config, projected: { defaultMode: 0o440, sources } };
}

function httpProbe(path: string, periodSeconds: number, failureThreshold: number): Obj {
  return {
    httpGet: { path, port: 'admin', scheme: 'HTTP' },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  };
}

function container(
  e: ZkEnsemble,
  settings: OperatorSettings,
  role: Role,
  region: ObserverRegion | undefined,
): Obj {
  const resources: ResourceRequirements =
    role === 'voter' ? e.spec.voters.resources : (region?.resources ?? e.spec.observers.resources);
  return {
    name: CONTAINER_NAME,
    image: e.spec.image.name ?? settings.image,
    imagePullPolicy: e.spec.image.pullPolicy,
    args: PEER_ARGS,
    ports: [
      { name: 'client', containerPort: PORTS.client, protocol: 'TCP' },
      { name: 'quorum', containerPort: PORTS.quorum, protocol: 'TCP' },
      { name: 'election', containerPort: PORTS.election, protocol: 'TCP' },
      { name: 'admin', containerPort: PORTS.admin, protocol: 'TCP' },
    ],
    env: env(e, role, region?.name),
    resources,
    // Loading a large snapshot can take minutes; liveness only starts counting once it is done.
    startupProbe: httpProbe(HTTP_PATHS.live, 5, role === 'voter' ? 120 : 60),
    livenessProbe: httpProbe(HTTP_PATHS.live, 10, 6),
    readinessProbe: httpProbe(HTTP_PATHS.ready, 5, 3),
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: VOLUMES.config, mountPath: CONFIG_DIR, readOnly: true },
      { name: VOLUMES.data, mountPath: DATA_DIR },
      { name: VOLUMES.tmp, mountPath: '/tmp' },
      ...(role === 'observer' ? [{ name: VOLUMES.podinfo, mountPath: PODINFO_DIR, readOnly: true }] : []),
    ],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/**
 * Default spread: across zones when possible, and across hosts (required for voters: two voters on
 * one node turn a node failure into a quorum loss). Users' constraints replace the defaults; an
 * empty labelSelector in them is filled with the pods' own selector.
 */
function spread(selector: Record<string, string>, role: Role, custom: Obj[] | undefined): Obj[] {
  const labelSelector = { matchLabels: selector };
  if (custom && custom.length > 0) return custom.map((c) => ({ labelSelector, ...c }));
  const perRevision = role === 'observer' ? { matchLabelKeys: ['pod-template-hash'] } : {};
  return [
    {
      maxSkew: 1,
      topologyKey: TOPOLOGY.zone,
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector,
      ...perRevision,
    },
    {
      maxSkew: 1,
      topologyKey: TOPOLOGY.hostname,
      whenUnsatisfiable: role === 'voter' ? 'DoNotSchedule' : 'ScheduleAnyway',
      labelSelector,
      ...perRevision,
    },
  ];
}

function schedulingFields(
  sched: VoterScheduling | RegionScheduling | undefined,
  nodeSelector: Record<string, string> | undefined,
  spreadConstraints: Obj[],
): Obj {
  return {
    ...(nodeSelector && Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
    ...(sched?.affinity ? { affinity: sched.affinity } : {}),
    ...(sched?.tolerations ? { tolerations: sched.tolerations } : {}),
    topologySpreadConstraints: spreadConstraints,
    ...(sched?.priorityClassName ? { priorityClassName: sched.priorityClassName } : {}),
  };
}

/** Observers go to their region's nodes unless the region says otherwise. */
export function observerNodeSelector(region: ObserverRegion): Record<string, string> {
  return region.scheduling?.nodeSelector ?? { [TOPOLOGY.region]: region.name };
}

export interface PodTemplateOptions {
  role: Role;
  region?: ObserverRegion;
  /** configHash() of the static zoo.cfg: changing it rolls the pods. */
  configHash: string;
}

export function podTemplate(e: ZkEnsemble, settings: OperatorSettings, o: PodTemplateOptions): Obj {
  const { role, region } = o;
  if (role === 'observer' && !region) throw new Error('an observer pod template needs its region');
  const component = role;
  const regionName = role === 'observer' ? region!.name : undefined;
  const selector = selectorLabels(e, component, regionName);
  const sched = role === 'voter' ? e.spec.voters.scheduling : region!.scheduling;
  const nodeSelector = role === 'voter' ? sched?.nodeSelector : observerNodeSelector(region!);
  const volumes: Obj[] = [configVolume(e), { name: VOLUMES.tmp, emptyDir: { sizeLimit: '64Mi' } }];
  if (role === 'observer') {
    volumes.push(
      { name: VOLUMES.data, emptyDir: {} },
      {
        name: VOLUMES.podinfo,
        downwardAPI: {
          items: [
            {
              path: SERVER_ID_FILE,
              fieldRef: { fieldPath: `metadata.annotations['${SERVER_ID_ANNOTATION}']` },
            },
          ],
        },
      },
    );
  }
  const pullSecrets = e.spec.image.pullSecrets ?? [];
  return {
    metadata: {
      labels: labels(e, component, regionName),
      annotations: {
        [CONFIG_HASH_ANNOTATION]: o.configHash,
        'kubectl.kubernetes.io/default-container': CONTAINER_NAME,
      },
    },
    spec: {
      serviceAccountName: ensembleNames(e.metadata.name).serviceAccount,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(pullSecrets.length > 0 ? { imagePullSecrets: pullSecrets.map((s) => ({ name: s.name })) } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUN_AS,
        runAsGroup: RUN_AS,
        fsGroup: RUN_AS,
        fsGroupChangePolicy: 'OnRootMismatch',
        seccompProfile: { type: 'RuntimeDefault' },
      },
      // Voters get time to finish a snapshot and hand over leadership; observers to drain clients.
      terminationGracePeriodSeconds: role === 'voter' ? 60 : 30,
      ...schedulingFields(sched, nodeSelector, spread(selector, role, sched?.topologySpreadConstraints)),
      containers: [container(e, settings, role, region)],
      volumes,
    },
  };
}
