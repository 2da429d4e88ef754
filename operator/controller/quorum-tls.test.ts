import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import tls from 'node:tls';
import {
  clientTlsOptions,
  learnerSecurityFromConfig,
  type QuorumTls,
  serverTlsOptions,
} from '../../peer/net/learner-guard.ts';
import type { ZkEnsembleSpecInput } from '../api/types.generated.ts';
import { ensemble, SETTINGS } from '../render/testutil.ts';
import { createCa, dnsNamesOf, firstCertificate, issueCertificate } from '../render/x509.ts';
import {
  CA_CERT_KEY,
  CA_KEY_KEY,
  ensureGeneratedQuorumTls,
  LEAF_DAYS,
  leafFingerprint,
  needsReissue,
  quorumTlsDnsNames,
  type StoredLeaf,
} from './quorum-tls.ts';
import { FakeSecrets } from './testutil.ts';

const DAY = 86_400_000;
const NOW = new Date('2026-02-01T00:00:00Z');
const later = (days: number) => new Date(NOW.getTime() + days * DAY);

const generated = (regions: string[], name = 'zk') =>
  ensemble(
    {
      observers: { regions: regions.map((r) => ({ name: r, replicas: 1 })) },
      security: { quorumTLS: { generateCA: true } },
    } as ZkEnsembleSpecInput,
    name,
  );

describe('names the member certificate covers', () => {
  test('voters, every region, the client Service; short and fully qualified', () => {
    assert.deepEqual(quorumTlsDnsNames(generated(['east', 'west']), SETTINGS), [
      '*.zk-observers-east.prod.svc',
      '*.zk-observers-east.prod.svc.cluster.local',
      '*.zk-observers-west.prod.svc',
      '*.zk-observers-west.prod.svc.cluster.local',
      '*.zk-voters.prod.svc',
      '*.zk-voters.prod.svc.cluster.local',
      'zk-client.prod.svc',
      'zk-client.prod.svc.cluster.local',
    ]);
  });

  test('the cluster domain comes from the operator settings', () => {
    const names = quorumTlsDnsNames(generated([]), { ...SETTINGS, clusterDomain: 'k8s.example' });
    assert.deepEqual(names, [
      '*.zk-voters.prod.svc',
      '*.zk-voters.prod.svc.k8s.example',
      'zk-client.prod.svc',
      'zk-client.prod.svc.k8s.example',
    ]);
  });
});

describe('needsReissue', () => {
  const ca = createCa('ca', NOW, 3650);
  const names = ['*.zk-voters.prod.svc', 'zk-client.prod.svc'];
  const leaf = issueCertificate(ca, 'member', names, NOW, LEAF_DAYS);
  const stored: StoredLeaf = { combinedPem: leaf.keyPem + leaf.certPem, caPem: ca.certPem };
  const wanted = { dnsNames: names, caPem: ca.certPem };

  test('a fresh certificate for the same names from the same CA stays', () => {
    assert.equal(needsReissue(stored, wanted, NOW), null);
    assert.equal(needsReissue(stored, { ...wanted, dnsNames: [...names].reverse() }, NOW), null);
  });

  test('until a third of its lifetime is left', () => {
    assert.equal(needsReissue(stored, wanted, later(240)), null); // 125 days of 365 left
    assert.match(needsReissue(stored, wanted, later(250)) ?? '', /third of its lifetime/);
    assert.match(needsReissue(stored, wanted, later(400)) ?? '', /third of its lifetime/);
  });

  test('names added or removed', () => {
    const more = [...names, '*.zk-observers-east.prod.svc'];
    assert.match(needsReissue(stored, { ...wanted, dnsNames: more }, NOW) ?? '', /names changed/);
    assert.match(needsReissue(stored, { ...wanted, dnsNames: names.slice(1) }, NOW) ?? '', /names changed/);
  });

  test('another CA, a stale ca.crt, a foreign key, garbage, nothing', () => {
    const other = createCa('other', NOW, 3650);
    assert.match(needsReissue(stored, { ...wanted, caPem: other.certPem }, NOW) ?? '', /not the CA/);
    const fromOther = issueCertificate(other, 'member', names, NOW, LEAF_DAYS);
    assert.match(
      needsReissue({ ...stored, combinedPem: fromOther.keyPem + fromOther.certPem }, wanted, NOW) ?? '',
      /not issued by the CA/,
    );
    const foreignKey = createCa('x', NOW, 1).keyPem;
    assert.match(
      needsReissue({ ...stored, combinedPem: foreignKey + leaf.certPem }, wanted, NOW) ?? '',
      /key does not belong/,
    );
    assert.match(needsReissue({ ...stored, combinedPem: 'junk' }, wanted, NOW) ?? '', /unreadable/);
    assert.match(needsReissue(null, wanted, NOW) ?? '', /no certificate/);
  });

  test('a certificate from the future (the clock went back) is replaced', () => {
    assert.match(needsReissue(stored, wanted, later(-1)) ?? '', /not valid yet/);
  });
});

