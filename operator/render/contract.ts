// What the rendered pods and the peer's Kubernetes mode (`zkensemble peer --k8s /etc/zkensemble`)
// agree on: ports, paths, environment, annotations. Change both sides together.

export const PORTS = { client: 2181, quorum: 2888, election: 3888, admin: 8080 } as const;

export const CONTAINER_NAME = 'zkensemble';
/** The image's entrypoint is `zkensemble`; these are its arguments. */
export const CONFIG_DIR = '/etc/zkensemble';
export const PEER_ARGS = ['peer', '--k8s', CONFIG_DIR];

/** Files in CONFIG_DIR: the static zoo.cfg and the membership ZooKeeper-style (dynamicConfigFile). */
export const STATIC_CONFIG_FILE = 'zoo.cfg';
export const DYNAMIC_CONFIG_FILE = 'zoo.cfg.dynamic';
/** Quorum TLS files (under CONFIG_DIR): key + certificate chain in one PEM, and the CA bundle. */
export const TLS_DIR = 'tls';
export const TLS_KEYSTORE_FILE = 'tls-combined.pem';
export const TLS_CA_FILE = 'ca.crt';
export const SHARED_SECRET_PATH = 'secret/shared-secret';

/** PVC for voters, emptyDir for observers. */
export const DATA_DIR = '/data';

/** An observer's server id: set by the operator on the pod, read by the peer from the file. */
export const SERVER_ID_ANNOTATION = 'zkensemble.dev/server-id';
export const PODINFO_DIR = '/etc/podinfo';
export const SERVER_ID_FILE = 'server-id';

/** Hash of what needs a restart to take effect (the static zoo.cfg), on the pod template. */
export const CONFIG_HASH_ANNOTATION = 'zkensemble.dev/config-hash';

export const ENV = {
  podName: 'POD_NAME',
  podNamespace: 'POD_NAMESPACE',
  podIP: 'POD_IP',
  role: 'ZKE_ROLE',
  region: 'ZKE_REGION',
  ensemble: 'ZKE_ENSEMBLE',
} as const;

export const HTTP_PATHS = { ready: '/readyz', live: '/healthz', metrics: '/metrics' } as const;

/** The `node` user of the official Node images the Dockerfile builds on. */
export const RUN_AS = 1000;

export const TOPOLOGY = {
  region: 'topology.kubernetes.io/region',
  zone: 'topology.kubernetes.io/zone',
  hostname: 'kubernetes.io/hostname',
} as const;

export type Role = 'voter' | 'observer';

/** Settings of the operator itself (flags / environment), not of one ensemble. */
export interface OperatorSettings {
  /** Image used when spec.image.name is not set. */
  image: string;
  /** DNS suffix of the cluster (default cluster.local). */
  clusterDomain?: string;
  /**
   * trafficDistribution of the region client Services. PreferClose (the default) works from
   * Kubernetes 1.31 on; 1.35+ warns that it is deprecated in favour of PreferSameZone (1.34+).
   */
  trafficDistribution?: 'PreferClose' | 'PreferSameZone';
}
