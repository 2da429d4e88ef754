import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { log } from '../log.ts';
import { encodeInitialMessage, type InetAddr } from '../quorum/election-wire.ts';
import { ElectionTransport } from './election-transport.ts';

function cluster(sids: number[]) {
  const addrs = new Map<number, InetAddr>();
  const inbox: string[] = [];
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
      }),
    );
  }
  const start = async (sid: number) => {
    const t = nodes.get(sid)!;
    await t.start();
    addrs.set(sid, { host: '127.0.0.1', port: t.listenPort! });
  };
  return { nodes, inbox, start, addrs };
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
