// Server behaviour over time and at the limits: timeout negotiation, session expiry, container and
// TTL cleanup, maxClientCnxns, jute.maxbuffer. Runs against the peer (ZKE_TARGET=observer: an observer of
// a 1+1 ensemble, which npm test also runs); ZKE_TARGET=zookeeper runs the
// parts that Apache ZooKeeper configures the same way, to show the expectations are ZooKeeper's.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ZkConnection } from '../peer/client/connection.ts';
import { CreateFlags, Err, EventType, OpCode } from '../peer/protocol/constants.ts';
import { type RunningServer, type ServerKind, startServer } from './lib/servers.ts';

const kind = (process.env.ZKE_TARGET ?? 'peer') as ServerKind;

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe(`sessions on ${kind}`, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer(kind, { config: { tickTime: 200 } });
  });
  after(() => server.stop());

  test('session timeouts are clamped to 2..20 ticks', async () => {
    for (const [asked, got] of [
      [100, 400],
      [1000, 1000],
      [100_000, 4000],
    ] as const) {
      const c = await ZkConnection.connect({ port: server.port, timeOut: asked });
      assert.equal(c.session?.timeOut, got, `asked ${asked}`);
      await c.closeSession();
      c.destroy();
    }
  });

  test('an idle session expires: its ephemerals go, watchers hear it, re-attaching fails', async () => {
    const owner = await ZkConnection.connect({ port: server.port, timeOut: 400 });
    const watcher = await ZkConnection.connect({ port: server.port, timeOut: 4000 });
    const keepAlive = setInterval(() => void watcher.ping().catch(() => {}), 300);
    try {
      assert.equal((await owner.create('/expiring', 'x', undefined, CreateFlags.EPHEMERAL)).err, Err.OK);
      assert.equal((await watcher.exists('/expiring', true)).err, Err.OK);
      // The owner sends nothing from now on.
      const ev = await watcher.nextNotification(10_000);
      assert.ok(ev, 'a notification arrives');
      assert.equal(ev.event.type, EventType.NodeDeleted);
      assert.equal(ev.event.path, '/expiring');
      assert.equal((await watcher.exists('/expiring')).err, Err.NONODE);
      assert.ok(await owner.waitClosed(5000), 'the server closes the expired session connection');
      const again = await ZkConnection.open({ port: server.port });
      const resp = await again.handshake({
        protocolVersion: 0,
        lastZxidSeen: 0,
        timeOut: 400,
        sessionId: owner.sessionId,
        passwd: owner.passwd,
        readOnly: false,
      });
      assert.equal(resp.timeOut, 0, 'expired session is refused');
      assert.equal(resp.sessionId, 0n);
      again.destroy();
    } finally {
      clearInterval(keepAlive);
      owner.destroy();
      watcher.destroy();
    }
  });

  test('re-attaching to a live session with its password keeps ephemerals', async () => {
    const first = await ZkConnection.connect({ port: server.port, timeOut: 4000 });
    assert.equal((await first.create('/kept', 'x', undefined, CreateFlags.EPHEMERAL)).err, Err.OK);
    const second = await ZkConnection.connect({
      port: server.port,
      timeOut: 4000,
      sessionId: first.sessionId,
      passwd: first.passwd,
    });
    assert.equal(second.sessionId, first.sessionId);
    assert.ok(await first.waitClosed(5000), 'the old connection is closed');
    const eph = await second.getEphemerals('/');
    assert.equal(eph.err, Err.OK);
    assert.deepEqual((eph as { ephemerals: string[] }).ephemerals, ['/kept']);
    await second.closeSession();
    second.destroy();
  });
});

describe(`limits on ${kind}`, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer(kind, { config: { maxClientCnxns: 3, 'jute.maxbuffer': 4096 } });
  });
  after(() => server.stop());

  test('maxClientCnxns refuses the connection over the limit and only that one', async () => {
    const conns = await Promise.all([1, 2, 3].map(() => ZkConnection.connect({ port: server.port })));
    await assert.rejects(ZkConnection.connect({ port: server.port, connectTimeoutMs: 3000 }));
    assert.equal((await conns[0]!.exists('/')).err, Err.OK, 'existing connections keep working');
    for (const c of conns) {
      await c.closeSession();
      c.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    const later = await ZkConnection.connect({ port: server.port });
    assert.equal((await later.exists('/')).err, Err.OK, 'a slot frees up when a connection closes');
    later.destroy();
  });

  // ZooKeeper takes jute.maxbuffer only as a JVM system property, not from zoo.cfg.
  test('a frame over jute.maxbuffer closes only its connection', { skip: kind === 'zookeeper' }, async () => {
    const big = await ZkConnection.connect({ port: server.port });
    const other = await ZkConnection.connect({ port: server.port });
    await assert.rejects(big.setData('/', Buffer.alloc(8192)));
    assert.ok(await big.waitClosed(5000));
    assert.equal((await other.create('/after-big', 'ok')).err, Err.OK);
    await other.closeSession();
    other.destroy();
  });
});