describe('ensureGeneratedQuorumTls with an in-memory API', () => {
  test('nothing without generateCA', async () => {
    const f = new FakeSecrets();
    assert.equal(await ensureGeneratedQuorumTls(f, ensemble({}), SETTINGS, NOW), null);
    assert.equal(f.writes.length, 0);
  });

  test('creates the CA and the member Secret once, owned by the ensemble', async () => {
    const f = new FakeSecrets();
    const e = generated(['east']);
    const first = await ensureGeneratedQuorumTls(f, e, SETTINGS, NOW);
    assert.equal(first?.reissued, 'no certificate yet');
    assert.deepEqual(f.writes, [
      'POST /api/v1/namespaces/prod/secrets/zk-quorum-ca',
      'POST /api/v1/namespaces/prod/secrets/zk-quorum-tls',
    ]);
    for (const o of f.objects.values()) {
      assert.equal(o.metadata.ownerReferences?.[0]?.kind, 'ZkEnsemble');
      assert.equal(o.metadata.ownerReferences?.[0]?.uid, e.metadata.uid);
    }
    const ca = f.data('zk-quorum-ca');
    assert.deepEqual(Object.keys(ca).sort(), [CA_CERT_KEY, CA_KEY_KEY]);
    const tlsData = f.data('zk-quorum-tls');
    assert.deepEqual(Object.keys(tlsData).sort(), ['ca.crt', 'tls-combined.pem']);
    assert.equal(tlsData['ca.crt'], ca[CA_CERT_KEY]);
    assert.ok(!tlsData['tls-combined.pem']!.includes(ca[CA_KEY_KEY]!), 'no CA key in the pods’ Secret');
    assert.equal(first?.fingerprint, leafFingerprint(tlsData['tls-combined.pem']!));
    const leaf = firstCertificate(tlsData['tls-combined.pem']!);
    assert.deepEqual(dnsNamesOf(leaf), quorumTlsDnsNames(e, SETTINGS));

    const again = await ensureGeneratedQuorumTls(f, e, SETTINGS, later(10));
    assert.deepEqual(again, { fingerprint: first?.fingerprint });
    assert.equal(f.writes.length, 2, 'nothing written when nothing changed');
  });

  test('a new region re-issues the member certificate under the same CA', async () => {
    const f = new FakeSecrets();
    const before = await ensureGeneratedQuorumTls(f, generated(['east']), SETTINGS, NOW);
    const caBefore = f.data('zk-quorum-ca')[CA_CERT_KEY];
    const e = generated(['east', 'west']);
    const after = await ensureGeneratedQuorumTls(f, e, SETTINGS, NOW);
    assert.match(after?.reissued ?? '', /names changed/);
    assert.notEqual(after?.fingerprint, before?.fingerprint);
    assert.equal(f.writes.at(-1), 'PUT /api/v1/namespaces/prod/secrets/zk-quorum-tls');
    assert.equal(f.data('zk-quorum-ca')[CA_CERT_KEY], caBefore);
    const leaf = firstCertificate(f.data('zk-quorum-tls')['tls-combined.pem']!);
    assert.ok(dnsNamesOf(leaf).includes('*.zk-observers-west.prod.svc'));
    assert.ok(leaf.checkIssued(new X509Certificate(caBefore!)));
  });

  test('renews when a third of the lifetime is left', async () => {
    const f = new FakeSecrets();
    const e = generated([]);
    const before = await ensureGeneratedQuorumTls(f, e, SETTINGS, NOW);
    const renewed = await ensureGeneratedQuorumTls(f, e, SETTINGS, later(250));
    assert.match(renewed?.reissued ?? '', /third/);
    assert.notEqual(renewed?.fingerprint, before?.fingerprint);
    const leaf = firstCertificate(f.data('zk-quorum-tls')['tls-combined.pem']!);
    assert.ok(leaf.validToDate > later(250 + 364));
  });

  test('a deleted member Secret is made again from the same CA', async () => {
    const f = new FakeSecrets();
    const e = generated(['east']);
    await ensureGeneratedQuorumTls(f, e, SETTINGS, NOW);
    const ca = f.data('zk-quorum-ca')[CA_CERT_KEY];
    f.delete('zk-quorum-tls');
    const again = await ensureGeneratedQuorumTls(f, e, SETTINGS, NOW);
    assert.equal(again?.reissued, 'no certificate yet');
    assert.equal(f.data('zk-quorum-tls')['ca.crt'], ca);
    assert.equal(f.writes.at(-1), 'POST /api/v1/namespaces/prod/secrets/zk-quorum-tls');
  });

  test('a broken CA Secret is an error that says what to do, not a silent new CA', async () => {
    const f = new FakeSecrets();
    const e = generated([]);
    await ensureGeneratedQuorumTls(f, e, SETTINGS, NOW);
    const path = '/api/v1/namespaces/prod/secrets/zk-quorum-ca';
    const s = f.objects.get(path)!;
    (s.data as Record<string, string>)[CA_KEY_KEY] = Buffer.from(createCa('x', NOW, 1).keyPem).toString(
      'base64',
    );
    await assert.rejects(ensureGeneratedQuorumTls(f, e, SETTINGS, NOW), /delete it/);
  });

  test('a concurrent writer: a conflict reads back what it wrote', async () => {
    const f = new FakeSecrets();
    const e = generated([]);
    await ensureGeneratedQuorumTls(f, e, SETTINGS, NOW);
    const ca = f.data('zk-quorum-ca');
    const wanted = quorumTlsDnsNames(e, SETTINGS);
    // Someone else renews first, between our read and our write.
    const theirs = issueCertificate(
      { certPem: ca[CA_CERT_KEY]!, keyPem: ca[CA_KEY_KEY]! },
      'member',
      wanted,
      later(250),
      LEAF_DAYS,
    );
    const theirPem = theirs.keyPem + theirs.certPem;
    f.beforeWrite = () => {
      f.beforeWrite = undefined;
      const path = '/api/v1/namespaces/prod/secrets/zk-quorum-tls';
      const o = f.objects.get(path)!;
      (o.data as Record<string, string>)['tls-combined.pem'] = Buffer.from(theirPem).toString('base64');
      o.metadata.resourceVersion = `${o.metadata.resourceVersion}-theirs`;
    };
    const result = await ensureGeneratedQuorumTls(f, e, SETTINGS, later(250));
    assert.deepEqual(result, { fingerprint: leafFingerprint(theirPem) });
  });
});

