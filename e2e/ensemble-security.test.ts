// Learner admission end to end: ensembles whose leader accepts learners only with a certificate
// from the quorum CA, only from allowed addresses, or only with the shared secret. A member that
// fails the check never syncs or serves, and the leader logs the refusal.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Ensemble, startEnsemble } from './lib/ensemble.ts';
import { createCa, issueCert } from './lib/pki.ts';

/** The refused member never serves, and the leader says why. */
async function assertRefused(e: Ensemble, outsider: number, reason: RegExp): Promise<void> {
  const leader = await e.waitFormed(30_000, [1, 2, 3]);
  const deadline = Date.now() + 4000;
  const proc = e.members.get(outsider)!.process!;
  while (Date.now() < deadline) {
    // Not serving only counts if the member is up and trying.
    assert.ok(proc.exitCode === null && proc.signalCode === null, `member ${outsider} is still running`);
    assert.equal(await e.mode(outsider), null, `member ${outsider} must not serve`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const refusals = e.members
    .get(leader)!
    .output.split('\n')
    .filter((l) => l.includes('learner connection refused'));
  assert.ok(refusals.length > 0, 'the leader logged the refusal');
  assert.match(refusals.join('\n'), reason);
  // The refused member retries with exponential backoff, not in a tight loop.
  assert.ok(refusals.length <= 12, `${refusals.length} attempts in a few seconds is no backoff`);
  assert.match(e.members.get(outsider)!.output, /retrying after a pause/);
}

describe('quorum TLS with client certificates', () => {
  let dir: string;
  let e: Ensemble;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zke-sec-tls-'));
    const ca = await createCa(dir, 'ca', 'test-quorum-ca');
    const pem = (file: string) => readFileSync(join(dir, file));
    await Promise.all(
      [1, 2, 3, 4].map(async (sid) => {
        const m = await issueCert(dir, `m${sid}`, {
          subject: `/CN=member-${sid}`,
          ext: 'subjectAltName=IP:127.0.0.1,DNS:localhost',
          ca: sid === 4 ? null : ca, // the outsider signs its own certificate
        });
        // The key store: key and certificate in one PEM file.
        writeFileSync(join(dir, `m${sid}.pem`), Buffer.concat([pem(m.key), pem(m.cert)]));
      }),
    );
    e = await startEnsemble({
      voters: 3,
      observers: 1,
      config: { sslQuorum: 'true', 'ssl.quorum.trustStore.location': join(dir, ca.cert) },
      extraFor: (sid) => ({ 'ssl.quorum.keyStore.location': join(dir, `m${sid}.pem`) }),
    });
  });
  after(async () => {
    await e?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('members with CA-signed certificates form the ensemble; a self-signed observer is refused', async () => {
    await assertRefused(e, 4, /TLS|certificate/i);
  });
});

describe('learner allow-list', () => {
  let e: Ensemble;
  before(async () => {
    e = await startEnsemble({
      voters: 3,
      observers: 1,
      hostFor: (sid) => `127.0.0.${sid === 4 ? 9 : sid}`,
      config: { 'learner.allowList': '127.0.0.1/32,127.0.0.2/32,127.0.0.3/32' },
    });
  });
  after(() => e.close());

  test('the voters (listed addresses) form; an observer from another address is refused', async () => {
    await assertRefused(e, 4, /allowList/);
  });
});

describe('shared secret', () => {
  let dir: string;
  let e: Ensemble;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zke-sec-secret-'));
    writeFileSync(join(dir, 'good'), 'the ensemble secret, long enough\n');
    writeFileSync(join(dir, 'bad'), 'some other secret, also long enough\n');
    e = await startEnsemble({
      voters: 3,
      observers: 1,
      extraFor: (sid) => ({ 'learner.sharedSecretFile': join(dir, sid === 4 ? 'bad' : 'good') }),
    });
  });
  after(async () => {
    await e?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('members that know the secret form; one with a different secret is refused', async () => {
    await assertRefused(e, 4, /wrong shared secret/);
  });
});
