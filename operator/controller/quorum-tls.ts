// Quorum TLS the operator makes itself (spec.security.quorumTLS.generateCA): a CA per ensemble, kept
// in a Secret only the operator reads, and one certificate for every member, signed by it, in the
// Secret the pods mount. Both Secrets belong to the ensemble (deleted with it). The member
// certificate is issued again when the names it must cover change (regions come and go), when a
// third of its life is left, or when it no longer matches the CA; the CA is made once.

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { ZkEnsemble } from '../api/types.generated.ts';
import { type OperatorSettings, TLS_CA_FILE, TLS_KEYSTORE_FILE } from '../render/contract.ts';
import { namespaceOf } from '../render/labels.ts';
import { clusterDomain } from '../render/members.ts';
import { ensembleNames } from '../render/names.ts';
import {
  createCa,
  dnsNamesOf,
  firstCertificate,
  issueCertificate,
  type KeyAndCert,
  MAX_COMMON_NAME,
} from '../render/x509.ts';
import { isConflict } from './kube.ts';
import { collectionPath, SECRETS } from './resources.ts';
import {
  ensembleSecret,
  getSecret,
  madeOnce,
  type SecretClient,
  type SecretLike,
  secretPath,
  secretText,
} from './secrets.ts';

export const CA_DAYS = 3650;
export const LEAF_DAYS = 365;
/** Keys of the CA Secret. */
export const CA_CERT_KEY = 'ca.crt';
export const CA_KEY_KEY = 'ca.key';

/** What the member certificate's Secret holds: key + certificate PEM, and the CA certificate. */
export interface StoredLeaf {
  combinedPem: string;
  caPem: string;
}

/** What the member certificate must be: valid for these names, issued by this CA. */
export interface WantedLeaf {
  dnsNames: readonly string[];
  caPem: string;
}

/**
 * Names every member's certificate covers, sorted: the voters' and each region's observers' pod
 * names under their headless Services, and the client Service, each short and fully qualified.
 */
export function quorumTlsDnsNames(e: ZkEnsemble, settings: OperatorSettings): string[] {
  const n = ensembleNames(e.metadata.name);
  const ns = namespaceOf(e);
  const services = [
    `*.${n.voterHeadless}`,
    ...e.spec.observers.regions.map((r) => `*.${n.observerHeadless(r.name)}`),
    n.client,
  ];
  const names = services.flatMap((s) => [`${s}.${ns}.svc`, `${s}.${ns}.svc.${clusterDomain(settings)}`]);
  return [...new Set(names)].sort();
}

/** Why the stored member certificate must be issued again, or null when it may stay. */
export function needsReissue(existing: StoredLeaf | null, wanted: WantedLeaf, now: Date): string | null {
  if (!existing) return 'no certificate yet';
  if (existing.caPem !== wanted.caPem) return `${TLS_CA_FILE} is not the CA's certificate`;
  let leaf: X509Certificate;
  try {
    leaf = firstCertificate(existing.combinedPem);
    if (!leaf.checkPrivateKey(createPrivateKey(existing.combinedPem)))
      return 'the key does not belong to the certificate';
  } catch (err) {
    return `unreadable ${TLS_KEYSTORE_FILE}: ${(err as Error).message}`;
  }
  const ca = new X509Certificate(wanted.caPem);
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return 'not issued by the CA';
  const want = [...new Set(wanted.dnsNames)].sort();
  const have = dnsNamesOf(leaf);
  if (want.join(',') !== have.join(',')) return `names changed: [${have}] -> [${want}]`;
  const from = leaf.validFromDate.getTime();
  const to = leaf.validToDate.getTime();
  if (now.getTime() < from) return 'not valid yet';
  if (to - now.getTime() < (to - from) / 3) return 'less than a third of its lifetime left';
  return null;
}

/** Changes whenever the member certificate does; the caller puts it on the pod template. */
export const leafFingerprint = (combinedPem: string) =>
  createHash('sha256').update(combinedPem).digest('hex');

