// Dynamic reconfiguration end to end: zkCli.sh's `config` and `reconfig`, ten observers added and
// removed one by one under a steady write load, a voter replaced, and unsafe changes refused.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ZkConnection } from '../peer/client/connection.ts';
import { freeLoopbackPort, type LocalMember, renderLocalConfig } from '../peer/ensemble/local.ts';
import { Err, OpCode } from '../peer/protocol/constants.ts';
import { digestId, zkCliSession } from './clients/drivers.ts';
import { type Ensemble, startEnsemble } from './lib/ensemble.ts';
import { until } from './lib/wait.ts';

const SUPER_PASSWORD = 'reconfig-test';
const CONFIG = {
  reconfigEnabled: 'true',
  standaloneEnabled: 'false',
  'DigestAuthenticationProvider.superDigest': digestId('super', SUPER_PASSWORD),
};

async function connect(e: Ensemble, sid: number, asSuper = false): Promise<ZkConnection> {
  const c = await ZkConnection.connect({ port: e.members.get(sid)!.clientPort, timeOut: 10_000 });
  if (asSuper) assert.equal((await c.auth('digest', `super:${SUPER_PASSWORD}`)).err, Err.OK);
  return c;
}

async function configText(c: ZkConnection): Promise<string> {
  const r = await c.getData('/zookeeper/config');
  assert.equal(r.err, Err.OK);
  return (r as unknown as { data: Buffer }).data.toString('utf8');
}

function serverLine(m: LocalMember): string {
  return `server.${m.sid}=${m.host}:${m.quorumPort}:${m.electionPort}:${m.observer ? 'observer' : 'participant'};${m.host}:${m.clientPort}`;
}

/**
 * Lays out a server that is about to join: its membership (the ensemble's current config plus
 * itself) goes to a dynamic config file, which the peer rewrites when a reconfig is activated.
 */
async function addMember(
  e: Ensemble,
  sid: number,
  observer: boolean,
  currentConfig: string,
): Promise<LocalMember> {
  const dataDir = join(e.root, `member${sid}`);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'myid'), `${sid}\n`);
  const m: LocalMember = {
    sid,
    host: '127.0.0.1',
    observer,
    clientPort: await freeLoopbackPort(),
    quorumPort: await freeLoopbackPort(),
    electionPort: await freeLoopbackPort(),
    dataDir,
    configPath: join(dataDir, 'zoo.cfg'),
  };
  const dynamic = currentConfig.replace(
    /\nversion=.*$/,
    `\n${serverLine(m)}\n${/version=.*$/.exec(currentConfig)![0]}`,
  );
  writeFileSync(join(dataDir, 'zoo.cfg.dynamic'), `${dynamic}\n`);
  writeFileSync(m.configPath, renderLocalConfig(m, [], { ...CONFIG, dynamicConfigFile: 'zoo.cfg.dynamic' }));
  e.members.set(sid, { ...m, process: null, output: '' });
  e.start(sid);
  return m;
}

async function reconfig(
  c: ZkConnection,
  r: { joining?: string; leaving?: string; members?: string; from?: number },
): Promise<{ err: number; config: string }> {
  const res = await c.call(OpCode.reconfig, {
    type: OpCode.reconfig,
    joiningServers: r.joining ?? null,
    leavingServers: r.leaving ?? null,
    newMembers: r.members ?? null,
    curConfigId: r.from ?? -1,
  });
  const data = (res as unknown as { data?: Buffer }).data;
  return { err: res.err, config: data ? data.toString('utf8') : '' };
}

describe('reconfig with zkCli.sh (the Java client)', () => {
  let e: Ensemble;
  before(async () => {
    e = await startEnsemble({ voters: 3, observers: 0, config: CONFIG });
    await e.waitFormed();
  });
  after(() => e.close());

  test('config shows the membership; reconfig -add / -remove an observer', async () => {
    const admin = await connect(e, 1);
    const joiner = await addMember(e, 4, true, await configText(admin));
    await until('the joining observer to serve', 30_000, async () => (await e.mode(4)) === 'observer');
    const cs = e.connectString([1, 2, 3]);
    const added = await zkCliSession(cs, [
      'config',
      `addauth digest super:${SUPER_PASSWORD}`,
      `reconfig -add ${serverLine(joiner)}`,
      'config',
    ]);
    assert.match(added.outputs[0]!, /^server\.1=127\.0\.0\.1:\d+:\d+:participant/m);
    assert.doesNotMatch(added.outputs[0]!, /server\.4=/);
    assert.match(added.outputs[2]!, /Committed new configuration:/);
    assert.match(added.outputs[3]!, /^server\.4=127\.0\.0\.1:\d+:\d+:observer;127\.0\.0\.1:\d+$/m);
    const version = /^version=([0-9a-f]+)$/m.exec(added.outputs[3]!)![1]!;
    // Every member, the new observer too, activates it; the observer rewrites its dynamic file.
    await until('every member to have the new config', 15_000, async () => {
      for (const sid of [1, 2, 3, 4]) {
        const c = await connect(e, sid);
        const text = await configText(c);
        await c.close();
        if (!text.includes(`version=${version}`)) return false;
      }
      return readFileSync(join(joiner.dataDir, 'zoo.cfg.dynamic'), 'utf8').includes(`version=${version}`);
    });

    const removed = await zkCliSession(cs, [
      `addauth digest super:${SUPER_PASSWORD}`,
      'reconfig -remove 4',
      'config',
    ]);
    assert.match(removed.outputs[1]!, /Committed new configuration:/);
    assert.doesNotMatch(removed.outputs[2]!, /server\.4=/);
    await until('the removed observer to stop serving', 15_000, async () => (await e.mode(4)) === null);

    const denied = await zkCliSession(cs, [`reconfig -add ${serverLine(joiner)}`]);
    assert.match(denied.outputs[0]!, /Insufficient permission|NoAuth/i);
    await admin.close();
  });
});

