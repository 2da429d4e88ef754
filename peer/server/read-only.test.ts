// Read-only mode over a real client on loopback: which clients get in, what a read-only session
// may do, what happens to sessions, and the window that starts and stops the read-only server.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { memoryServer, testConfig } from '../admin/testutil.ts';
import { ConnectionClosedError, ZkConnection } from '../client/connection.ts';
import { log } from '../log.ts';
import { Err, OpCode } from '../protocol/constants.ts';
import { serverSettings } from '../server-settings.ts';
import { NO_WRITES, ReadOnlyWindow, readOnlyDelayMs } from './read-only.ts';
import { sessionPassword } from './session-ids.ts';
import { ZkServer } from './zkserver.ts';

const SID = 3;

/** A server as a member has it after losing its quorum: the tree and sessions it last synced. */
async function readOnlyServer(
  extraCfg = '',
): Promise<{ server: ZkServer; port: number; quorumSession: bigint }> {
  const cfg = testConfig(extraCfg);
  const rw = await memoryServer(cfg);
  const c = await ZkConnection.connect({ port: rw.port, timeOut: 10_000 });
  assert.equal((await c.create('/a', 'x')).err, Err.OK);
  assert.equal((await c.create('/a/b', 'y')).err, Err.OK);
  const quorumSession = c.sessionId;
  c.destroy();
  await rw.server.close();
  const server = new ZkServer(
    rw.server.tree,
    rw.server.sessions.snapshot(),
    serverSettings(cfg, SID, 'read-only'),
    () => NO_WRITES,
  );
  const addr = await server.listen('127.0.0.1', 0);
  return { server, port: addr.port, quorumSession };
}

describe('a read-only server', () => {
  let server: ZkServer;
  let port: number;
  let quorumSession: bigint;
  before(async () => {
    ({ server, port, quorumSession } = await readOnlyServer());
  });
  after(async () => {
    await server.close();
  });

  test('refuses clients that did not send readOnly=true, with or without the byte', async () => {
    for (const readOnly of [false, undefined]) {
      await assert.rejects(
        ZkConnection.connect({ port, readOnly, connectTimeoutMs: 5000 }),
        ConnectionClosedError,
        `readOnly=${readOnly}`,
      );
    }
  });

  test('accepts a read-only client: ConnectResponse.readOnly is true, the session id is this server’s', async () => {
    const c = await ZkConnection.connect({ port, readOnly: true, timeOut: 10_000 });
    try {
      assert.equal(c.session?.readOnly, true);
      assert.ok(c.session!.timeOut > 0);
      assert.equal(Number(BigInt.asUintN(64, c.sessionId) >> 56n), SID);
      const d = await c.getData('/a');
      assert.equal(d.err, Err.OK);
      assert.equal(d.data?.toString(), 'x');
      assert.deepEqual((await c.getChildren('/a')).children, ['b']);
      assert.equal((await c.exists('/nope')).err, Err.NONODE);
    } finally {
      c.destroy();
    }
  });

  test('answers every write and sync with NOTREADONLY, in order, and the tree does not change', async () => {
    const c = await ZkConnection.connect({ port, readOnly: true, timeOut: 10_000 });
    const zxid = server.lastProcessedZxid;
    const nodes = server.tree.nodeCount;
    try {
      const replies = await Promise.all([
        c.create('/new', 'n'),
        c.getData('/a'),
        c.setData('/a', 'changed'),
        c.delete('/a/b'),
        c.setACL('/a', null),
        c.multi([{ type: OpCode.create, path: '/m', data: null, acl: [], flags: 0 }]),
        c.call(OpCode.reconfig, {
          type: OpCode.reconfig,
          joiningServers: null,
          leavingServers: '2',
          newMembers: null,
          curConfigId: -1,
        }),
        c.sync('/'),
        c.exists('/a'),
      ]);
      assert.deepEqual(
        replies.map((r) => r.err),
        [Err.NOTREADONLY, Err.OK, Err.NOTREADONLY, Err.NOTREADONLY, Err.NOTREADONLY, Err.NOTREADONLY].concat([
          Err.NOTREADONLY,
          Err.NOTREADONLY,
          Err.OK,
        ]),
      );
      assert.ok(replies.every((r) => r.zxid === zxid));
      assert.equal((await c.getData('/a')).data?.toString(), 'x');
      assert.equal(server.lastProcessedZxid, zxid);
      assert.equal(server.tree.nodeCount, nodes);
    } finally {
      c.destroy();
    }
  });

  test('a read-only session can be resumed here; a quorum session is refused without a verdict', async () => {
    const c = await ZkConnection.connect({ port, readOnly: true, timeOut: 10_000 });
    const id = c.sessionId;
    c.destroy();
    const again = await ZkConnection.connect({
      port,
      readOnly: true,
      sessionId: id,
      passwd: sessionPassword(id),
      timeOut: 10_000,
    });
    assert.equal(again.sessionId, id);
    assert.equal((await again.getData('/a')).err, Err.OK);
    again.destroy();

    const wrongPassword = await ZkConnection.connect({
      port,
      readOnly: true,
      sessionId: id,
      timeOut: 10_000,
    });
    assert.equal(wrongPassword.session?.timeOut, 0);
    wrongPassword.destroy();

    await assert.rejects(
      ZkConnection.connect({
        port,
        readOnly: true,
        sessionId: quorumSession,
        passwd: sessionPassword(quorumSession),
        connectTimeoutMs: 5000,
      }),
      ConnectionClosedError,
    );
  });

  test('closeSession ends a read-only session here: it cannot be resumed', async () => {
    const c = await ZkConnection.connect({ port, readOnly: true, timeOut: 10_000 });
    const id = c.sessionId;
    assert.equal((await c.closeSession()).err, Err.OK);
    await c.closed;
    assert.equal(server.sessions.isAlive(id), false);
    const again = await ZkConnection.connect({
      port,
      readOnly: true,
      sessionId: id,
      passwd: sessionPassword(id),
    });
    assert.equal(again.session?.timeOut, 0, 'expired');
    again.destroy();
  });
});

