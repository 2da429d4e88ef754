// The static zoo.cfg every member reads: operator defaults, then spec.zooCfg, then the keys the
// operator owns (paths, ports, reconfig, admin server, learner security). The membership is not
// here: it is in the dynamic config file, which changes without restarts.

import { createHash } from 'node:crypto';
import { isOwnedKey } from '../api/owned-keys.ts';
import { ZOOCFG_KEY } from '../api/schema.ts';
import type { ZkEnsemble } from '../api/types.generated.ts';
import {
  CONFIG_DIR,
  DATA_DIR,
  DYNAMIC_CONFIG_FILE,
  PORTS,
  SHARED_SECRET_PATH,
  TLS_CA_FILE,
  TLS_DIR,
  TLS_KEYSTORE_FILE,
} from './contract.ts';

/** Settings a user may override through spec.zooCfg. */
export const ZOO_DEFAULTS: Readonly<Record<string, string>> = {
  tickTime: '2000',
  initLimit: '10',
  syncLimit: '5',
  maxClientCnxns: '60',
  // Keep the disk from filling up: ZooKeeper's own default never purges.
  'autopurge.snapRetainCount': '3',
  'autopurge.purgeInterval': '1',
  // What `zkCli`, monitoring and the operator's checks use; the admin server covers the rest.
  '4lw.commands.whitelist': 'srvr,mntr,ruok,conf,isro',
};

const KEY = new RegExp(ZOOCFG_KEY);

/** Why a spec.zooCfg entry cannot go into zoo.cfg, or null when it can. */
export function zooCfgEntryProblem(key: string, value: number | string): string | null {
  if (!KEY.test(key)) return `zooCfg key "${key}" is not a zoo.cfg key (letters, digits, ".", "_", "-")`;
  if (isOwnedKey(key)) return `zooCfg key ${key} is set by the operator and cannot be overridden`;
  if (/[\r\n]/.test(String(value))) return `zooCfg value of ${key} contains a line break`;
  return null;
}

export interface StaticConfigOptions {
  /** `super:<digest>` of the password the operator reconfigures with (ensemble-access.ts). */
  superDigest?: string;
}

function ownedSettings(e: ZkEnsemble, o: StaticConfigOptions): [string, string][] {
  const owned: [string, string][] = [
    ['dataDir', DATA_DIR],
    ['clientPort', String(PORTS.client)],
    ['dynamicConfigFile', `${CONFIG_DIR}/${DYNAMIC_CONFIG_FILE}`],
    ['reconfigEnabled', 'true'],
    ['standaloneEnabled', 'false'],
    // Bind quorum and election ports on every address: a pod's own DNS name may not resolve yet
    // when it starts.
    ['quorumListenOnAllIPs', 'true'],
    ['admin.enableServer', 'true'],
    ['admin.serverPort', String(PORTS.admin)],
  ];
  const sec = e.spec.security;
  if (sec.quorumTLS) {
    owned.push(
      ['sslQuorum', 'true'],
      ['ssl.quorum.keyStore.location', `${CONFIG_DIR}/${TLS_DIR}/${TLS_KEYSTORE_FILE}`],
      ['ssl.quorum.trustStore.location', `${CONFIG_DIR}/${TLS_DIR}/${TLS_CA_FILE}`],
      ['ssl.quorum.hostnameVerification', String(sec.quorumTLS.hostnameVerification)],
    );
  }
  if (sec.learnerAllowList && sec.learnerAllowList.length > 0)
    owned.push(['learner.allowList', sec.learnerAllowList.join(',')]);
  if (sec.sharedSecret) owned.push(['learner.sharedSecretFile', `${CONFIG_DIR}/${SHARED_SECRET_PATH}`]);
  if (o.superDigest) owned.push(['DigestAuthenticationProvider.superDigest', o.superDigest]);
  return owned;
}

/** zoo.cfg text; entries zooCfgEntryProblem refuses are left out (validate.ts reports them). */
export function renderStaticConfig(e: ZkEnsemble, o: StaticConfigOptions = {}): string {
  const user = Object.entries(e.spec.zooCfg).filter(([k, v]) => zooCfgEntryProblem(k, v) === null);
  const merged = new Map<string, string>(Object.entries(ZOO_DEFAULTS));
  for (const [k, v] of user) merged.set(k, String(v).trim());
  const tunables = [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const line = ([k, v]: [string, string]) => `${k}=${v}\n`;
  return [
    `# zoo.cfg of ZkEnsemble ${e.metadata.namespace}/${e.metadata.name}, written by the zkensemble operator.\n`,
    '# Change spec.zooCfg instead of this file.\n',
    ...tunables.map(line),
    '# Owned by the operator.\n',
    ...ownedSettings(e, o).map(line),
  ].join('');
}

/** Short hash of a rendered config: a pod template annotation, so changes roll the pods. */
export function configHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
