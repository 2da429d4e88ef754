import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { log } from '../log.ts';
import { refusalReason } from '../metrics/refusal-reason.ts';
import { encodeInitialMessage, type InetAddr } from '../quorum/election-wire.ts';
import { parseAllowList } from './cidr.ts';
import { type ElectionSecurity, ElectionTransport } from './election-transport.ts';
import { type QuorumPki, quorumPki } from './testutil.ts';

interface NodeOptions {
  security?: ElectionSecurity;
  localAddress?: string;
}

function cluster(sids: number[], options: (sid: number) => NodeOptions = () => ({})) {
  const addrs = new Map<number, InetAddr>();
  const inbox: string[] = [];
  /** Refused incoming connections, as `sid: reason`. */
  const refused: string[] = [];
  const nodes = new Map<number, ElectionTransport>();
  for (const sid of sids) {
    nodes.set(
      sid,
      new ElectionTransport({
        mySid: sid,
        listen: { host: '127.0.0.1', port: 0 },
        addressOf: (s) => addrs.get(s) ?? null,
        onMessage: (from, body) => inbox.push(`${from}->${sid}:${body.toString()}`),
        log,
        connectTimeoutMs: 1000,
        onRefused: (reason) => refused.push(`${sid}: ${reason}`),
        ...options(sid),
      }),
    );
  }
  const start = async (sid: number) => {
    const t = nodes.get(sid)!;
    await t.start();
    addrs.set(sid, { host: '127.0.0.1', port: t.listenPort! });
  };
  return { nodes, inbox, refused, start, addrs };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('messages flow both ways over one connection per pair, dialled by the higher sid', async () => {
  const c = cluster([1, 2, 3]);
  for (const sid of [1, 2, 3]) await c.start(sid);
  try {
    c.nodes.get(1)!.send(3, Buffer.from('low-to-high'));
    c.nodes.get(3)!.send(2, Buffer.from('high-to-low'));
    c.nodes.get(2)!.send(1, Buffer.from('two-to-one'));
    await until('three messages', () => c.inbox.length === 3);
    assert.deepEqual([...c.inbox].sort(), ['1->3:low-to-high', '2->1:two-to-one', '3->2:high-to-low']);
    c.nodes.get(3)!.send(1, Buffer.from('again'));
    await until('fourth', () => c.inbox.length === 4);
    assert.ok(c.nodes.get(1)!.isConnected(3) && c.nodes.get(3)!.isConnected(1));
  } finally {
    for (const t of c.nodes.values()) await t.close();
  }
});

test('only the newest message waits for a member that is down', async () => {
  const c = cluster([1, 2]);
  await c.start(2);
  const port = c.nodes.get(2)!.listenPort!;
  await c.nodes.get(2)!.close();
  c.nodes.set(
    2,
    new ElectionTransport({
      mySid: 2,
      listen: { host: '127.0.0.1', port },
      addressOf: (s) => c.addrs.get(s) ?? null,
      onMessage: (from, body) => c.inbox.push(`${from}->2:${body.toString()}`),
      log,
    }),
  );
  await c.start(1);
  try {
    c.nodes.get(2)!.send(1, Buffer.from('vote-a'));
    c.nodes.get(2)!.send(1, Buffer.from('vote-b'));
    await new Promise((r) => setTimeout(r, 100));
    await c.start(2);
    c.nodes.get(2)!.connect(1);
    await until('a message', () => c.inbox.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(c.inbox, ['2->1:vote-b']);
  } finally {
    for (const t of c.nodes.values()) await t.close();
  }
});

test('a connection claiming our own sid or sending garbage is dropped', async () => {
  const c = cluster([5]);
  await c.start(5);
  try {
    const port = c.nodes.get(5)!.listenPort!;
    for (const bytes of [encodeInitialMessage(5, []), Buffer.from('ffffffffffffffff0000', 'hex')]) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.write(bytes);
      const closed = await new Promise<boolean>((r) => {
        s.once('close', () => r(true));
        setTimeout(() => r(false), 2000);
      });
      assert.ok(closed);
    }
    assert.deepEqual(c.inbox, []);
  } finally {
    await c.nodes.get(5)!.close();
  }
});

test('with an allow-list, members dial from their own address; others are refused', async () => {
  const allowList = parseAllowList('127.0.0.1/32,127.0.0.2/32');
  const c = cluster([1, 2, 3], (sid) => ({
    security: { allowList, tls: null },
    // Member 3 dials from 127.0.0.3, which is not on the list.
    localAddress: `127.0.0.${sid}`,
  }));
  for (const sid of [1, 2, 3]) await c.start(sid);
  try {
    c.nodes.get(2)!.send(1, Buffer.from('listed'));
    c.nodes.get(3)!.send(1, Buffer.from('unlisted'));
    c.nodes.get(3)!.send(2, Buffer.from('unlisted'));
    await until('the listed message', () => c.inbox.length >= 1);
    await until('refusals of 3', () => c.refused.length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(c.inbox, ['2->1:listed']);
    assert.ok(
      c.refused.every((r) => /^[12]: address not in learner.allowList$/.test(r)),
      c.refused.join('; '),
    );
    assert.equal(refusalReason(c.refused[0]!), 'allow_list');
  } finally {
    for (const t of c.nodes.values()) await t.close();
  }
});

describe('quorum TLS on the election port', () => {
  let pki: QuorumPki;
  before(async () => {
    pki = await quorumPki(['m1', 'm2'], ['intruder']);
  });
  after(() => pki.remove());

  test('members with CA-signed certificates exchange notifications; a self-signed peer and plain TCP deliver none', async () => {
    // 3 has a self-signed certificate; 4 speaks plain TCP. Both are higher sids: they dial.
    const c = cluster([1, 2, 3, 4], (sid) =>
      sid === 4 ? {} : { security: pki.security(sid === 3 ? 'intruder' : `m${sid}`) },
    );
    for (const sid of [1, 2, 3, 4]) await c.start(sid);
    try {
      c.nodes.get(1)!.send(2, Buffer.from('one-to-two'));
      c.nodes.get(2)!.send(1, Buffer.from('two-to-one'));
      for (const from of [3, 4])
        for (const to of [1, 2]) c.nodes.get(from)!.send(to, Buffer.from('intruding'));
      await until('the members’ messages', () => c.inbox.length >= 2);
      // Each member refuses each outsider in the TLS handshake (what OpenSSL reports varies).
      await until('both outsiders refused by both members', () =>
        [1, 2].every((sid) => c.refused.filter((r) => r.startsWith(`${sid}: TLS: `)).length >= 2),
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual([...c.inbox].sort(), ['1->2:one-to-two', '2->1:two-to-one']);
      assert.ok(c.nodes.get(1)!.isConnected(2));
      const kinds = new Set(c.refused.map((r) => refusalReason(r.replace(/^\d+: /, ''))));
      assert.deepEqual([...kinds], ['tls_handshake']);
    } finally {
      for (const t of c.nodes.values()) await t.close();
    }
  });
});
