// Throw-away certificates for tests, made with openssl in a directory of the caller's: a CA, and keys
// with certificates signed by it or by themselves. EC P-256 keys: fast to generate, accepted for TLS
// and for Kubernetes service-account token signing (ES256).

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Files of a key and its certificate (PEM), relative to the PKI directory. */
export interface Issued {
  key: string;
  cert: string;
}

export interface CertOptions {
  /** Distinguished name, e.g. `/O=system:masters/CN=admin`. */
  subject: string;
  /** openssl x509v3 extension lines (subjectAltName, keyUsage, ...). */
  ext: string;
  /** The signing CA; null signs the certificate with its own key. */
  ca: Issued | null;
  days?: number;
}

function openssl(dir: string, args: string[]): Promise<unknown> {
  return execFileP('openssl', args, { cwd: dir });
}

/** A CA certificate `${name}.crt` with key `${name}.key`. */
export async function createCa(dir: string, name: string, cn: string, days = 2): Promise<Issued> {
  writeFileSync(
    join(dir, `${name}.cnf`),
    `[req]\ndistinguished_name=dn\nprompt=no\nx509_extensions=v3_ca\n[dn]\nCN=${cn}\n` +
      '[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n' +
      'subjectKeyIdentifier=hash\n',
  );
  const ca = { key: `${name}.key`, cert: `${name}.crt` };
  await openssl(dir, [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
    '-days',
    String(days),
    '-config',
    `${name}.cnf`,
  ]);
  return ca;
}

/** A key `${name}.key` and certificate `${name}.crt`; calls for different names may run in parallel. */
export async function issueCert(dir: string, name: string, o: CertOptions): Promise<Issued> {
  writeFileSync(join(dir, `${name}.ext`), o.ext.endsWith('\n') ? o.ext : `${o.ext}\n`);
  const issued = { key: `${name}.key`, cert: `${name}.crt` };
  await openssl(dir, [
    'req',
    '-new',
    ...EC_KEY,
    '-keyout',
    issued.key,
    '-out',
    `${name}.csr`,
    '-subj',
    o.subject,
  ]);
  const signer = o.ca
    ? // Not -CAcreateserial: a serial file shared by parallel signings races.
      ['-CA', o.ca.cert, '-CAkey', o.ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`]
    : ['-signkey', issued.key];
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    ...signer,
    '-days',
    String(o.days ?? 2),
    '-out',
    issued.cert,
    '-extfile',
    `${name}.ext`,
  ]);
  return issued;
}

/** A bare key pair: private key `${name}.key`, public key `${name}.pub`. */
export async function createKeyPair(dir: string, name: string): Promise<{ key: string; pub: string }> {
  const pair = { key: `${name}.key`, pub: `${name}.pub` };
  await openssl(dir, [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-out',
    pair.key,
  ]);
  await openssl(dir, ['pkey', '-in', pair.key, '-pubout', '-out', pair.pub]);
  return pair;
}