test('a read-only session expires on the server that made it', { timeout: 20_000 }, async () => {
  const { server, port } = await readOnlyServer('minSessionTimeout=200\nmaxSessionTimeout=200\n');
  try {
    // The client sends no pings: the server expires the session and closes its connection.
    const c = await ZkConnection.connect({ port, readOnly: true, timeOut: 200 });
    const id = c.sessionId;
    assert.equal(server.sessions.isAlive(id), true);
    await c.closed;
    assert.equal(server.sessions.isAlive(id), false);
  } finally {
    await server.close();
  }
});

test('read-only mode starts after max(2000 ms, tickTime) of looking', () => {
  assert.equal(readOnlyDelayMs(200), 2000);
  assert.equal(readOnlyDelayMs(3000), 3000);
});

describe('the read-only window of one election', () => {
  test('stopped before its delay: no server is started', async () => {
    let started = 0;
    const w = new ReadOnlyWindow({
      delayMs: 60_000,
      log,
      start: async () => {
        started++;
        throw new Error('not expected');
      },
    });
    await w.stop('election finished');
    assert.equal(started, 0);
    assert.equal(w.server, null);
  });

  test('after its delay it serves; stop closes the server and its connections', async () => {
    let port = 0;
    let made: ZkServer | null = null;
    const w = new ReadOnlyWindow({
      delayMs: 0,
      log,
      start: async () => {
        const r = await readOnlyServer();
        port = r.port;
        made = r.server;
        return r.server;
      },
    });
    const deadline = Date.now() + 10_000;
    while (!w.server && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(w.server, made);
    const c = await ZkConnection.connect({ port, readOnly: true });
    await w.stop('election finished');
    assert.equal(w.server, null);
    await c.closed;
    await assert.rejects(ZkConnection.connect({ port, readOnly: true, connectTimeoutMs: 2000 }));
  });

  test('stopped while starting: the server that comes up is closed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let port = 0;
    const w = new ReadOnlyWindow({
      delayMs: 0,
      log,
      start: async () => {
        const r = await readOnlyServer();
        port = r.port;
        await gate;
        return r.server;
      },
    });
    const deadline = Date.now() + 10_000;
    while (port === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(port, 0, 'the window started its server');
    const stopping = w.stop('election finished');
    release();
    await stopping;
    assert.equal(w.server, null);
    await assert.rejects(ZkConnection.connect({ port, readOnly: true, connectTimeoutMs: 2000 }));
  });
});
