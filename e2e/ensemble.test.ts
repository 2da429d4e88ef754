// Multi-process ensembles on loopback with real clients: roles, observers fed by INFORM only,
// observers' votes not counting, failover under load without losing acknowledged writes, and
// observers catching up by DIFF and by SNAP.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ZkConnection } from '../peer/client/connection.ts';
import { Err } from '../peer/protocol/constants.ts';
import { type Ensemble, startEnsemble } from './lib/ensemble.ts';
import { until } from './lib/wait.ts';
import { writeLoad } from './lib/write-load.ts';

async function connect(e: Ensemble, sid: number): Promise<ZkConnection> {
  return ZkConnection.connect({ port: e.members.get(sid)!.clientPort, timeOut: 10_000 });
}

function packetsReceived(e: Ensemble, sid: number, type: string): number {
  const re = new RegExp(`"input":"packet ${type} `, 'g');
  return e.members.get(sid)!.output.match(re)?.length ?? 0;
}

describe('3 voters + 2 observers', () => {
  let e: Ensemble;
  before(async () => {
    e = await startEnsemble({ voters: 3, observers: 2, logLevel: 'debug' });
    await e.waitFormed();
  });
  after(() => e.close());

  test('one leader, two followers, two observers; writes anywhere are read everywhere', async () => {
    const modes = await Promise.all([1, 2, 3, 4, 5].map((sid) => e.mode(sid)));
    assert.equal(modes.filter((m) => m === 'leader').length, 1);
    assert.equal(modes.filter((m) => m === 'follower').length, 2);
    assert.deepEqual(modes.slice(3), ['observer', 'observer']);
    const viaObserver = await connect(e, 4);
    const viaFollower = await connect(e, modes.indexOf('follower') + 1);
    for (let i = 0; i < 20; i++) {
      const c = i % 2 === 0 ? viaObserver : viaFollower;
      assert.equal((await c.create(`/n${i}`, `v${i}`)).err, Err.OK);
    }
    for (const sid of [1, 2, 3, 4, 5]) {
      const c = await connect(e, sid);
      assert.equal((await c.sync('/')).err, Err.OK);
      const r = await c.getChildren('/');
      assert.equal(
        (r as { children: string[] }).children.filter((n) => n.startsWith('n')).length,
        20,
        `member ${sid}`,
      );
      const d = await c.getData('/n19');
      assert.equal((d as { data: Buffer }).data.toString(), 'v19');
      c.destroy();
    }
    viaObserver.destroy();
    viaFollower.destroy();
  });

  test('observers get INFORM and never PROPOSAL; followers get PROPOSAL and COMMIT', async () => {
    const leader = await e.waitFormed();
    const c = await connect(e, leader);
    for (let i = 0; i < 5; i++) assert.equal((await c.create(`/p${i}`, 'x')).err, Err.OK);
    c.destroy();
    const followers = [1, 2, 3].filter((s) => s !== leader);
    // Members' logs reach us through pipes, a little after the fact.
    await until(
      'every learner to log the writes',
      5000,
      () =>
        [4, 5].every((sid) => packetsReceived(e, sid, 'INFORM') >= 5) &&
        followers.every((sid) => packetsReceived(e, sid, 'PROPOSAL') >= 5),
    );
    for (const sid of [4, 5]) {
      assert.ok(packetsReceived(e, sid, 'INFORM') >= 5, `observer ${sid} got INFORMs`);
      assert.equal(packetsReceived(e, sid, 'PROPOSAL'), 0, `observer ${sid} got no PROPOSAL`);
      assert.equal(packetsReceived(e, sid, 'COMMIT'), 0, `observer ${sid} got no COMMIT`);
    }
    for (const sid of followers) {
      assert.ok(packetsReceived(e, sid, 'PROPOSAL') >= 5, `follower ${sid} got PROPOSALs`);
      assert.equal(packetsReceived(e, sid, 'INFORM'), 0);
    }
  });
  test('a session moves between members: the leader revalidates it, ephemerals follow, a closed one is refused', async () => {
    const leader = await e.waitFormed();
    const follower = [1, 2, 3].find((s) => s !== leader)!;
    const a = await connect(e, follower);
    assert.equal((await a.create('/moving', 'x', undefined, 1)).err, Err.OK);
    const b = await ZkConnection.connect({
      port: e.members.get(4)!.clientPort,
      timeOut: 10_000,
      sessionId: a.sessionId,
      passwd: a.passwd,
    });
    assert.equal(b.sessionId, a.sessionId, 'the observer accepted the session');
    // The member's log reaches us through a pipe, a little after the handshake.
    await until(
      'the observer to log the REVALIDATE answer',
      5000,
      () => packetsReceived(e, 4, 'REVALIDATE') >= 1,
    );
    const eph = (await b.getEphemerals('/')) as { ephemerals: string[] };
    assert.deepEqual(eph.ephemerals, ['/moving']);
    assert.equal((await b.closeSession()).err, Err.OK);
    b.destroy();
    a.destroy();
    const c = await connect(e, 5);
    await c.sync('/');
    assert.equal((await c.exists('/moving')).err, Err.NONODE, 'the ephemeral went with the session');
    c.destroy();
    const again = await ZkConnection.open({ port: e.members.get(5)!.clientPort });
    const resp = await again.handshake({
      protocolVersion: 0,
      lastZxidSeen: 0,
      timeOut: 10_000,
      sessionId: a.sessionId,
      passwd: a.passwd,
      readOnly: false,
    });
    assert.equal(resp.timeOut, 0, 'a closed session is refused on any member');
    again.destroy();
  });
});

