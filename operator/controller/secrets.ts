// Secrets the operator makes itself for an ensemble (the super user's password, the generated quorum
// CA and certificate): owned by the ensemble, so deleted with it. Values are text here; base64 is
// only the API's encoding.

import type { ZkEnsemble } from '../api/types.generated.ts';
import { namespaceOf, objectMeta } from '../render/labels.ts';
import { isConflict, isNotFound, type KubeClient, type KubeObj } from './kube.ts';
import { collectionPath, objectPath, SECRETS } from './resources.ts';

export interface SecretLike extends KubeObj {
  data?: Record<string, string>;
}

export type SecretClient = Pick<KubeClient, 'get' | 'request'>;

/** The decoded value of one key, or undefined when the Secret lacks it. */
export function secretText(s: SecretLike, key: string): string | undefined {
  const v = s.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/** A Secret of the ensemble holding `data` (text values). */
export function ensembleSecret(e: ZkEnsemble, name: string, data: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: objectMeta(e, name, 'config'),
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

export const secretPath = (e: ZkEnsemble, name: string) => objectPath(SECRETS, namespaceOf(e), name);

/** The ensemble's Secret `name`, or null when there is none. */
export async function getSecret(
  client: SecretClient,
  e: ZkEnsemble,
  name: string,
): Promise<SecretLike | null> {
  try {
    return await client.get<SecretLike>(secretPath(e, name));
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * A Secret made once: what `read` takes from the ensemble's Secret `name`, which is created with
 * make()'s data when there is none. When another reconcile creates it first, its Secret is read.
 * `read` throws for a Secret that is there but unusable (it is never replaced here).
 */
export async function madeOnce<T>(
  client: SecretClient,
  e: ZkEnsemble,
  name: string,
  make: () => Record<string, string>,
  read: (s: SecretLike) => T,
): Promise<T> {
  const existing = await getSecret(client, e, name);
  if (existing) return read(existing);
  const body = ensembleSecret(e, name, make());
  try {
    await client.request('POST', collectionPath(SECRETS, namespaceOf(e)), body);
  } catch (err) {
    if (isConflict(err)) return read(await client.get<SecretLike>(secretPath(e, name)));
    throw err;
  }
  return read(body);
}
