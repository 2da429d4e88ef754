// A member removed by reconfig is dropped, and the sessions of its clients move elsewhere: real
// clients (node-zookeeper-client and Python kazoo), connected to the member about to be removed
// with connect strings that list several servers, each holding an ephemeral node and a data watch.
// After `reconfig -remove` the member stops serving and stays down (member.ts idles a server that
// is no member); the clients reconnect to another member with the same session (it never expires),
// their ephemeral nodes are still there, the watches they set before fire (node-zookeeper-client's
// re-registered by SetWatches on reconnect; kazoo's DataWatch re-arms itself), and their writes
// succeed. First for an observer, then for a follower.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import zookeeper, { type Client, type ZkEvent } from 'node-zookeeper-client';
import { ZkConnection } from '../peer/client/connection.ts';
import { Err, OpCode } from '../peer/protocol/constants.ts';
import { digestId } from './clients/drivers.ts';
import { type Ensemble, type Member, startEnsemble } from './lib/ensemble.ts';
import { call } from './lib/node-client.ts';
import { stopChild } from './lib/process.ts';
import { DEBIAN_PYTHON } from './lib/servers.ts';
import { until } from './lib/wait.ts';

const SUPER_PASSWORD = 'reconfig-sessions-test';
const CONFIG = {
  reconfigEnabled: 'true',
  standaloneEnabled: 'false',
  'DigestAuthenticationProvider.superDigest': digestId('super', SUPER_PASSWORD),
};
/** Asked of the servers; they grant at most maxSessionTimeout (20 ticks of 200 ms: 4 s). */
const SESSION_TIMEOUT_MS = 10_000;

async function admin(e: Ensemble, sid: number): Promise<ZkConnection> {
  const c = await ZkConnection.connect({ port: e.members.get(sid)!.clientPort, timeOut: 10_000 });
  assert.equal((await c.auth('digest', `super:${SUPER_PASSWORD}`)).err, Err.OK);
  return c;
}

/** host:port of every member, the one to remove first (kazoo keeps this order; see nodeClient). */
function connectString(e: Ensemble, first: number): string {
  const order = [first, ...[...e.members.keys()].filter((sid) => sid !== first)];
  return order.map((sid) => `${e.members.get(sid)!.host}:${e.members.get(sid)!.clientPort}`).join(',');
}

function sidOfPort(e: Ensemble, port: number): number | null {
  return [...e.members.values()].find((m) => m.clientPort === port)?.sid ?? null;
}

/** Whether anything accepts a TCP connection on the member's client port. */
function accepts(m: Member): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: m.host, port: m.clientPort });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// ---- node-zookeeper-client ----

interface NodeSubject {
  client: Client;
  states: string[];
  watchEvents: string[];
  session: string;
  server: () => number | null;
}

// node-zookeeper-client shuffles the servers of its connect string; the test needs it to start on
// the member to be removed, so that member goes first in its (internal) server list.
interface NodeClientInternals {
  connectionManager: { servers: { host: string; port: string | number }[]; socket?: { remotePort?: number } };
}

async function nodeClient(e: Ensemble, first: number, name: string): Promise<NodeSubject> {
  const client = zookeeper.createClient(connectString(e, first), {
    sessionTimeout: SESSION_TIMEOUT_MS,
    spinDelay: 100,
    retries: 0,
  });
  const cm = (client as unknown as NodeClientInternals).connectionManager;
  const firstPort = String(e.members.get(first)!.clientPort);
  cm.servers.sort((a, b) => Number(String(b.port) === firstPort) - Number(String(a.port) === firstPort));
  const states: string[] = [];
  for (const s of ['connected', 'disconnected', 'expired', 'authenticationFailed'])
    client.on(s, () => states.push(s));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('node-zookeeper-client did not connect')), 15_000);
    client.once('connected', () => {
      clearTimeout(t);
      resolve();
    });
    client.connect();
  });
  const server = () => {
    const port = cm.socket?.remotePort;
    return port === undefined ? null : sidOfPort(e, port);
  };
  assert.equal(server(), first, 'node-zookeeper-client starts on the member to be removed');
  await call<string>((cb) =>
    client.create(`/moved/${name}`, Buffer.from('mine'), zookeeper.CreateMode.EPHEMERAL, cb),
  );
  const watchEvents: string[] = [];
  await call<Buffer>((cb) =>
    client.getData(
      `/watched/${name}`,
      (ev: ZkEvent) => watchEvents.push(ev.getName()),
      (err, data) => cb(err, data),
    ),
  );
  return { client, states, watchEvents, session: client.getSessionId().toString('hex'), server };
}

// ---- kazoo ----

