// The ZkEnsemble API (zkensemble.dev/v1alpha1): the one source of the CRD's structural schema, its
// CEL rules, printer columns and (through generate.ts) the TypeScript types. Defaults live here too;
// defaults.ts applies them the way the API server does, so rendering never repeats them.

import { type CelRule, cel, opaqueList, opaqueObject, quantity, type Schema, stringMap } from './openapi.ts';
import { ownedKeyCel } from './owned-keys.ts';

export const GROUP = 'zkensemble.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ZkEnsemble';
export const PLURAL = 'zkensembles';
export const SINGULAR = 'zkensemble';
export const SHORT_NAMES = ['zke'];
export const CATEGORIES = ['zookeeper'];

/** Longest ensemble name: `<name>-observers-<region>` must stay a 63-character DNS label. */
export const MAX_NAME_LENGTH = 30;
/** Longest region name (same reason). */
export const MAX_REGION_LENGTH = 20;
export const MAX_REGIONS = 16;
export const MAX_OBSERVERS_PER_REGION = 100;
/** Region names that would make `<name>-<region>` collide with the operator's other Services. */
export const RESERVED_REGION_NAMES = ['client', 'voters'];
export const RESERVED_REGION_PREFIX = 'observers-';

const DURATION = '^([0-9]+(ms|s|m|h))+$';
// Patterns of CEL rules that validate.ts and the zoo.cfg renderer check again.
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS1035_LABEL = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
export const ZOOCFG_KEY = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

const resources = (description: string, defaults?: { requests: object; limits: object }): Schema => ({
  type: 'object',
  description,
  properties: {
    requests: {
      type: 'object',
      additionalProperties: quantity('Quantity'),
      maxProperties: 16,
    },
    limits: {
      type: 'object',
      additionalProperties: quantity('Quantity'),
      maxProperties: 16,
    },
  },
  ...(defaults ? { default: defaults } : {}),
});

const RESOURCES_DOC =
  'Compute resources of the zkensemble container (requests and limits, as in a Pod). Keep the memory limit equal to the request: the peer holds its data tree in memory.';

const scheduling = (what: string, nodeSelectorDoc: string): Schema => ({
  type: 'object',
  description: `Where ${what} run. Passed to the pods unchanged; the API server validates them there.`,
  properties: {
    nodeSelector: stringMap(nodeSelectorDoc),
    tolerations: opaqueList('Tolerations (core/v1 Toleration).', 32),
    affinity: opaqueObject('Affinity (core/v1 Affinity), added to what the operator sets.'),
    topologySpreadConstraints: opaqueList(
      'Replace the default spread (zones: ScheduleAnyway; hosts: DoNotSchedule for voters, ScheduleAnyway for observers). The operator fills in labelSelector when it is left out.',
      8,
    ),
    priorityClassName: { type: 'string', maxLength: 253 },
  },
});

const image: Schema = {
  type: 'object',
  description: "The zkensemble image. Without name, the operator's own default image is used.",
  default: {},
  properties: {
    name: { type: 'string', description: 'Image reference, e.g. registry/zkensemble:0.1.0.', maxLength: 512 },
    pullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'], default: 'IfNotPresent' },
    pullSecrets: {
      type: 'array',
      description: "Secrets for pulling the image, in the pods' namespace.",
      maxItems: 8,
      items: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', maxLength: 253 } },
      },
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    },
  },
};

