// Framing tests of the raw client against a tiny in-process fake server.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { JuteWriter } from '../jute/archive.ts';
import { writeStat } from '../jute/records.ts';
import { ConnectionClosedError, ZkConnection } from './connection.ts';

interface Fake {
  port: number;
  /** Every frame the fake received (without its length prefix). */
  frames: Buffer[];
  sockets: net.Socket[];
  close(): Promise<void>;
}

/** A server that hands each received frame to `onFrame`, with the socket to answer on. */
async function fake(onFrame: (frame: Buffer, sock: net.Socket, index: number) => void): Promise<Fake> {
  const frames: Buffer[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((sock) => {
    sockets.push(sock);
    let buf = Buffer.alloc(0);
    let index = 0;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const len = buf.readInt32BE(0);
        const frame = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        frames.push(frame);
        onFrame(frame, sock, index++);
      }
    });
    sock.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    frames,
    sockets,
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

function frame(build: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter();
  const mark = w.beginFrame();
  build(w);
  w.endFrame(mark);
  return w.toBuffer();
}

const connectResponse = (readOnly: boolean | undefined, timeOut = 30000, sessionId = 0x1234n) =>
  frame((w) => {
    w.int(0).int(timeOut).bigLong(sessionId).buffer(Buffer.alloc(16, 1));
    if (readOnly !== undefined) w.bool(readOnly);
  });

const reply = (xid: number, zxid: number, err: number, body?: (w: JuteWriter) => void) =>
  frame((w) => {
    w.int(xid).long(zxid).int(err);
    body?.(w);
  });

/** Writes bytes one at a time, to exercise frame reassembly. */
async function dribble(sock: net.Socket, bytes: Buffer): Promise<void> {
  for (const b of bytes) {
    sock.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
}

test('handshake bytes with and without the readOnly byte', { timeout: 10_000 }, async () => {
  const srv = await fake((f, sock, i) => {
    if (i === 0) sock.write(connectResponse(f.length === 45 ? false : undefined));
  });
  try {
    const a = await ZkConnection.connect({ port: srv.port });
    assert.equal(a.session?.readOnly, false);
    assert.equal(a.sessionId, 0x1234n);
    const b = await ZkConnection.connect({
      port: srv.port,
      readOnly: undefined,
      timeOut: 5000,
      lastZxidSeen: 7,
    });
    assert.equal(b.session?.readOnly, undefined);
    const expectA = Buffer.concat([
      Buffer.from('00000000' + '0000000000000000' + '00007530' + '0000000000000000' + '00000010', 'hex'),
      Buffer.alloc(16),
      Buffer.from([0]),
    ]);
    assert.deepEqual(srv.frames[0], expectA);
    assert.equal(srv.frames[1]!.length, 44);
    assert.equal(srv.frames[1]!.readInt32BE(12), 5000);
    assert.equal(srv.frames[1]!.readInt32BE(8), 7);
    a.destroy();
    b.destroy();
  } finally {
    await srv.close();
  }
});

test('requests are byte-exact and replies decode', { timeout: 10_000 }, async () => {
  const stat = {
    czxid: 5,
    mzxid: 6,
    ctime: 7,
    mtime: 8,
    version: 1,
    cversion: 2,
    aversion: 3,
    ephemeralOwner: -1n,
    dataLength: 0,
    numChildren: 0,
    pzxid: 9,
  };
  const srv = await fake((f, sock, i) => {
    if (i === 0) return void sock.write(connectResponse(false));
    const xid = f.readInt32BE(0);
    const type = f.readInt32BE(4);
    if (type === 1) sock.write(reply(xid, 10, 0, (w) => w.ustring('/a')));
    else if (type === 4)
      sock.write(
        reply(xid, 10, 0, (w) => {
          w.buffer(null);
          writeStat(w, stat);
        }),
      );
    else sock.write(reply(xid, 10, -101));
  });
  try {
    const c = await ZkConnection.connect({ port: srv.port });
    assert.deepEqual(await c.create('/a', 'x'), { err: 0, zxid: 10, path: '/a' });
    const expected = Buffer.from(
      '00000001' + // xid
        '00000001' + // create
        '000000022f61' + // "/a"
        '0000000178' + // "x"
        '00000001' + // one ACL
        '0000001f' + // ALL
        '00000005776f726c64' + // "world"
        '00000006616e796f6e65' + // "anyone"
        '00000000', // flags
      'hex',
    );
    assert.deepEqual(srv.frames[1], expected);
    assert.deepEqual(await c.getData('/a'), { err: 0, zxid: 10, data: null, stat });
    assert.deepEqual(await c.exists('/nope'), { err: -101, zxid: 10 });
    assert.equal(c.lastZxid, 10);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('pipelined replies, split frames, notifications and overtaking pings', { timeout: 20_000 }, async () => {
  let held: Buffer[] = [];
  const srv = await fake((f, sock, i) => {
    if (i === 0) return void sock.write(connectResponse(false));
    const xid = f.readInt32BE(0);
    if (xid === -2) {
      // The ping overtakes the held replies, then everything goes out in one dribbled burst.
      sock.write(reply(-2, 1, 0));
      const notification = reply(-1, -1, 0, (w) => w.int(3).int(3).ustring('/w'));
      const burst = Buffer.concat([held[0]!, notification, ...held.slice(1)]);
      held = [];
      void dribble(sock, burst.subarray(0, 200)).then(() => sock.write(burst.subarray(200)));
      return;
    }
    held.push(reply(xid, xid, 0, (w) => w.int(xid)));
  });
  try {
    const c = await ZkConnection.connect({ port: srv.port });
    const pending = [];
    for (let k = 0; k < 500; k++) pending.push(c.request(104, { type: 104, path: '/' }));
    // Wait until the fake holds all 500 before pinging.
    while (srv.frames.length < 501) await new Promise((r) => setTimeout(r, 5));
    const ping = await c.ping();
    assert.deepEqual(ping, { err: 0, zxid: 1 });
    const replies = await Promise.all(pending);
    for (const [k, r] of replies.entries()) {
      assert.equal(r.header.xid, k + 1);
      assert.equal(r.body.readInt32BE(0), k + 1);
    }
    const n = await c.nextNotification(1000);
    assert.deepEqual(n, { zxid: -1, event: { type: 3, state: 3, path: '/w' } });
    assert.equal(c.outOfOrder, 0);
    assert.equal(c.strays.length, 0);
    assert.equal(c.inFlight, 0);
    c.destroy();
  } finally {
    await srv.close();
  }
});

test('a closed connection rejects pending and later requests', { timeout: 10_000 }, async () => {
  const srv = await fake((_f, sock, i) => {
    if (i === 0) sock.write(connectResponse(false));
    else sock.destroy();
  });
  try {
    const c = await ZkConnection.connect({ port: srv.port });
    const a = c.getData('/x');
    const b = c.getData('/y');
    await assert.rejects(a, ConnectionClosedError);
    await assert.rejects(b, ConnectionClosedError);
    assert.equal(await c.waitClosed(1000), true);
    await assert.rejects(c.ping(), ConnectionClosedError);
    assert.equal(await c.nextNotification(), undefined);
  } finally {
    await srv.close();
  }
});

test('sendRaw writes bytes as given and can await a reply', { timeout: 10_000 }, async () => {
  const srv = await fake((f, sock, i) => {
    if (i === 0) return void sock.write(connectResponse(false));
    sock.write(reply(f.readInt32BE(0), 3, -6));
  });
  try {
    const c = await ZkConnection.connect({ port: srv.port });
    const payload = Buffer.from('0000002a000003e7', 'hex'); // xid 42, opcode 999
    const r = await c.sendRaw(ZkConnection.frame(payload), 42);
    assert.deepEqual(r?.header, { xid: 42, zxid: 3, err: -6 });
    assert.deepEqual(srv.frames[1], payload);
    c.destroy();
  } finally {
    await srv.close();
  }
});