// Started on the first host of its list (randomize_hosts=False); prints one JSON line per stage and
// waits for a line on stdin between stages. Kazoo does not keep a one-shot watch across a lost
// connection: it fires it with event type NONE and forgets it (client.py _reset_watchers). Its
// DataWatch recipe is how kazoo code keeps watching, re-arming itself after the move.
const KAZOO_SUBJECT = `
import json, sys, threading, time
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

hosts, name = sys.argv[1], sys.argv[2]
states, one_shot, changes = [], [], []
fired = threading.Event()
zk = KazooClient(hosts=hosts, randomize_hosts=False, timeout=${SESSION_TIMEOUT_MS / 1000},
                 connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=0.5))
zk.add_listener(lambda s: states.append(str(s)))

def emit(**kw):
    print(json.dumps(kw), flush=True)

def peer():
    try:
        return zk._connection._socket.getpeername()[1]
    except Exception:
        return None

def watch(ev):
    one_shot.append(ev.type)

def data_watch(data, stat, event):
    if event is not None:
        changes.append([data.decode() if data else None, event.type])
        if data == b'changed':
            fired.set()

zk.start(timeout=15)
zk.create('/moved/' + name, b'mine', ephemeral=True)
zk.get('/watched/' + name, watch=watch)
zk.DataWatch('/watched/' + name, data_watch)
first = peer()
emit(stage='ready', session='%016x' % zk.client_id[0], port=first)
sys.stdin.readline()  # the member was removed
deadline = time.time() + 20
while time.time() < deadline and (not zk.connected or peer() in (None, first)):
    time.sleep(0.05)
emit(stage='moved', session='%016x' % zk.client_id[0], port=peer(), states=states,
     ephemeral=zk.exists('/moved/' + name) is not None)
sys.stdin.readline()  # the watched node was changed
emit(stage='watched', fired=fired.wait(15), one_shot=one_shot, changes=changes)
zk.set('/watched/' + name, b'written after the move')
zk.create('/moved/' + name + '-after', b'x')
emit(stage='wrote', session='%016x' % zk.client_id[0], states=states)
zk.stop()
zk.close()
`;

class KazooSubject {
  readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  stderr = '';