describe('ten observers added and removed one by one under a steady write load', () => {
  let e: Ensemble;
  before(async () => {
    e = await startEnsemble({ voters: 3, observers: 0, config: CONFIG });
    await e.waitFormed();
  });
  after(() => e.close());

  test('no client sees an error and every member ends with the same config', async () => {
    const writer = await connect(e, 2);
    assert.equal((await writer.create('/load', '0')).err, Err.OK);
    let acked = 0;
    const errors: string[] = [];
    let running = true;
    const load = (async () => {
      while (running) {
        const r = await writer.setData('/load', String(acked + 1));
        if (r.err === Err.OK) acked++;
        else errors.push(`setData: ${r.err}`);
      }
    })();

    const admin = await connect(e, 1, true);
    const observers = Array.from({ length: 10 }, (_, i) => 10 + i);
    for (const sid of observers) {
      const m = await addMember(e, sid, true, await configText(admin));
      await until(`observer ${sid} to serve`, 30_000, async () => (await e.mode(sid)) === 'observer');
      const r = await reconfig(admin, { joining: serverLine(m) });
      assert.equal(r.err, Err.OK, `adding ${sid}`);
      assert.match(r.config, new RegExp(`^server\\.${sid}=.*:observer;`, 'm'));
    }
    const full = await configText(admin);
    assert.equal(full.match(/:observer;/g)?.length, 10);
    // A client of the last observer reads what the writer wrote.
    const reader = await connect(e, 19);
    assert.equal((await reader.call(OpCode.sync, { type: OpCode.sync, path: '/load' })).err, Err.OK);
    assert.ok(Number((await reader.getData('/load')).data?.toString()) >= 1);
    await reader.close();

    for (const sid of observers) {
      const r = await reconfig(admin, { leaving: String(sid) });
      assert.equal(r.err, Err.OK, `removing ${sid}`);
    }
    running = false;
    await load;
    assert.deepEqual(errors, []);
    assert.ok(acked > 20, `the writer kept writing (${acked} acknowledged)`);

    const final = await configText(admin);
    assert.doesNotMatch(final, /:observer/);
    for (const sid of [1, 2, 3]) {
      const c = await connect(e, sid);
      assert.equal((await c.call(OpCode.sync, { type: OpCode.sync, path: '/load' })).err, Err.OK);
      assert.equal(await configText(c), final, `member ${sid} agrees on the final config`);
      assert.equal(
        (await c.getData('/load')).data?.toString(),
        String(acked),
        `member ${sid} has every write`,
      );
      await c.close();
    }
    for (const sid of observers)
      await until(
        `removed observer ${sid} to stop serving`,
        15_000,
        async () => (await e.mode(sid)) === null,
      );
    await writer.close();
    await admin.close();
  });
});

describe('voter changes', () => {
  let e: Ensemble;
  before(async () => {
    e = await startEnsemble({ voters: 3, observers: 0, config: CONFIG });
    await e.waitFormed();
  });
  after(() => e.close());

  test('unsafe or unauthorised changes are refused with ZooKeeper errors', async () => {
    const admin = await connect(e, 1, true);
    const anyone = await connect(e, 2);
    const current = await configText(admin);
    const version = Number.parseInt(/version=([0-9a-f]+)$/.exec(current)![1]!, 16);
    assert.equal((await reconfig(anyone, { leaving: '3' })).err, Err.NOAUTH);
    assert.equal((await reconfig(admin, { leaving: '2,3' })).err, Err.BADARGUMENTS, 'two voters at once');
    assert.equal((await reconfig(admin, { leaving: '3', from: version + 1 })).err, Err.BADVERSION);
    assert.equal(await configText(admin), current, 'nothing changed');
    await anyone.close();
    await admin.close();

    // With voter 3 down, removing voter 2 would leave {1, 3}, of which only 1 is up.
    await e.stop(3);
    await e.waitFormed(30_000);
    const admin1 = await connect(e, 1, true);
    assert.equal((await reconfig(admin1, { leaving: '2' })).err, Err.NEWCONFIGNOQUORUM);
    await admin1.close();
    e.start(3);
    await e.waitFormed(30_000);
  });

  test('a voter is replaced: add the new one, then remove the old one; writes carry on', async () => {
    const admin = await connect(e, 1, true);
    const joiner = await addMember(e, 4, false, await configText(admin));
    await until('the new voter to follow', 30_000, async () => (await e.mode(4)) === 'follower');
    const added = await reconfig(admin, { joining: serverLine(joiner) });
    assert.equal(added.err, Err.OK);
    assert.match(added.config, /^server\.4=.*:participant;/m);
    await admin.close();

    // Remove voter 3 (possibly the leader: then another voter takes over).
    const admin2 = await connect(e, 2, true);
    const removed = await reconfig(admin2, { leaving: '3' });
    assert.equal(removed.err, Err.OK);
    await admin2.close();
    await until('member 3 to stop serving', 20_000, async () => (await e.mode(3)) === null);
    await e.stop(3);
    e.members.delete(3);
    const leader = await e.waitFormed(30_000);
    assert.ok([1, 2, 4].includes(leader));

    const c = await connect(e, 4);
    assert.equal((await c.create('/after-replace', 'x')).err, Err.OK);
    await c.close();
    for (const sid of [1, 2]) {
      const r = await connect(e, sid);
      await r.call(OpCode.sync, { type: OpCode.sync, path: '/' });
      assert.equal((await r.exists('/after-replace')).err, Err.OK);
      assert.doesNotMatch(await configText(r), /server\.3=/);
      await r.close();
    }
  });
});
