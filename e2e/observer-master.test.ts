// Observer masters end to end (observerMasterPort, zk-protocol.md §2.9): 3 voters and 2 observers on
// loopback, each member on an address of its own so that every follower can listen on the same
// observer-master port. The observers sync from followers, never from the leader (shown by the
// leader's and the followers' learner lists and mntr); clients on the observers write, read their
// writes, sync, keep their sessions alive and lose their ephemerals on expiry, all through a
// follower; killing the follower an observer syncs from, or removing it by reconfig, moves its
// observers to another one with no acknowledged write lost. A master's port has the leader's learner
// guard (the shared secret here).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZkConnection } from '../peer/client/connection.ts';
import { freeLoopbackPort } from '../peer/ensemble/local.ts';
import { parseExposition, sampleValue } from '../peer/metrics/testutil.ts';
import { CreateFlags, Err, OpCode } from '../peer/protocol/constants.ts';
import { type Ensemble, startEnsemble } from './lib/ensemble.ts';
import { fourLetterWord } from './lib/servers.ts';
import { until } from './lib/wait.ts';
import { writeLoad } from './lib/write-load.ts';

const host = (sid: number) => `127.0.0.${sid}`;

async function connect(e: Ensemble, sid: number, timeOut = 10_000): Promise<ZkConnection> {
  const m = e.members.get(sid)!;
  return ZkConnection.connect({ host: m.host, port: m.clientPort, timeOut });
}

async function mntr(e: Ensemble, sid: number): Promise<Map<string, string>> {
  const m = e.members.get(sid)!;
  const text = await fourLetterWord(m.host, m.clientPort, 'mntr');
  return new Map(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t') as [string, string]),
  );
}

async function admin(e: Ensemble, sid: number, path: string): Promise<string> {
  const m = e.members.get(sid)!;
  const r = await fetch(`http://${m.host}:${m.adminPort}${path}`, { signal: AbortSignal.timeout(5000) });
  return r.text();
}

/** sid of the follower each observer syncs from, once all sync through followers (other than `gone`). */
async function mastersOf(
  e: Ensemble,
  observers: number[],
  leader: number,
  gone?: number,
): Promise<Map<number, number>> {
  return until(
    'the observers to sync from followers',
    20_000,
    async () => {
      const out = new Map<number, number>();
      for (const sid of observers) {
        const id = Number((await mntr(e, sid).catch(() => new Map())).get('zk_observer_master_id') ?? -1);
        if (id < 1 || id === leader || id === gone) return null;
        out.set(sid, id);
      }
      return out;
    },
    { retryErrors: true },
  );
}

async function children(c: ZkConnection, path = '/'): Promise<string[]> {
  return ((await c.getChildren(path)) as { children: string[] }).children;
}