  constructor(cs: string, name: string) {
    this.proc = spawn(DEBIAN_PYTHON, ['-c', KAZOO_SUBJECT, cs, name], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString()).slice(-20_000);
    });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      this.lines.push(l);
      this.waiter?.();
    });
  }

  /** The next JSON line, which must be the given stage. */
  async next(stage: string, ms = 30_000): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    while (this.lines.length === 0) {
      if (Date.now() > end || this.proc.exitCode !== null)
        throw new Error(`kazoo: no "${stage}" line (exit ${this.proc.exitCode})\n${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 200);
      });
    }
    const v = JSON.parse(this.lines.shift()!) as Record<string, unknown>;
    assert.equal(v.stage, stage, `kazoo stage; stderr:\n${this.stderr}`);
    return v;
  }

  go(): void {
    this.proc.stdin!.write('go\n');
  }

  stop(): Promise<void> {
    return stopChild(this.proc, { graceMs: 2000 });
  }
}

/**
 * The scenario for one member: clients on `target`, `target` removed by reconfig, then the checks.
 * `via` is the member the super user's connection uses.
 */
async function removeAndFollowSessions(e: Ensemble, target: number, via: number): Promise<void> {
  const su = await admin(e, via);
  for (const p of ['/moved', '/watched']) {
    const r = await su.create(p, null);
    assert.ok(r.err === Err.OK || r.err === Err.NODEEXISTS, `create ${p}: ${r.err}`);
  }
  const tag = `m${target}`;
  for (const who of ['node', 'kazoo'])
    assert.equal((await su.create(`/watched/${tag}-${who}`, 'before')).err, Err.OK);

  const node = await nodeClient(e, target, `${tag}-node`);
  const kazoo = new KazooSubject(connectString(e, target), `${tag}-kazoo`);
  try {
    const ready = await kazoo.next('ready');
    assert.equal(sidOfPort(e, ready.port as number), target, 'kazoo starts on the member to be removed');
    const kazooSession = ready.session as string;

    // Both sessions are global: the leader knows their ephemeral nodes.
    for (const [who, session] of [
      ['node', node.session],
      ['kazoo', kazooSession],
    ] as const) {
      const st = (await su.exists(`/moved/${tag}-${who}`)) as unknown as { stat: { ephemeralOwner: bigint } };
      assert.equal(st.stat.ephemeralOwner.toString(16).padStart(16, '0'), session, `${who}'s ephemeral node`);
    }

    const r = await su.call(OpCode.reconfig, {
      type: OpCode.reconfig,
      joiningServers: null,
      leavingServers: String(target),
      newMembers: null,
      curConfigId: -1,
    });
    assert.equal(r.err, Err.OK, `reconfig -remove ${target}`);
    const config = (r as unknown as { data: Buffer }).data.toString('utf8');
    assert.doesNotMatch(config, new RegExp(`^server\\.${target}=`, 'm'));

    // The removed member stops serving and stays down.
    const m = e.members.get(target)!;
    await until(`member ${target} to stop serving`, 15_000, async () => (await e.mode(target)) === null);
    await until(`member ${target}'s client port to close`, 10_000, async () => !(await accepts(m)));

    // The clients move, with their sessions.
    kazoo.go();
    const moved = await kazoo.next('moved');
    await until('node-zookeeper-client to reconnect elsewhere', 20_000, () => {
      const at = node.server();
      return node.states.at(-1) === 'connected' && at !== null && at !== target;
    });
    const nodeAt = node.server()!;
    const kazooAt = sidOfPort(e, moved.port as number);
    assert.ok(kazooAt !== null && kazooAt !== target, `kazoo moved to another member (${kazooAt})`);
    assert.equal(node.client.getSessionId().toString('hex'), node.session, 'node client: same session');
    assert.equal(moved.session, kazooSession, 'kazoo: same session');
    assert.ok(!node.states.includes('expired'), `node client session never expired: ${node.states}`);
    assert.ok(!(moved.states as string[]).includes('LOST'), `kazoo session never lost: ${moved.states}`);
    assert.equal(moved.ephemeral, true, "kazoo's ephemeral node survived the move");
    assert.ok(
      await call<unknown>((cb) => node.client.exists(`/moved/${tag}-node`, undefined, cb)),
      "node client's ephemeral node survived the move",
    );
    for (const [who, session] of [
      ['node', node.session],
      ['kazoo', kazooSession],
    ] as const) {
      const st = (await su.exists(`/moved/${tag}-${who}`)) as unknown as {
        err: number;
        stat: { ephemeralOwner: bigint };
      };
      assert.equal(st.err, Err.OK, `${who}'s ephemeral node seen from member ${via}`);
      assert.equal(st.stat.ephemeralOwner.toString(16).padStart(16, '0'), session);
    }

    // The watches set through the removed member fire: SetWatches re-registered them.
    assert.deepEqual(node.watchEvents, [], 'no watch fired before the change');
    for (const who of ['node', 'kazoo'])
      assert.equal((await su.setData(`/watched/${tag}-${who}`, 'changed')).err, Err.OK);
    await until('the node client watch to fire', 10_000, () => node.watchEvents.length > 0);
    assert.deepEqual(node.watchEvents, ['NODE_DATA_CHANGED']);
    kazoo.go();
    const watched = await kazoo.next('watched');
    assert.deepEqual(watched.one_shot, ['NONE'], "kazoo's one-shot watch: told of the lost connection");
    assert.equal(watched.fired, true, `kazoo's DataWatch saw the change: ${JSON.stringify(watched.changes)}`);
    assert.deepEqual(watched.changes, [['changed', 'CHANGED']]);

    // Writes after the move succeed.
    await call((cb) => node.client.setData(`/watched/${tag}-node`, Buffer.from('after'), -1, cb));
    await call<string>((cb) => node.client.create(`/moved/${tag}-node-after`, Buffer.from('x'), cb));
    const wrote = await kazoo.next('wrote');
    assert.equal(wrote.session, kazooSession);
    assert.equal((await su.call(OpCode.sync, { type: OpCode.sync, path: '/' })).err, Err.OK);
    for (const who of ['node', 'kazoo'])
      assert.equal(
        (await su.exists(`/moved/${tag}-${who}-after`)).err,
        Err.OK,
        `${who} wrote after the move`,
      );

    // Still down a while later: a removed member idles, it does not come back to serve.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await accepts(m), false, `member ${target} accepts no client connection`);
    assert.notEqual(nodeAt, target);
  } finally {
    node.client.close();
    await kazoo.stop();
    await su.close();
  }
}

describe('a removed member is dropped and its sessions move elsewhere', { timeout: 180_000 }, () => {
  let e: Ensemble;
  before(async () => {
    e = await startEnsemble({ voters: 3, observers: 2, config: CONFIG });
    await e.waitFormed();
  });
  after(() => e.close());

  test('an observer', async () => {
    await removeAndFollowSessions(e, 4, 1);
  });

  test('a follower (a voter that does not lead)', async () => {
    const leader = await e.waitFormed(30_000, [1, 2, 3, 5]);
    const follower = [1, 2, 3].find((sid) => sid !== leader)!;
    await removeAndFollowSessions(e, follower, leader);
    // The remaining voters (two now) still commit.
    const rest = [1, 2, 3].filter((sid) => sid !== follower);
    assert.equal(await e.waitFormed(30_000, [...rest, 5]), leader);
  });
});