describe("observers' votes do not count", () => {
  let e: Ensemble;
  before(async () => {
    e = await startEnsemble({ voters: 3, observers: 2 });
    await e.waitFormed();
  });
  after(() => e.close());

  test('one voter and two observers (3 of 5 members) cannot elect a leader', async () => {
    await e.kill9(2);
    await e.kill9(3);
    // If observers voted, member 1 plus the two observers would be a majority of five.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      for (const sid of [1, 4, 5]) {
        const p = e.members.get(sid)!.process!;
        assert.ok(p.exitCode === null && p.signalCode === null, `member ${sid} is still running`);
      }
      const modes = await Promise.all([1, 4, 5].map((sid) => e.mode(sid)));
      assert.ok(!modes.includes('leader'), `nobody leads without a voter quorum (${modes.join(',')})`);
      await new Promise((r) => setTimeout(r, 250));
    }
    e.start(3);
    const leader = await e.waitFormed();
    assert.ok([1, 3].includes(leader), 'a voter leads once two voters are up');
  });
});

describe('failover under write load', () => {
  let e: Ensemble;
  before(async () => {
    e = await startEnsemble({ voters: 3, observers: 1 });
    await e.waitFormed();
  });
  after(() => e.close());

  test('kill -9 of the leader: a new leader is elected, observer clients carry on, no acknowledged write is lost', async () => {
    const leader = await e.waitFormed();
    const load = writeLoad(['a', 'b', 'c'].map((name) => ({ name, connect: () => connect(e, 4) })));
    const acked = load.acked;
    await until('some writes', 10_000, () => acked.size >= 30);
    const before = acked.size;
    await e.kill9(leader);
    await until('writes after the failover', 30_000, () => acked.size >= before + 30);
    await load.stop();
    const newLeader = await e.waitFormed();
    assert.notEqual(newLeader, leader);
    for (const sid of [1, 2, 3, 4].filter((s) => s !== leader)) {
      const c = await connect(e, sid);
      await c.sync('/');
      const children = ((await c.getChildren('/')) as { children: string[] }).children;
      for (const path of acked)
        assert.ok(children.includes(path.slice(1)), `member ${sid} has acknowledged ${path}`);
      c.destroy();
    }
    assert.ok(load.failures > 0, 'the clients did see the failover');
    // Each survivor went back to its disk's state by applying what it logged above its tree, not by
    // reading everything again; the acknowledged writes above show that nothing went missing.
    for (const sid of [1, 2, 3, 4].filter((s) => s !== leader)) {
      const back = e.members
        .get(sid)!
        .output.split('\n')
        .filter((l) => l.includes('database back to what the disk holds'));
      assert.ok(back.length >= 1, `member ${sid} logged its way back to the disk's state`);
      assert.match(back[0]!, /"how":"fast-forwarded"/);
    }
  });
});

describe('observer catch-up', () => {
  let e: Ensemble;
  before(async () => {
    e = await startEnsemble({ voters: 3, observers: 1, logLevel: 'debug' });
    await e.waitFormed();
  });
  after(() => e.close());

  async function writeMany(n: number, prefix: string, data = 'x'): Promise<void> {
    const c = await connect(e, 1);
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) batch.push(c.create(`/${prefix}${i}`, data));
    const results = (await Promise.all(batch)) as { err: number }[];
    assert.ok(results.every((r) => r.err === Err.OK));
    c.destroy();
  }

  async function observerHas(prefix: string, n: number): Promise<boolean> {
    const c = await connect(e, 4).catch(() => null);
    if (!c) return false;
    const kids = ((await c.getChildren('/')) as { children?: string[] }).children ?? [];
    c.destroy();
    return kids.filter((k) => k.startsWith(prefix)).length === n;
  }

  test('a restarted observer that missed a few txns catches up by DIFF, after many by SNAP', async () => {
    // First give the observer a history inside the leader's committed log.
    await writeMany(5, 'warm');
    await until('the observer to have the first writes', 20_000, () => observerHas('warm', 5));
    await e.stop(4);
    await writeMany(10, 'few');
    e.members.get(4)!.output = '';
    e.start(4);
    await until('the observer to catch up', 20_000, () => observerHas('few', 10));
    assert.ok(packetsReceived(e, 4, 'DIFF') >= 1, 'synced by DIFF');
    assert.equal(packetsReceived(e, 4, 'SNAP'), 0);

    await e.stop(4);
    // 1 KiB values: the snapshot goes out in several chunks, and writes go on while it does.
    await writeMany(700, 'many', 'v'.repeat(1024));
    e.members.get(4)!.output = '';
    const load = writeLoad([{ name: 'during', connect: () => connect(e, 2) }]);
    e.start(4);
    await until('the observer to catch up', 20_000, () => observerHas('many', 700));
    await until('writes after it serves', 10_000, async () => load.acked.size >= 50);
    await load.stop();
    assert.ok(packetsReceived(e, 4, 'SNAP') >= 1, 'synced by SNAP after more than the committed log holds');
    // What it got (a snapshot taken while the tree changed, then the txns after its zxid) is the tree.
    const voter = await connect(e, 1);
    const observer = await connect(e, 4);
    await voter.sync('/');
    await observer.sync('/');
    const kids = async (c: ZkConnection) =>
      ((await c.getChildren('/')) as { children: string[] }).children.sort();
    const seen = await kids(observer);
    assert.deepEqual(seen, await kids(voter));
    for (const path of load.acked) assert.ok(seen.includes(path.slice(1)), `observer has ${path}`);
    voter.destroy();
    observer.destroy();
  });
});