const voters: Schema = {
  type: 'object',
  description: 'The voting members: one StatefulSet, one pod and volume per voter.',
  default: {},
  properties: {
    replicas: {
      type: 'integer',
      description:
        'Number of voters: 1, 3, 5 or 7. Not yet: changing it on a running ensemble by reconfiguration (one voter at a time).',
      default: 3,
      minimum: 1,
      maximum: 7,
      'x-kubernetes-validations': [
        cel(
          'self % 2 == 1',
          'voters.replicas must be odd (1, 3, 5 or 7): an even number of voters tolerates no more failures than one fewer',
        ),
      ],
    },
    storage: {
      type: 'object',
      description: "Each voter's data volume (PersistentVolumeClaim template).",
      default: {},
      properties: {
        size: quantity('Size of the volume; it can grow (when the storage class allows) but never shrink.', {
          default: '10Gi',
        }),
        storageClassName: {
          type: 'string',
          description:
            'Storage class: unset for the cluster default, "" for none (pre-provisioned volumes). Cannot change after creation.',
          maxLength: 253,
        },
      },
      'x-kubernetes-validations': [
        cel(
          '(has(self.storageClassName) == has(oldSelf.storageClassName)) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)',
          'voters.storage.storageClassName cannot change: the volumes already exist',
        ),
        cel(
          '!has(oldSelf.size) || !has(self.size) || quantity(string(self.size)).compareTo(quantity(string(oldSelf.size))) >= 0',
          'voters.storage.size cannot shrink: volumes only grow',
        ),
      ],
    },
    resources: resources(RESOURCES_DOC, {
      requests: { cpu: '500m', memory: '1Gi' },
      limits: { memory: '1Gi' },
    }),
    scheduling: scheduling('voters', 'Node labels voters must run on.'),
  },
};

const autoscaling: Schema = {
  type: 'object',
  description:
    "Let a HorizontalPodAutoscaler size this region's observers. With several targets, the largest resulting count wins.",
  required: ['maxReplicas'],
  properties: {
    minReplicas: { type: 'integer', default: 1, minimum: 1, maximum: MAX_OBSERVERS_PER_REGION },
    maxReplicas: { type: 'integer', minimum: 1, maximum: MAX_OBSERVERS_PER_REGION },
    cpuUtilization: {
      type: 'integer',
      description: 'Target average CPU use, in percent of the CPU request.',
      minimum: 1,
      maximum: 1000,
    },
    connectionsPerObserver: {
      type: 'integer',
      description: 'Target average number of client connections per observer.',
      minimum: 1,
      maximum: 1000000,
    },
  },
  'x-kubernetes-validations': [
    cel('self.minReplicas <= self.maxReplicas', 'autoscaling.minReplicas must not exceed maxReplicas'),
    cel(
      'has(self.cpuUtilization) || has(self.connectionsPerObserver)',
      'autoscaling needs a target: cpuUtilization, connectionsPerObserver or both',
    ),
  ],
};

const region: Schema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: {
      type: 'string',
      description:
        'Region name. Observers are placed on nodes labelled topology.kubernetes.io/region=<name> unless scheduling.nodeSelector is given.',
      minLength: 1,
      maxLength: MAX_REGION_LENGTH,
      'x-kubernetes-validations': [
        cel(
          `self.matches('${DNS1123_LABEL}')`,
          'region name must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
        ),
        cel(
          `!(self in [${RESERVED_REGION_NAMES.map((n) => `'${n}'`).join(', ')}]) && !self.startsWith('${RESERVED_REGION_PREFIX}')`,
          `region name must not be ${RESERVED_REGION_NAMES.map((n) => `"${n}"`).join(' or ')} nor start with "${RESERVED_REGION_PREFIX}": the operator's own Services use those names`,
        ),
      ],
    },
    replicas: {
      type: 'integer',
      description: 'Number of observers in the region; ignored when autoscaling is set.',
      default: 1,
      minimum: 0,
      maximum: MAX_OBSERVERS_PER_REGION,
    },
    autoscaling,
    resources: resources('Replaces observers.resources for this region.'),
    scheduling: scheduling(
      "this region's observers",
      'Node labels the observers must run on. Replaces the default {topology.kubernetes.io/region: <name>}; {} removes the region constraint.',
    ),
  },
};

const observers: Schema = {
  type: 'object',
  description: 'Non-voting members, per region: a Deployment each, optionally autoscaled.',
  default: {},
  properties: {
    resources: resources(RESOURCES_DOC, {
      requests: { cpu: '250m', memory: '512Mi' },
      limits: { memory: '512Mi' },
    }),
    regions: {
      type: 'array',
      maxItems: MAX_REGIONS,
      default: [],
      items: region,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      'x-kubernetes-validations': [
        cel('self.all(r, self.exists_one(o, o.name == r.name))', 'observers.regions names must be unique'),
      ],
    },
  },
};

