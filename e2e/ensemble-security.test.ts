// Member admission end to end: ensembles whose members accept each other only with a certificate
// from the quorum CA, only from allowed addresses, or (learners) only with the shared secret. Quorum
// TLS and the allow-list guard the election port as well as the quorum port, so a member that fails
// them cannot even vote or learn who leads; one without the shared secret is refused as a learner.
// Either way it never syncs or serves, and the members log and count the refusal.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseExposition, sampleValue } from '../peer/metrics/testutil.ts';
import { type QuorumPki, quorumPki } from '../peer/net/testutil.ts';
import { encodeInitialMessage } from '../peer/quorum/election-wire.ts';
import { type Ensemble, startEnsemble } from './lib/ensemble.ts';
import { until } from './lib/wait.ts';

/** Election-port refusals member sid has counted, by reason (its /metrics). */
async function electionRefusals(e: Ensemble, sid: number, reason: string): Promise<number> {
  const m = e.members.get(sid)!;
  const text = await (await fetch(`http://${m.host}:${m.adminPort}/metrics`)).text();
  return sampleValue(parseExposition(text), 'zkensemble_election_connections_refused_total', { reason }) ?? 0;
}

/** The refused member never serves, and the voters say why: on the election port. */
async function assertRefusedAtElection(e: Ensemble, outsider: number, reason: RegExp): Promise<number> {
  await e.waitFormed(30_000, [1, 2, 3]);
  await assertNeverServes(e, outsider);
  const refusals = [1, 2, 3].flatMap((sid) =>
    e.members
      .get(sid)!
      .output.split('\n')
      .filter((l) => l.includes('election connection refused')),
  );
  assert.ok(refusals.length > 0, 'the voters logged the refusal');
  assert.match(refusals.join('\n'), reason);
  // The outsider keeps trying, but not in a tight loop.
  assert.ok(refusals.length <= 60, `${refusals.length} attempts in a few seconds is a tight loop`);
  return refusals.length;
}

/** The member is up and trying, and does not serve, for a few seconds. */
async function assertNeverServes(e: Ensemble, outsider: number): Promise<void> {
  const deadline = Date.now() + 4000;
  const proc = e.members.get(outsider)!.process!;
  while (Date.now() < deadline) {
    // Not serving only counts if the member is up and trying.
    assert.ok(proc.exitCode === null && proc.signalCode === null, `member ${outsider} is still running`);
    assert.equal(await e.mode(outsider), null, `member ${outsider} must not serve`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The refused member never serves, and the leader says why: on the quorum (learner) port. */
async function assertRefused(e: Ensemble, outsider: number, reason: RegExp): Promise<void> {
  const leader = await e.waitFormed(30_000, [1, 2, 3]);
  await assertNeverServes(e, outsider);
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
  let pki: QuorumPki;
  let e: Ensemble;
  before(async () => {
    // The outsider, m4, signs its own certificate.
    pki = await quorumPki(['m1', 'm2', 'm3'], ['m4']);
    e = await startEnsemble({
      voters: 3,
      observers: 1,
      config: { sslQuorum: 'true', 'ssl.quorum.trustStore.location': pki.trustStore },
      extraFor: (sid) => ({ 'ssl.quorum.keyStore.location': pki.keyStore(`m${sid}`) }),
    });
  });
  after(async () => {
    await e?.close();
    pki.remove();
  });

  test('members with CA-signed certificates elect and form the ensemble; a self-signed observer is refused', async (t) => {
    const n = await assertRefusedAtElection(e, 4, /TLS|certificate/i);
    assert.ok((await electionRefusals(e, 1, 'tls_handshake')) > 0, 'member 1 counted the refusals');
    t.diagnostic(`election connections refused by the voters: ${n}`);
  });

  test('a plain-TCP connection to the election port is refused and counted', async () => {
    await e.stop(4); // the outsider's own attempts would be counted too
    const m1 = e.members.get(1)!;
    const before = await electionRefusals(e, 1, 'tls_handshake');
    // What a member without TLS would send: its initial message, then a notification would follow.
    const s = net.connect(m1.electionPort, m1.host);
    s.on('error', () => {});
    s.write(
      encodeInitialMessage(2, [{ host: e.members.get(2)!.host, port: e.members.get(2)!.electionPort }]),
    );
    const closed = await new Promise<boolean>((r) => {
      s.once('close', () => r(true));
      setTimeout(() => r(false), 5000);
    });
    s.destroy();
    assert.ok(closed, 'member 1 closed the plain connection');
    await until('member 1 to count the refusal', 5000, async () =>
      (await electionRefusals(e, 1, 'tls_handshake')) > before ? true : null,
    );
    // The ensemble is not disturbed by it.
    await e.waitFormed(10_000, [1, 2, 3]);
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

  test('the voters (listed addresses) form; an observer from another address is refused', async (t) => {
    const n = await assertRefusedAtElection(e, 4, /allowList/);
    assert.ok((await electionRefusals(e, 1, 'allow_list')) > 0, 'member 1 counted the refusals');
    t.diagnostic(`election connections refused by the voters: ${n}`);
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