// Apache ZooKeeper reads the container settings as JVM system properties without the zookeeper.
// prefix, which zoo.cfg cannot set, so this part runs against the peer only.
describe(`container and TTL cleanup on ${kind}`, { skip: kind === 'zookeeper' }, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer(kind, {
      config: { extendedTypesEnabled: 'true', 'znode.container.checkIntervalMs': 100 },
    });
  });
  after(() => server.stop());

  test('an emptied container and an expired empty TTL node are deleted; used ones stay', async () => {
    const c = await ZkConnection.connect({ port: server.port });
    assert.equal(
      (
        await c.call(OpCode.createContainer, {
          type: 19,
          path: '/box',
          data: null,
          acl: null as never,
          flags: 4,
        })
      ).err,
      Err.INVALIDACL,
    );
    const acl = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
    assert.equal(
      (await c.call(OpCode.createContainer, { type: 19, path: '/box', data: null, acl, flags: 4 })).err,
      Err.OK,
    );
    assert.equal(
      (await c.call(OpCode.createContainer, { type: 19, path: '/never-used', data: null, acl, flags: 4 }))
        .err,
      Err.OK,
    );
    assert.equal((await c.create('/box/item', 'x')).err, Err.OK);
    assert.equal(
      (await c.createTTL('/ttl-empty', 'x', acl, CreateFlags.PERSISTENT_WITH_TTL, 300)).err,
      Err.OK,
    );
    assert.equal(
      (await c.createTTL('/ttl-parent', 'x', acl, CreateFlags.PERSISTENT_WITH_TTL, 300)).err,
      Err.OK,
    );
    assert.equal((await c.create('/ttl-parent/child', 'x')).err, Err.OK);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await c.exists('/box')).err, Err.OK, 'a container with a child stays');
    assert.equal((await c.exists('/never-used')).err, Err.OK, 'a never-used container stays');
    assert.equal((await c.exists('/ttl-parent')).err, Err.OK, 'a TTL node with children stays');
    await waitFor('the expired TTL node to go', 10_000, async () =>
      (await c.exists('/ttl-empty')).err === Err.NONODE ? true : undefined,
    );
    assert.equal((await c.delete('/box/item')).err, Err.OK);
    await waitFor('the emptied container to go', 10_000, async () =>
      (await c.exists('/box')).err === Err.NONODE ? true : undefined,
    );
    await c.closeSession();
    c.destroy();
  });
});

describe(`super digest on ${kind}`, () => {
  let server: RunningServer;
  before(async () => {
    // zoo.cfg keys become zookeeper.* system properties in Apache ZooKeeper, so both read this one.
    server = await startServer(kind, {
      config: { 'DigestAuthenticationProvider.superDigest': 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=' },
    });
  });
  after(() => server.stop());

  test('the super user passes every ACL; a wrong super password does not', async () => {
    const alice = await ZkConnection.connect({ port: server.port });
    assert.equal((await alice.auth('digest', 'alice:pw')).err, Err.OK);
    const onlyAlice = [{ perms: 31, id: { scheme: 'auth', id: '' } }];
    assert.equal((await alice.create('/locked', 'x', onlyAlice)).err, Err.OK);
    const admin = await ZkConnection.connect({ port: server.port });
    assert.equal((await admin.auth('digest', 'super:test')).err, Err.OK);
    assert.equal((await admin.setData('/locked', 'by super')).err, Err.OK);
    assert.equal((await admin.delete('/locked')).err, Err.OK);
    assert.equal((await alice.create('/locked2', 'x', onlyAlice)).err, Err.OK);
    const impostor = await ZkConnection.connect({ port: server.port });
    assert.equal(
      (await impostor.auth('digest', 'super:wrong')).err,
      Err.OK,
      'digest auth itself never fails',
    );
    assert.equal((await impostor.setData('/locked2', 'nope')).err, Err.NOAUTH);
    for (const c of [alice, admin, impostor]) c.destroy();
  });
});