describe('3 voters + 2 observers with observer masters', () => {
  let e: Ensemble;
  let leader: number;
  let followers: number[];

  before(async () => {
    const port = await freeLoopbackPort();
    e = await startEnsemble({ voters: 3, observers: 2, hostFor: host, config: { observerMasterPort: port } });
    leader = await e.waitFormed();
    followers = [1, 2, 3].filter((s) => s !== leader);
  });
  after(() => e?.close());

  test('the observers sync from followers: the leader hosts none, the followers host both', async () => {
    const masters = await mastersOf(e, [4, 5], leader);
    for (const m of masters.values()) assert.ok(followers.includes(m), `master ${m} is a follower`);
    const lm = await mntr(e, leader);
    assert.equal(lm.get('zk_learners'), '2', 'the leader has the two followers as learners, no observer');
    assert.equal(lm.get('zk_synced_observers'), '0');
    assert.deepEqual(JSON.parse(await admin(e, leader, '/commands/observers')).observers, []);
    let hosted = 0;
    for (const f of followers) {
      const fm = await mntr(e, f);
      const mine = [...masters].filter(([, m]) => m === f).map(([o]) => o);
      assert.equal(fm.get('zk_synced_observers'), String(mine.length), `follower ${f}`);
      const obsr = JSON.parse(await admin(e, f, '/commands/observers'));
      assert.deepEqual(
        obsr.observers.map((o: { sid: number }) => o.sid).sort(),
        mine.sort(),
        `follower ${f} lists its observers`,
      );
      hosted += mine.length;
    }
    assert.equal(hosted, 2);
    // The observer's metrics name its master; `leader` still names the leader.
    for (const [o, m] of masters) {
      const f = parseExposition(await admin(e, o, '/metrics'));
      assert.equal(sampleValue(f, 'zkensemble_learner_master', { master_sid: String(m) }), 1);
      const lead = JSON.parse(await admin(e, o, '/commands/leader'));
      assert.equal(lead.leader_id, leader);
    }
  });

  test('clients on the observers write, read their writes, and sync', async () => {
    const a = await connect(e, 4);
    const b = await connect(e, 5);
    for (let i = 0; i < 20; i++) {
      const c = i % 2 === 0 ? a : b;
      assert.equal((await c.create(`/w${i}`, `v${i}`)).err, Err.OK);
      // Read your own write, on the member that took it.
      assert.equal(((await c.getData(`/w${i}`)) as { data: Buffer }).data.toString(), `v${i}`);
    }
    const viaLeader = await connect(e, leader);
    assert.equal((await viaLeader.setData('/w0', 'from the leader', -1)).err, Err.OK);
    // After sync(), an observer has every write acknowledged anywhere before it.
    for (const c of [a, b]) {
      assert.equal((await c.sync('/')).err, Err.OK);
      assert.equal(((await c.getData('/w0')) as { data: Buffer }).data.toString(), 'from the leader');
      assert.equal((await children(c)).filter((n) => n.startsWith('w')).length, 20);
    }
    for (const c of [a, b, viaLeader]) c.destroy();
  });

  test('sessions through a master: touches keep a session alive, a moved session is revalidated, expiry removes its ephemerals', async () => {
    // tickTime 200: a 1 s session expires unless the observer's touches reach the leader.
    const c = await connect(e, 4, 1000);
    assert.equal((await c.create('/alive', 'x', undefined, CreateFlags.EPHEMERAL)).err, Err.OK);
    const end = Date.now() + 4000;
    while (Date.now() < end) {
      assert.equal((await c.ping()).err, Err.OK);
      await sleep(200);
    }
    const check = await connect(e, leader);
    assert.equal((await check.exists('/alive')).err, Err.OK, 'the session outlived 4 timeouts while pinging');
    // The session moves to the other observer: its master asks the leader (REVALIDATE).
    const moved = await ZkConnection.connect({
      host: host(5),
      port: e.members.get(5)!.clientPort,
      timeOut: 1000,
      sessionId: c.sessionId,
      passwd: c.passwd,
    });
    assert.equal(moved.sessionId, c.sessionId, 'the other observer took the session over');
    c.destroy();
    assert.deepEqual(((await moved.getEphemerals('/')) as { ephemerals: string[] }).ephemerals, ['/alive']);
    // Silence: the leader expires the session and the observers see its ephemeral go.
    moved.destroy();
    const watcher = await connect(e, 5);
    await until('the ephemeral of the expired session to go', 10_000, async () => {
      await watcher.sync('/');
      return (await watcher.exists('/alive')).err === Err.NONODE;
    });
    watcher.destroy();
    check.destroy();
  });

  test('kill -9 of a master: its observers move to another follower, catch up, and no acknowledged write is lost', async () => {
    const masters = await mastersOf(e, [4, 5], leader);
    const victim = masters.get(4)!;
    const survivor = followers.find((f) => f !== victim)!;
    const load = writeLoad([4, 5].map((sid) => ({ name: `k${sid}`, connect: () => connect(e, sid) })));
    const acked = load.acked;
    await until('some writes', 10_000, () => acked.size >= 40);
    const before = acked.size;
    await e.kill9(victim);
    const moved = await mastersOf(e, [4, 5], leader, victim);
    assert.equal(moved.get(4), survivor, 'observer 4 moved to the other follower');
    assert.equal(moved.get(5), survivor);
    await until('writes through both observers after the move', 30_000, () => acked.size >= before + 40);
    await load.stop();
    assert.ok(load.failures > 0, 'the clients of the killed master saw it go');
    for (const sid of [leader, survivor, 4, 5]) {
      const c = await connect(e, sid);
      await c.sync('/');
      const names = new Set(await children(c));
      for (const path of acked) assert.ok(names.has(path.slice(1)), `member ${sid} has acknowledged ${path}`);
      c.destroy();
    }
    assert.equal((await mntr(e, survivor)).get('zk_synced_observers'), '2');
  });
});

