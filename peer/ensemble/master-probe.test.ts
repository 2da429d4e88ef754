// The round-trip probe against a real learner listener (plain, shared secret, TLS): it gets an
// answer, and the listener neither admits nor refuses it, while a connection that sent a byte
// before closing is still admitted or refused as before.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCa, issueCert } from '../../e2e/lib/pki.ts';
import { log } from '../log.ts';
import { type LearnerSecurity, learnerSecurityFromConfig } from '../net/learner-guard.ts';
import { listenForLearners } from '../net/quorum-link.ts';
import { measureMasters, probeRoundTrip } from './master-probe.ts';

const PLAIN: LearnerSecurity = { allowList: null, secret: null, tls: null };
let dir = '';
let tlsSecurity: LearnerSecurity;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zke-probe-'));
  const ca = await createCa(dir, 'ca', 'zkensemble-test-ca');
  const issued = await issueCert(dir, 'member', {
    subject: '/CN=member',
    ext: 'subjectAltName=IP:127.0.0.1',
    ca,
  });
  const pem = (f: string) => readFileSync(join(dir, f));
  writeFileSync(join(dir, 'member.pem'), Buffer.concat([pem(issued.key), pem(issued.cert)]));
  tlsSecurity = learnerSecurityFromConfig(
    new Map([
      ['sslQuorum', 'true'],
      ['ssl.quorum.keyStore.location', join(dir, 'member.pem')],
      ['ssl.quorum.trustStore.location', join(dir, 'ca.crt')],
    ]),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function listener(security: LearnerSecurity) {
  const refused: string[] = [];
  let admitted = 0;
  const server = await listenForLearners({
    listen: { host: '127.0.0.1', port: 0 },
    security,
    log,
    onLink: (l) => {
      admitted++;
      l.close('test');
    },
    onRefused: (r) => refused.push(r),
  });
  const port = (server.address() as net.AddressInfo).port;
  return { port, refused, admitted: () => admitted, close: () => server.close() };
}

/** Connects, writes one byte, and closes: not a probe. */
async function sayHelloAndLeave(port: number): Promise<void> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  s.end('x');
  s.resume();
  await once(s, 'close');
}

for (const [kind, security] of [
  ['plain', () => PLAIN],
  ['shared secret', () => ({ ...PLAIN, secret: Buffer.from('a shared secret, long enough') })],
  ['TLS', () => tlsSecurity],
] as const) {
  test(`${kind}: a probe gets its answer and is neither admitted nor refused`, async () => {
    const l = await listener(security());
    try {
      for (let i = 0; i < 3; i++) {
        const rtt = await probeRoundTrip('127.0.0.1', l.port, 5000);
        assert.ok(rtt !== null && rtt >= 0, `probe ${i}: ${rtt}`);
      }
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(l.refused, []);
      assert.equal(l.admitted(), 0);
      // A byte before the close is not a probe.
      await sayHelloAndLeave(l.port);
      await new Promise((r) => setTimeout(r, 50));
      if (kind === 'plain') assert.equal(l.admitted(), 1, 'a learner that spoke is admitted');
      else assert.equal(l.refused.length, 1, `refused: ${l.refused}`);
    } finally {
      l.close();
    }
  });
}

test('no answer: nobody listening, or a peer that never closes its side', async () => {
  const gone = await listener(PLAIN);
  gone.close();
  assert.equal(await probeRoundTrip('127.0.0.1', gone.port, 2000), null);
  const sockets: net.Socket[] = [];
  const mute = net.createServer({ allowHalfOpen: true }, (s) => sockets.push(s));
  mute.listen(0, '127.0.0.1');
  await once(mute, 'listening');
  const port = (mute.address() as net.AddressInfo).port;
  try {
    assert.equal(await probeRoundTrip('127.0.0.1', port, 200), null);
  } finally {
    for (const s of sockets) s.destroy();
    mute.close();
  }
});

test('measureMasters: every master at once, the ones that answer are measured', async () => {
  const live = await listener(PLAIN);
  const dead = await listener(PLAIN);
  dead.close();
  try {
    const rtts = await measureMasters(
      [
        { sid: 1, host: '127.0.0.1', port: live.port },
        { sid: 2, host: '127.0.0.1', port: dead.port },
        { sid: 3, host: 'localhost', port: live.port },
      ],
      { probes: 3, timeoutMs: 2000, localAddress: '127.0.0.1' },
    );
    assert.deepEqual([...rtts.keys()].sort(), [1, 3]);
    assert.deepEqual(live.refused, []);
    assert.equal(live.admitted(), 0);
  } finally {
    live.close();
  }
});
