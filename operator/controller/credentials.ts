// The super user's password for one ensemble: random, made once, kept in a Secret the ensemble owns
// (deleted with it). Members only ever see its digest (zoo.cfg); the operator reads the Secret to
// authenticate when it reconfigures the ensemble.

import { randomBytes } from 'node:crypto';
import type { ZkEnsemble } from '../api/types.generated.ts';
import { ensembleNames } from '../render/names.ts';
import { madeOnce, type SecretClient, secretText } from './secrets.ts';

export const PASSWORD_KEY = 'super-password';

/** The password, creating the Secret on first use. */
export function ensureSuperPassword(client: SecretClient, e: ZkEnsemble): Promise<string> {
  const name = ensembleNames(e.metadata.name).operatorCredentials;
  return madeOnce(
    client,
    e,
    name,
    () => ({ [PASSWORD_KEY]: randomBytes(24).toString('base64url') }),
    (s) => {
      const password = secretText(s, PASSWORD_KEY);
      if (!password)
        throw new Error(
          `Secret ${e.metadata.namespace}/${name} has no ${PASSWORD_KEY}: delete it to have a new one made`,
        );
      return password;
    },
  );
}
