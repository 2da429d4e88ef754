import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createCa, dnsNamesOf, firstCertificate, issueCertificate } from './x509.ts';
import {
  contentOf,
  elements,
  namedBits,
  oid,
  sequence,
  time,
  unsignedInteger,
  utf8String,
} from './x509-der.ts';

const execFileP = promisify(execFile);
const hex = (b: Buffer) => b.toString('hex');

describe('DER encoding', () => {
  test('OBJECT IDENTIFIERs: first two arcs in one byte, large arcs in base 128', () => {
    assert.equal(hex(oid('2.5.29.17')), '0603551d11');
    assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
    assert.equal(hex(oid('1.3.6.1.5.5.7.3.1')), '06082b06010505070301');
  });

  test('INTEGERs are minimal and never read as negative', () => {
    assert.equal(hex(unsignedInteger(2)), '020102');
    assert.equal(hex(unsignedInteger(0)), '020100');
    assert.equal(hex(unsignedInteger(128)), '02020080');
    assert.equal(hex(unsignedInteger(Buffer.from([0, 0, 0x7f]))), '02017f');
    assert.equal(hex(unsignedInteger(Buffer.from([0xff, 1]))), '020300ff01');
  });

  test('lengths of 128 bytes and more take the long form', () => {
    assert.equal(hex(utf8String('a'.repeat(127)).subarray(0, 2)), '0c7f');
    assert.equal(hex(utf8String('a'.repeat(128)).subarray(0, 3)), '0c8180');
    assert.equal(hex(utf8String('a'.repeat(300)).subarray(0, 4)), '0c82012c');
  });

  test('named bit strings drop trailing zero bits and count them', () => {
    assert.equal(hex(namedBits([0])), '03020780'); // digitalSignature
    assert.equal(hex(namedBits([5, 6])), '03020106'); // keyCertSign, cRLSign
    assert.equal(hex(namedBits([0, 8])), '0303078080');
  });

  test('times: UTCTime before 2050, GeneralizedTime from then on', () => {
    assert.equal(contentOf(time(new Date('2026-03-04T05:06:07.890Z'))).toString(), '260304050607Z');
    assert.equal(hex(time(new Date('2026-03-04T05:06:07Z')).subarray(0, 1)), '17');
    assert.equal(contentOf(time(new Date('2051-01-01T00:00:00Z'))).toString(), '20510101000000Z');
    assert.equal(hex(time(new Date('2051-01-01T00:00:00Z')).subarray(0, 1)), '18');
  });

  test('elements splits a SEQUENCE into its encoded fields', () => {
    const a = unsignedInteger(300);
    const b = utf8String('x'.repeat(200));
    const parts = elements(sequence(a, b));
    assert.deepEqual(parts, [a, b]);
    assert.throws(() => elements(sequence(a).subarray(0, 3)), /truncated/);
  });
});

describe('certificates', () => {
  const now = new Date('2026-01-15T12:00:00Z');
  const ca = createCa('zk.prod quorum CA', now, 3650);
  const names = ['*.zk-voters.prod.svc', '*.zk-voters.prod.svc.cluster.local', 'zk-client.prod.svc'];
  const leaf = issueCertificate(ca, 'zk.prod quorum member', names, now, 365);
  /** openssl verifies at the certificates' time, not the clock's. */
  const attime = String(now.getTime() / 1000 + 86_400);
  const dir = mkdtempSync(join(tmpdir(), 'zke-x509-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the CA is a self-signed CA certificate for signing certificates, valid 10 years', () => {
    const c = new X509Certificate(ca.certPem);
    assert.equal(c.ca, true);
    assert.ok(c.checkIssued(c) && c.verify(c.publicKey), 'self-signed');
    assert.ok(c.checkPrivateKey(createPrivateKey(ca.keyPem)));
    assert.equal(c.validToDate.getTime() - c.validFromDate.getTime(), 3650 * 86_400_000);
    assert.ok(c.validFromDate < now, 'starts before it is made');
    assert.match(c.subject, /CN=zk\.prod quorum CA/);
  });

  test('the member certificate chains to the CA, with its names, key and usages', () => {
    const c = new X509Certificate(leaf.certPem);
    const cac = new X509Certificate(ca.certPem);
    assert.equal(c.ca, false);
    assert.ok(c.checkIssued(cac));
    assert.ok(c.verify(cac.publicKey));
    assert.ok(!c.verify(new X509Certificate(createCa('other', now, 1).certPem).publicKey));
    assert.ok(c.checkPrivateKey(createPrivateKey(leaf.keyPem)));
    assert.deepEqual(dnsNamesOf(c), [...names].sort());
    assert.deepEqual(c.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // extended: server, client
    assert.equal(c.issuer, cac.subject);
    assert.equal(c.validToDate.getTime() - c.validFromDate.getTime(), 365 * 86_400_000);
    assert.equal(c.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(firstCertificate(leaf.keyPem + leaf.certPem).fingerprint256, c.fingerprint256);
  });

  test('openssl reads both and verifies the member certificate strictly, for servers and clients', async () => {
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'leaf.crt'), leaf.certPem);
    const caText = (await execFileP('openssl', ['x509', '-in', 'ca.crt', '-noout', '-text'], { cwd: dir }))
      .stdout;
    assert.match(caText, /Basic Constraints: critical\s+CA:TRUE/);
    assert.match(caText, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(caText, /Subject Key Identifier/);
    const text = (await execFileP('openssl', ['x509', '-in', 'leaf.crt', '-noout', '-text'], { cwd: dir }))
      .stdout;
    assert.match(text, /Version: 3/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /DNS:\*\.zk-voters\.prod\.svc, DNS:\*\.zk-voters\.prod\.svc\.cluster\.local/);
    assert.match(text, /Authority Key Identifier/);
    for (const purpose of ['sslserver', 'sslclient']) {
      const v = await execFileP(
        'openssl',
        ['verify', '-x509_strict', '-purpose', purpose, '-attime', attime, '-CAfile', 'ca.crt', 'leaf.crt'],
        { cwd: dir },
      );
      assert.equal(v.stdout.trim(), 'leaf.crt: OK');
    }
    // Against another CA it does not verify.
    writeFileSync(join(dir, 'other.crt'), createCa('other', now, 1).certPem);
    await assert.rejects(
      execFileP('openssl', ['verify', '-attime', attime, '-CAfile', 'other.crt', 'leaf.crt'], { cwd: dir }),
      /unable to get local issuer certificate/,
    );
  });

  test('names are checked: no empty name list, no common name over 64 characters', () => {
    assert.throws(() => issueCertificate(ca, 'x', [], now, 1), /at least one DNS name/);
    assert.throws(() => createCa('x'.repeat(65), now, 1), /longer than 64/);
  });

  test('a CA key that does not match its certificate is refused', () => {
    const other = createCa('other', now, 1);
    assert.throws(
      () => issueCertificate({ certPem: ca.certPem, keyPem: other.keyPem }, 'x', ['a.b'], now, 1),
      /does not belong/,
    );
  });
});