const zooCfg: Schema = {
  type: 'object',
  description:
    'Extra zoo.cfg settings (key: value), e.g. tickTime, maxClientCnxns, autopurge.purgeInterval. Keys the operator owns are refused: dataDir, dataLogDir, clientPort, dynamicConfigFile, reconfigEnabled, standaloneEnabled, admin.*, sslQuorum, learner.*, server.*, ssl.quorum.* and the like. Changing them changes the pod template hash; voters (updateStrategy OnDelete) pick them up when their pods are restarted.',
  additionalProperties: { 'x-kubernetes-int-or-string': true, maxLength: 1024 } as Schema,
  maxProperties: 64,
  default: {},
  'x-kubernetes-validations': [
    cel(`!self.exists(k, ${ownedKeyCel('k')})`, 'zooCfg sets a key the operator owns', {
      messageExpression: `'zooCfg key ' + self.filter(k, ${ownedKeyCel('k')})[0] + ' is set by the operator and cannot be overridden'`,
    }),
    // One key=value line each: a key or value that could start another line could add any setting.
    cel(
      `self.all(k, k.matches('${ZOOCFG_KEY}') && !string(self[k]).contains('\\n') && !string(self[k]).contains('\\r'))`,
      'zooCfg keys are letters, digits, ".", "_" and "-"; values are one line',
      {
        messageExpression: `'zooCfg entry ' + self.filter(k, !k.matches('${ZOOCFG_KEY}') || string(self[k]).contains('\\n') || string(self[k]).contains('\\r'))[0] + ' is not a single zoo.cfg line (key: letters, digits, ".", "_", "-"; value: no line breaks)'`,
      },
    ),
  ],
};

const security: Schema = {
  type: 'object',
  description: 'Who may join the ensemble as a learner.',
  default: {},
  properties: {
    quorumTLS: {
      type: 'object',
      description:
        'TLS with client certificates between members. The Secret holds ca.crt and tls-combined.pem (key and certificate chain, as cert-manager writes with additionalOutputFormats: CombinedPEM); its certificate must be valid for *.<name>-voters.<namespace>.svc and *.<name>-observers-<region>.<namespace>.svc names.',
      properties: {
        secretName: { type: 'string', maxLength: 253 },
        generateCA: {
          type: 'boolean',
          description:
            'The operator makes a CA (Secret <name>-quorum-ca, which only it reads) and one certificate for all members (Secret <name>-quorum-tls), re-issued when regions change or a third of its year is left; members restart onto it.',
        },
        hostnameVerification: { type: 'boolean', default: true },
      },
      'x-kubernetes-validations': [
        cel(
          'has(self.secretName) != (has(self.generateCA) && self.generateCA)',
          'quorumTLS needs exactly one of secretName or generateCA: true',
        ),
      ],
    },
    learnerAllowList: {
      type: 'array',
      description:
        "CIDR ranges learners may connect from. Must include the pods' network; empty means any address.",
      maxItems: 32,
      items: { type: 'string', maxLength: 43 },
      'x-kubernetes-list-type': 'set',
    },
    sharedSecret: {
      type: 'object',
      description:
        'A secret every member proves it knows before joining (at least 16 characters), from a Secret in the namespace.',
      required: ['secretName'],
      properties: {
        secretName: { type: 'string', maxLength: 253 },
        key: { type: 'string', default: 'secret', maxLength: 253 },
      },
    },
  },
};

const metrics: Schema = {
  type: 'object',
  description: 'Prometheus metrics, served at /metrics on the admin port (8080) of every member.',
  default: {},
  properties: {
    serviceMonitor: {
      type: 'object',
      description: 'A monitoring.coreos.com/v1 ServiceMonitor (needs the Prometheus operator CRDs).',
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        interval: { type: 'string', default: '30s', pattern: DURATION, maxLength: 16 },
        labels: stringMap('Labels on the ServiceMonitor, for the Prometheus that selects it.', {
          maxProperties: 16,
        }),
      },
    },
  },
};

