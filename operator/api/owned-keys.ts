// zoo.cfg keys the operator writes itself and users may not set through spec.zooCfg: paths and ports
// the pod layout depends on, the membership, and the security settings that have their own fields.
// One list for the CEL rule, the renderer (which drops them again, in case the CRD was installed
// without validation) and validate.ts.

export const OWNED_KEYS: readonly string[] = [
  'dataDir',
  'dataLogDir',
  'clientPort',
  'clientPortAddress',
  'secureClientPort',
  'secureClientPortAddress',
  'dynamicConfigFile',
  'reconfigEnabled',
  'standaloneEnabled',
  'peerType',
  'quorumListenOnAllIPs',
  'admin.enableServer',
  'admin.serverAddress',
  'admin.serverPort',
  'sslQuorum',
  'learner.allowList',
  'learner.sharedSecretFile',
  // The operator's super user, which it reconfigures the ensemble as.
  'DigestAuthenticationProvider.superDigest',
];

/** Key prefixes the operator owns: membership lines, hierarchical quorums, quorum TLS, metrics. */
export const OWNED_PREFIXES: readonly string[] = [
  'server.',
  'group.',
  'weight.',
  'ssl.quorum.',
  'metricsProvider.',
];

/** ZooKeeper accepts every key also in its system-property form, with a `zookeeper.` prefix. */
const SYSPROP_PREFIX = 'zookeeper.';

export function isOwnedKey(key: string): boolean {
  const k = key.startsWith(SYSPROP_PREFIX) ? key.slice(SYSPROP_PREFIX.length) : key;
  return OWNED_KEYS.includes(k) || OWNED_PREFIXES.some((p) => k.startsWith(p));
}

const celList = (xs: readonly string[]) => `[${xs.map((x) => `'${x}'`).join(', ')}]`;

/** CEL (over a map's key `k`) that is true when k is an owned key, in either spelling. */
export function ownedKeyCel(k: string): string {
  const bare = `(${k}.startsWith('${SYSPROP_PREFIX}') ? ${k}.substring(${SYSPROP_PREFIX.length}) : ${k})`;
  return `(${bare} in ${celList(OWNED_KEYS)} || ${celList(OWNED_PREFIXES)}.exists(p, ${bare}.startsWith(p)))`;
}
