// X.509 certificates for quorum TLS, built here because node:crypto signs but does not build
// certificates: a self-signed CA and certificates it issues, ECDSA P-256 with SHA-256 (RFC 5280,
// RFC 5758). Keys and certificates are PEM text (keys PKCS#8), as Secrets and the peer hold them.

import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import {
  bitString,
  boolean,
  contentOf,
  type Der,
  elements,
  explicit,
  ia5String,
  implicitPrimitive,
  namedBits,
  octetString,
  oid,
  sequence,
  set,
  time,
  unsignedInteger,
  utf8String,
} from './x509-der.ts';

/** A private key and its certificate, both PEM. */
export interface KeyAndCert {
  keyPem: string;
  certPem: string;
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** keyUsage bits (RFC 5280 4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

const DAY_MS = 86_400_000;
/** Certificates start a little in the past, so members whose clocks lag accept a new one at once. */
const BACKDATE_MS = 5 * 60_000;

const extension = (id: string, critical: boolean, value: Der) =>
  sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));

/** ub-common-name (RFC 5280 appendix A). */
export const MAX_COMMON_NAME = 64;

function name(commonName: string): Der {
  if (commonName.length > MAX_COMMON_NAME)
    throw new RangeError(`common name longer than ${MAX_COMMON_NAME} characters: ${commonName}`);
  return sequence(
    set(sequence(oid(OID.organization), utf8String('zkensemble'))),
    set(sequence(oid(OID.commonName), utf8String(commonName))),
  );
}

const newKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const bits = contentOf(elements(spki)[1]!).subarray(1); // past the unused-bits byte
  return createHash('sha1').update(bits).digest();
}

interface Issuer {
  /** The issuer's subject Name, encoded exactly as in its certificate. */
  name: Der;
  key: KeyObject;
  keyId: Buffer;
}

interface Subject {
  commonName: string;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Der[];
}

function certificate(s: Subject, signer: Issuer): string {
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // positive, at most 16 bytes with its sign (RFC 5280 allows 20)
  serial[0]! |= 0x40; // and never shorter, whatever the random bytes
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256));
  const tbs = sequence(
    explicit(0, unsignedInteger(2)), // v3
    unsignedInteger(serial),
    signatureAlgorithm,
    signer.name,
    sequence(time(s.notBefore), time(s.notAfter)),
    name(s.commonName),
    Buffer.from(s.publicKey.export({ type: 'spki', format: 'der' })),
    explicit(
      3,
      sequence(
        ...s.extensions,
        extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(s.publicKey))),
        extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, signer.keyId))),
      ),
    ),
  );
  const signature = sign('sha256', tbs, { key: signer.key, dsaEncoding: 'der' });
  return pem('CERTIFICATE', sequence(tbs, signatureAlgorithm, bitString(signature)));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function validity(now: Date, days: number) {
  const notBefore = new Date(Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * DAY_MS) };
}

/** A self-signed CA that may sign certificates (and CRLs), nothing else. */
export function createCa(commonName: string, now: Date, days: number): KeyAndCert {
  const { privateKey, publicKey } = newKey();
  const certPem = certificate(
    {
      commonName,
      publicKey,
      ...validity(now, days),
      extensions: [
        extension(OID.basicConstraints, true, sequence(boolean(true))),
        extension(OID.keyUsage, true, namedBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      ],
    },
    { name: name(commonName), key: privateKey, keyId: keyIdentifier(publicKey) },
  );
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certPem };
}

/**
 * A certificate for TLS servers and clients alike (mutual TLS between members), valid for dnsNames,
 * with a new key, signed by the CA.
 */
export function issueCertificate(
  ca: KeyAndCert,
  commonName: string,
  dnsNames: readonly string[],
  now: Date,
  days: number,
): KeyAndCert {
  if (dnsNames.length === 0) throw new Error('a certificate needs at least one DNS name');
  const caCert = new X509Certificate(ca.certPem);
  const caKey = createPrivateKey(ca.keyPem);
  if (!caCert.checkPrivateKey(caKey)) throw new Error('the CA key does not belong to the CA certificate');
  const tbsFields = elements(elements(caCert.raw)[0]!);
  const { privateKey, publicKey } = newKey();
  const certPem = certificate(
    {
      commonName,
      publicKey,
      ...validity(now, days),
      extensions: [
        extension(OID.basicConstraints, true, sequence()),
        extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature])),
        extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
        extension(
          OID.subjectAltName,
          false,
          sequence(...dnsNames.map((n) => implicitPrimitive(2, contentOf(ia5String(n))))),
        ),
      ],
    },
    // TBSCertificate: version, serial, signature, issuer, validity, subject, ...
    { name: tbsFields[5]!, key: caKey, keyId: keyIdentifier(caCert.publicKey) },
  );
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certPem };
}

/** The DNS names of a certificate's subjectAltName, sorted. */
export function dnsNamesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4))
    .sort();
}

/** The first certificate in a PEM text (a combined key + chain file holds the key first). */
export function firstCertificate(pemText: string): X509Certificate {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pemText);
  if (!m) throw new Error('no certificate in the PEM text');
  return new X509Certificate(m[0]);
}
