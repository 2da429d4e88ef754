// The admin HTTP server on loopback: probes, AdminServer JSON (longs as plain numbers), metrics,
// and a port that cannot be bound being survivable.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { PeerMetrics } from '../metrics/registry.ts';
import { parseExposition, sampleValue } from '../metrics/testutil.ts';
import type { ZkServer } from '../server/zkserver.ts';
import { adminApp, closeAdmin, listenAdmin, toJson } from './http.ts';
import { memoryServer, SteeredStatus, testConfig } from './testutil.ts';

let zk: ZkServer;
let status: SteeredStatus;
let http: Server | null;
let base: string;

before(async () => {
  const cfg = testConfig();
  zk = (await memoryServer(cfg)).server;
  status = new SteeredStatus(1, zk, cfg);
  const app = adminApp({ status, cfg }, new PeerMetrics(status, { region: 'r', ensemble: 'e' }), '/commands');
  http = await listenAdmin(app, { enabled: true, address: '127.0.0.1', port: 0, commandURL: '/commands' });
  base = `http://127.0.0.1:${(http!.address() as AddressInfo).port}`;
});
after(async () => {
  await closeAdmin(http);
  await zk.close();
});

test('healthz answers while looking; readyz only once serving in broadcast', async () => {
  status.current = null;
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  const notReady = await fetch(`${base}/readyz`);
  assert.equal(notReady.status, 503);
  assert.match(await notReady.text(), /not ready: looking/);
  status.current = { mode: 'observer', masterSid: 2, zab: 'synchronization' };
  assert.equal((await fetch(`${base}/readyz`)).status, 503);
  status.current = { mode: 'observer', masterSid: 2, zab: 'broadcast' };
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
});

test('commands: JSON with command and error, by name or alias; the list; unknown ones', async () => {
  status.current = { mode: 'follower', masterSid: 2 };
  const r = await fetch(`${base}/commands/lead`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  assert.deepEqual(await r.json(), {
    is_leader: false,
    leader_id: 2,
    leader_ip: '127.0.0.1',
    command: 'leader',
    error: null,
  });
  const list = await (await fetch(`${base}/commands`)).text();
  assert.match(list, /<a href="\/commands\/monitor">monitor<\/a>/);
  assert.deepEqual(await (await fetch(`${base}/commands/nosuch`)).json(), {
    command: 'nosuch',
    error: 'Unknown command: nosuch',
  });
});

test('longs beyond 2^53 (session ids) are written as JSON numbers, digit for digit', () => {
  assert.equal(toJson({ session_id: 72058191257927680n }), '{\n  "session_id": 72058191257927680\n}');
  assert.equal(toJson({ ids: [-1n] }), '{\n  "ids": [\n    -1\n  ]\n}');
});

test('/metrics is the Prometheus text format', async () => {
  status.current = { mode: 'leader' };
  const r = await fetch(`${base}/metrics`);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const f = parseExposition(await r.text());
  assert.equal(sampleValue(f, 'zkensemble_ready', { role: 'leader', region: 'r', ensemble: 'e' }), 1);
});

test('a port in use is logged and not fatal; a disabled server does not listen', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as AddressInfo).port;
  try {
    const app = adminApp(
      { status, cfg: testConfig() },
      new PeerMetrics(status, { region: '', ensemble: '' }),
      '/c',
    );
    assert.equal(
      await listenAdmin(app, { enabled: true, address: '127.0.0.1', port, commandURL: '/c' }),
      null,
    );
    assert.equal(
      await listenAdmin(app, { enabled: false, address: '127.0.0.1', port: 0, commandURL: '/c' }),
      null,
    );
  } finally {
    await new Promise<void>((r) => taken.close(() => r()));
  }
});