const podDisruptionBudget: Schema = {
  type: 'object',
  description: "The voters' PodDisruptionBudget.",
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    maxUnavailable: {
      type: 'integer',
      description: 'Voters that may be evicted at once; at most the failures the ensemble survives.',
      default: 1,
      minimum: 1,
      maximum: 3,
    },
  },
};

/**
 * Cross-field, so on spec. The API server also checks the rule against spec's own default ({}),
 * where nothing nested is filled in yet: optional fields fall back to their schema defaults.
 */
function pdbWithinQuorumRule(): CelRule {
  const pdb = podDisruptionBudget.properties!;
  const replicas = `self.?voters.?replicas.orValue(${voters.properties!.replicas!.default})`;
  const enabled = `self.?podDisruptionBudget.?enabled.orValue(${pdb.enabled!.default})`;
  const max = `self.?podDisruptionBudget.?maxUnavailable.orValue(${pdb.maxUnavailable!.default})`;
  return cel(
    `!${enabled} || ${max} <= (${replicas} == 1 ? 1 : (${replicas} - 1) / 2)`,
    'podDisruptionBudget.maxUnavailable must not exceed the voters that can fail without losing quorum ((replicas - 1) / 2)',
  );
}

const spec: Schema = {
  type: 'object',
  description: 'Desired state of a ZooKeeper-compatible ensemble of voters and per-region observers.',
  default: {},
  properties: {
    image,
    voters,
    observers,
    zooCfg,
    security,
    metrics,
    podDisruptionBudget,
  },
  'x-kubernetes-validations': [pdbWithinQuorumRule()],
};

const condition: Schema = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', description: 'Available, Progressing or Degraded.', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', minimum: 0 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: { type: 'string', maxLength: 1024 },
    message: { type: 'string', maxLength: 32768 },
  },
};

const status: Schema = {
  type: 'object',
  description: 'Observed state, written by the operator.',
  properties: {
    observedGeneration: { type: 'integer', description: 'The generation this status describes.' },
    conditions: {
      type: 'array',
      items: condition,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    leader: { type: 'string', description: 'Pod name of the current leader.' },
    readyVoters: { type: 'integer' },
    voters: { type: 'string', description: 'Ready/desired voters, e.g. 3/3 (for kubectl get).' },
    observers: { type: 'string', description: 'Ready/desired observers over all regions, e.g. 4/5.' },
    regions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'ready', 'desired'],
        properties: {
          name: { type: 'string' },
          ready: { type: 'integer' },
          desired: { type: 'integer' },
        },
      },
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    },
    members: {
      type: 'array',
      description: 'The committed membership (server id, pod, role, region).',
      items: {
        type: 'object',
        required: ['sid', 'role'],
        properties: {
          sid: { type: 'integer' },
          pod: { type: 'string' },
          role: { type: 'string', enum: ['voter', 'observer'] },
          region: { type: 'string' },
        },
      },
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['sid'],
    },
    configVersion: { type: 'string', description: 'Version of the committed membership (hex zxid).' },
  },
};

const rootRules: CelRule[] = [
  cel(
    `self.metadata.name.size() <= ${MAX_NAME_LENGTH} && self.metadata.name.matches('${DNS1035_LABEL}')`,
    `a ZkEnsemble name must be a DNS-1035 label of at most ${MAX_NAME_LENGTH} characters (lower-case letters, digits and "-", starting with a letter): Services and pods are named after it`,
  ),
];

/** The whole openAPIV3Schema of the CRD. */
export const zkEnsembleSchema: Schema = {
  type: 'object',
  description: 'A ZooKeeper-compatible ensemble: voters in a StatefulSet and observers per region.',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec,
    status,
  },
  'x-kubernetes-validations': rootRules,
};

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export const printerColumns: PrinterColumn[] = [
  { name: 'Voters', type: 'string', jsonPath: '.status.voters', description: 'Ready/desired voters' },
  {
    name: 'Observers',
    type: 'string',
    jsonPath: '.status.observers',
    description: 'Ready/desired observers',
  },
  { name: 'Leader', type: 'string', jsonPath: '.status.leader' },
  { name: 'Available', type: 'string', jsonPath: '.status.conditions[?(@.type=="Available")].status' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];
