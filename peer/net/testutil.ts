// Tests only: quorum TLS key stores in a fresh directory, as `sslQuorum` reads them (key and
// certificate in one PEM file, the CA certificate in another): members signed by one CA, outsiders
// self-signed.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueCert } from '../../e2e/lib/pki.ts';
import { type LearnerSecurity, learnerSecurityFromConfig } from './learner-guard.ts';

export interface QuorumPki {
  /** `ssl.quorum.keyStore.location` of the member (or outsider) `name`. */
  keyStore(name: string): string;
  /** `ssl.quorum.trustStore.location`: the CA's certificate. */
  readonly trustStore: string;
  /** The security settings of `name`, read from those zoo.cfg keys. */
  security(name: string): LearnerSecurity;
  remove(): void;
}

export async function quorumPki(members: string[], outsiders: string[] = []): Promise<QuorumPki> {
  const dir = mkdtempSync(join(tmpdir(), 'zke-quorum-pki-'));
  const ca = await createCa(dir, 'ca', 'zkensemble-test-ca');
  const pem = (file: string) => readFileSync(join(dir, file));
  const keyStore = (name: string) => join(dir, `${name}.pem`);
  await Promise.all(
    [...members, ...outsiders].map(async (name) => {
      const issued = await issueCert(dir, name, {
        subject: `/CN=${name}`,
        ext: 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        ca: members.includes(name) ? ca : null,
      });
      writeFileSync(keyStore(name), Buffer.concat([pem(issued.key), pem(issued.cert)]));
    }),
  );
  const trustStore = join(dir, ca.cert);
  return {
    keyStore,
    trustStore,
    security: (name) =>
      learnerSecurityFromConfig(
        new Map([
          ['sslQuorum', 'true'],
          ['ssl.quorum.keyStore.location', keyStore(name)],
          ['ssl.quorum.trustStore.location', trustStore],
        ]),
      ),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