describe('reconfig removes the follower observers sync from', () => {
  let e: Ensemble;
  before(async () => {
    const port = await freeLoopbackPort();
    e = await startEnsemble({
      voters: 3,
      observers: 2,
      hostFor: host,
      config: { observerMasterPort: port, reconfigEnabled: 'true', skipACL: 'yes' },
    });
  });
  after(() => e?.close());

  test('its observers are dropped, sync from the remaining follower, and keep every write', async () => {
    const leader = await e.waitFormed();
    const masters = await mastersOf(e, [4, 5], leader);
    const victim = masters.get(4)!;
    const survivor = [1, 2, 3].find((s) => s !== leader && s !== victim)!;
    const c = await connect(e, leader);
    for (let i = 0; i < 10; i++) assert.equal((await c.create(`/before${i}`, 'x')).err, Err.OK);
    const r = await c.call(OpCode.reconfig, {
      type: OpCode.reconfig,
      joiningServers: null,
      leavingServers: String(victim),
      newMembers: null,
      curConfigId: -1,
    });
    assert.equal(r.err, Err.OK);
    const moved = await mastersOf(e, [4, 5], leader, victim);
    assert.deepEqual([moved.get(4), moved.get(5)], [survivor, survivor]);
    for (let i = 0; i < 10; i++) assert.equal((await c.create(`/after${i}`, 'x')).err, Err.OK);
    for (const sid of [4, 5]) {
      const o = await connect(e, sid);
      await o.sync('/');
      const names = await children(o);
      assert.equal(names.filter((n) => /^(before|after)\d$/.test(n)).length, 20, `observer ${sid}`);
      const config = ((await o.getData('/zookeeper/config')) as { data: Buffer }).data.toString();
      assert.doesNotMatch(config, new RegExp(`^server\\.${victim}=`, 'm'), 'the observer has the new config');
      o.destroy();
    }
    c.destroy();
  });
});

describe('observer-master port behind the learner guard', () => {
  let e: Ensemble;
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zke-om-secret-'));
    writeFileSync(join(dir, 'good'), 'the ensemble secret, long enough\n');
    writeFileSync(join(dir, 'bad'), 'some other secret, also long enough\n');
    const port = await freeLoopbackPort();
    e = await startEnsemble({
      voters: 3,
      observers: 2,
      hostFor: host,
      config: { observerMasterPort: port },
      // Observer 5 has the wrong secret: it can vote (the election port asks for no secret) and
      // learn who leads, but no follower lets it sync.
      extraFor: (sid) => ({ 'learner.sharedSecretFile': join(dir, sid === 5 ? 'bad' : 'good') }),
    });
  });
  after(async () => {
    await e?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('an observer without the shared secret is refused by the masters, logged and counted', async () => {
    const leader = await e.waitFormed(30_000, [1, 2, 3, 4]);
    await mastersOf(e, [4], leader);
    const followers = [1, 2, 3].filter((s) => s !== leader);
    const refused = async () => {
      let n = 0;
      for (const f of followers) {
        const m = parseExposition(await admin(e, f, '/metrics'));
        n += sampleValue(m, 'zkensemble_learner_connections_refused_total', { reason: 'shared_secret' }) ?? 0;
      }
      return n;
    };
    await until('a follower to refuse observer 5', 20_000, async () => (await refused()) >= 1);
    assert.equal(await e.mode(5), null, 'observer 5 does not serve');
    const refusals = followers
      .flatMap((f) => e.members.get(f)!.output.split('\n'))
      .filter((l) => l.includes('learner connection refused'));
    assert.ok(refusals.length > 0, 'a follower logged the refusal');
    for (const l of refusals) {
      assert.match(l, /"listener":"observer master"/);
      assert.match(l, /wrong shared secret/);
    }
    // The leader was never asked: it is not an observer master.
    const lm = parseExposition(await admin(e, leader, '/metrics'));
    assert.equal(
      sampleValue(lm, 'zkensemble_learner_connections_refused_total', { reason: 'shared_secret' }),
      0,
    );
  });
});
