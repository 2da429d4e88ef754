import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { parseAllowList } from './cidr.ts';
import {
  admitLearner,
  clientTlsOptions,
  type LearnerSecurity,
  learnerSecurityFromConfig,
  proveToLeader,
  quorumServer,
  SecurityConfigError,
} from './learner-guard.ts';
import { type QuorumPki, quorumPki } from './testutil.ts';

const NONE: LearnerSecurity = { allowList: null, secret: null, tls: null };

/** A leader-side listener that admits learners, then reports the first bytes they send. */
async function leader(sec: LearnerSecurity, useTls = false) {
  const refused: string[] = [];
  const received: Promise<string>[] = [];
  const onSocket = (s: net.Socket) => {
    received.push(
      (async () => {
        if ((await admitLearner(s, sec, (reason) => refused.push(reason), 2000)) !== 'admitted')
          return 'refused';
        s.resume();
        const [chunk] = (await once(s, 'data')) as [Buffer];
        return chunk.toString();
      })(),
    );
  };
  const server = quorumServer(useTls ? sec.tls : null, onSocket, (reason) => refused.push(reason));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return { port, refused, received, close: () => server.close() };
}

async function learner(port: number, sec: LearnerSecurity, hello = 'FOLLOWERINFO'): Promise<void> {
  const s = net.connect(port, '127.0.0.1');
  await once(s, 'connect');
  try {
    await proveToLeader(s, sec, 2000);
    s.write(hello);
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    s.destroy();
  }
}

test('the allow-list admits listed addresses and refuses others', async () => {
  const open = await leader({ ...NONE, allowList: parseAllowList('10.0.0.0/8, 127.0.0.0/8') });
  await learner(open.port, NONE);
  assert.equal(await open.received[0], 'FOLLOWERINFO');
  open.close();
  const closed = await leader({ ...NONE, allowList: parseAllowList('10.0.0.0/8,::1') });
  await learner(closed.port, NONE).catch(() => {});
  assert.equal(await closed.received[0], 'refused');
  assert.deepEqual(closed.refused, ['address not in learner.allowList']);
  closed.close();
});

test('a shared secret is proved without being sent, and bytes after the proof reach the leader', async () => {
  const secret = Buffer.from('correct horse battery staple');
  const l = await leader({ ...NONE, secret });
  await learner(l.port, { ...NONE, secret });
  assert.equal(await l.received[0], 'FOLLOWERINFO');
  await learner(l.port, { ...NONE, secret: Buffer.from('incorrect horse battery staple') }).catch(() => {});
  assert.equal(await l.received[1], 'refused');
  await learner(l.port, NONE, 'no proof at all, just talking').catch(() => {});
  assert.equal(await l.received[2], 'refused');
  assert.equal(l.refused[0], 'wrong shared secret');
  assert.equal(l.refused.length, 2);
  l.close();
});

test('bad security settings are reported clearly', () => {
  assert.throws(
    () => learnerSecurityFromConfig(new Map([['learner.allowList', '10.0.0.0/33']])),
    SecurityConfigError,
  );
  assert.throws(
    () => learnerSecurityFromConfig(new Map([['sslQuorum', 'true']])),
    /needs ssl.quorum.keyStore/,
  );
  assert.throws(
    () => learnerSecurityFromConfig(new Map([['learner.sharedSecretFile', '/nonexistent']])),
    /cannot read/,
  );
  assert.deepEqual(learnerSecurityFromConfig(new Map()), NONE);
});

describe('quorum TLS with client certificates', () => {
  let pki: QuorumPki;
  before(async () => {
    pki = await quorumPki(['leader', 'member'], ['intruder']);
  });
  after(() => pki.remove());

  async function tlsLearner(port: number, sec: LearnerSecurity): Promise<boolean> {
    const s = tls.connect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      ...clientTlsOptions(sec.tls!),
    });
    try {
      await once(s, 'secureConnect');
      s.write('FOLLOWERINFO');
      await new Promise((r) => setTimeout(r, 100));
      return true;
    } catch {
      return false;
    } finally {
      s.destroy();
    }
  }

  test('a member certificate signed by the quorum CA is admitted; others are refused', async () => {
    const l = await leader(pki.security('leader'), true);
    try {
      assert.equal(await tlsLearner(l.port, pki.security('member')), true);
      assert.equal(await l.received[0], 'FOLLOWERINFO');
      // With TLS 1.3 the client may finish its side before the server rejects its certificate, so
      // the proof is on the server side: nothing but the member reaches the learner protocol.
      await tlsLearner(l.port, pki.security('intruder'));
      const plain = net.connect(l.port, '127.0.0.1');
      plain.on('error', () => {});
      plain.write('FOLLOWERINFO without TLS');
      await new Promise((r) => setTimeout(r, 300));
      plain.destroy();
      assert.equal(l.refused.length, 2, `refusals counted: ${l.refused.join('; ')}`);
      assert.equal(l.received.length, 1, 'only the member reached the learner protocol');
    } finally {
      l.close();
    }
  });
});
