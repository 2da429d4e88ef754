// The super user's password for one ensemble: random, made once, kept in a Secret the ensemble owns
// (deleted with it). Members only ever see its digest (zoo.cfg); the operator reads the Secret to
// authenticate when it reconfigures the ensemble.

import { randomBytes } from 'node:crypto';
import type { ZkEnsemble } from '../api/types.generated.ts';
import { objectMeta } from '../render/labels.ts';
import { ensembleNames } from '../render/names.ts';
import { isConflict, isNotFound, type KubeClient, type KubeObj } from './kube.ts';
import { collectionPath, objectPath, SECRETS } from './resources.ts';

export const PASSWORD_KEY = 'super-password';

interface SecretLike extends KubeObj {
  data?: Record<string, string>;
}

/** The password, creating the Secret on first use. */
export async function ensureSuperPassword(client: KubeClient, e: ZkEnsemble): Promise<string> {
  const ns = e.metadata.namespace!;
  const name = ensembleNames(e.metadata.name).operatorCredentials;
  const read = async () => {
    const s = await client.get<SecretLike>(objectPath(SECRETS, ns, name));
    const b64 = s.data?.[PASSWORD_KEY];
    if (!b64)
      throw new Error(`Secret ${ns}/${name} has no ${PASSWORD_KEY}: delete it to have a new one made`);
    return Buffer.from(b64, 'base64').toString('utf8');
  };
  try {
    return await read();
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const password = randomBytes(24).toString('base64url');
  try {
    await client.request('POST', collectionPath(SECRETS, ns), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: objectMeta(e, name, 'config'),
      type: 'Opaque',
      data: { [PASSWORD_KEY]: Buffer.from(password).toString('base64') },
    });
    return password;
  } catch (err) {
    if (isConflict(err)) return read(); // another reconcile made it first
    throw err;
  }
}