describe('the generated material in the peer', () => {
  const e = generated(['east']);
  const f = new FakeSecrets();
  const dir = mkdtempSync(join(tmpdir(), 'zke-quorum-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** What a member loads from the mounted Secret, through the peer's own loader. */
  function memberTls(files: Record<string, string>, sub: string): QuorumTls {
    for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, `${sub}-${k}`), v);
    const sec = learnerSecurityFromConfig(
      new Map([
        ['sslQuorum', 'true'],
        ['ssl.quorum.keyStore.location', join(dir, `${sub}-tls-combined.pem`)],
        ['ssl.quorum.trustStore.location', join(dir, `${sub}-ca.crt`)],
      ]),
    );
    assert.ok(sec.tls);
    return sec.tls;
  }

  /** A mutual-TLS handshake on loopback; resolves with whether the server accepted the client. */
  function handshake(server: QuorumTls, client: QuorumTls, servername: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const srv = tls.createServer(serverTlsOptions(server), (s) => {
        s.end();
      });
      let accepted = false;
      srv.on('secureConnection', (s) => {
        accepted = s.authorized;
      });
      srv.on('tlsClientError', () => {});
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        const c = tls.connect({ ...clientTlsOptions(client), host: '127.0.0.1', port, servername });
        const done = (err?: Error) => {
          c.destroy();
          srv.close();
          if (err) reject(err);
          else resolve(accepted);
        };
        c.on('secureConnect', () => c.on('end', () => done()).resume());
        c.on('error', done);
      });
    });
  }

  test('members accept each other under their DNS names, and nothing outside them', async () => {
    await ensureGeneratedQuorumTls(f, e, SETTINGS, new Date());
    const files = f.data('zk-quorum-tls');
    const a = memberTls(files, 'a');
    assert.equal(await handshake(a, a, 'zk-voter-0.zk-voters.prod.svc'), true);
    assert.equal(await handshake(a, a, 'zk-voter-2.zk-voters.prod.svc.cluster.local'), true);
    assert.equal(await handshake(a, a, 'x.zk-observers-east.prod.svc.cluster.local'), true);
    await assert.rejects(handshake(a, a, 'zk-voter-0.zk-voters.other.svc'), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    await assert.rejects(handshake(a, a, 'a.b.zk-voters.prod.svc'), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  test("a member with another CA's certificate is refused both ways", async () => {
    const a = memberTls(f.data('zk-quorum-tls'), 'a');
    const other = new FakeSecrets();
    await ensureGeneratedQuorumTls(other, e, SETTINGS, new Date());
    const b = memberTls(other.data('zk-quorum-tls'), 'b');
    // The server sends its CA along (OpenSSL completes the chain from its trust store).
    await assert.rejects(handshake(a, b, 'zk-voter-0.zk-voters.prod.svc'), {
      code: /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/,
    });
    // b trusting a's CA but presenting its own certificate: the server refuses the client (the
    // client sees an alert, or just the end of the connection).
    const bTrustingA = { ...b, ca: a.ca };
    const accepted = await handshake(a, bTrustingA, 'zk-voter-0.zk-voters.prod.svc').catch(() => false);
    assert.equal(accepted, false);
    // ...because of whom it trusts: a server that also trusts b's CA accepts the same client.
    const aTrustingBoth = { ...a, ca: Buffer.concat([a.ca, b.ca]) };
    assert.equal(await handshake(aTrustingBoth, bTrustingA, 'zk-voter-0.zk-voters.prod.svc'), true);
  });
});