const commonName = (e: ZkEnsemble, what: string) =>
  `${e.metadata.name}.${namespaceOf(e)} ${what}`.slice(-MAX_COMMON_NAME);

/** The ensemble's CA, made on first use. A Secret that is there but unusable is an error. */
function ensureCa(client: SecretClient, e: ZkEnsemble, now: Date): Promise<KeyAndCert> {
  const names = ensembleNames(e.metadata.name);
  const fromSecret = (s: SecretLike): KeyAndCert => {
    const certPem = secretText(s, CA_CERT_KEY);
    const keyPem = secretText(s, CA_KEY_KEY);
    const broken = (why: string) =>
      new Error(
        `Secret ${namespaceOf(e)}/${names.generatedQuorumCa} ${why}: delete it (and ${names.generatedQuorumTls}) to have a new CA made`,
      );
    if (!certPem || !keyPem) throw broken(`lacks ${CA_CERT_KEY} or ${CA_KEY_KEY}`);
    try {
      if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem)))
        throw new Error('the key does not belong to the certificate');
    } catch (err) {
      throw broken(`holds no usable CA (${(err as Error).message})`);
    }
    return { certPem, keyPem };
  };
  return madeOnce(
    client,
    e,
    names.generatedQuorumCa,
    () => {
      const ca = createCa(commonName(e, 'quorum CA'), now, CA_DAYS);
      return { [CA_CERT_KEY]: ca.certPem, [CA_KEY_KEY]: ca.keyPem };
    },
    fromSecret,
  );
}

/**
 * Makes sure the generated CA and member certificate exist and are current; null when the ensemble
 * does not ask for generated TLS. `reissued` says why the certificate was (re)written, if it was.
 */
export async function ensureGeneratedQuorumTls(
  client: SecretClient,
  e: ZkEnsemble,
  settings: OperatorSettings,
  now = new Date(),
): Promise<{ fingerprint: string; reissued?: string } | null> {
  if (!e.spec.security.quorumTLS?.generateCA) return null;
  const ca = await ensureCa(client, e, now);
  const ns = namespaceOf(e);
  const name = ensembleNames(e.metadata.name).generatedQuorumTls;
  const path = secretPath(e, name);
  const wanted: WantedLeaf = { dnsNames: quorumTlsDnsNames(e, settings), caPem: ca.certPem };
  const stored = (s: SecretLike | null): StoredLeaf | null => {
    const combinedPem = s && secretText(s, TLS_KEYSTORE_FILE);
    const caPem = s && secretText(s, TLS_CA_FILE);
    return combinedPem && caPem ? { combinedPem, caPem } : null;
  };
  // After a conflict: what another writer stored is fine if it needs nothing either.
  const readBack = async () => {
    const s = stored(await client.get<SecretLike>(path));
    const why = needsReissue(s, wanted, now);
    if (why) throw new Error(`Secret ${ns}/${name} changed while being written and ${why}; will retry`);
    return { fingerprint: leafFingerprint(s!.combinedPem) };
  };

  const existing = await getSecret(client, e, name);
  const current = stored(existing);
  const reason = needsReissue(current, wanted, now);
  if (!reason) return { fingerprint: leafFingerprint(current!.combinedPem) };

  const leaf = issueCertificate(ca, commonName(e, 'quorum member'), wanted.dnsNames, now, LEAF_DAYS);
  const combinedPem = leaf.keyPem + leaf.certPem;
  const body = ensembleSecret(e, name, { [TLS_KEYSTORE_FILE]: combinedPem, [TLS_CA_FILE]: ca.certPem });
  try {
    if (existing) {
      // PUT with the resourceVersion read: a concurrent writer makes this fail rather than be lost.
      await client.request('PUT', path, { ...existing, data: body.data });
    } else {
      await client.request('POST', collectionPath(SECRETS, ns), body);
    }
  } catch (err) {
    if (isConflict(err)) return readBack();
    throw err;
  }
  return { fingerprint: leafFingerprint(combinedPem), reissued: reason };
}
