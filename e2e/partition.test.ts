// Network partitions of a peer ensemble, with Linux network namespaces: every member runs in a
// namespace of its own on a private bridge (10.231.0.0/24), and every client runs inside a namespace
// too (e2e/lib/ns-client.ts), since traffic from the root namespace to these addresses would leave
// the machine. Partitions are real: a member's veth goes down, or groups move to separate bridges.
// Needs root, iproute2 (`ip netns`) and util-linux's setpriv; the whole file is skipped without root
// and fails as root without a working `ip netns`. Members log at debug level, so a test can tell how
// a member was synced (DIFF/TRUNC/SNAP). PARTITION_SERVER=zookeeper runs the same tests against
// Apache ZooKeeper; PARTITION_KEEP=1 keeps data dirs and member logs (always kept when a test fails).
// Read-only mode (readonlymode.enabled) is tested here too: with the unmodified kazoo client as well
// as this repository's own.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Err } from '../peer/protocol/constants.ts';
import { createNetwork, type NetnsNetwork, netnsMissing, removeStaleNamespaces } from './lib/netns.ts';
import { type DumpedNode, type NsAgent, type NsOp, type NsReply, startAgent } from './lib/ns-client.ts';
import { stopChild } from './lib/process.ts';
import { skipUnlessRoot } from './lib/root-only.ts';
import { DEBIAN_PYTHON, modeOf, REPO_ROOT, ZK_CLASSPATH } from './lib/servers.ts';
import { until } from './lib/wait.ts';

const skip = await skipUnlessRoot('network namespaces need CAP_NET_ADMIN', netnsMissing);
if (!skip) await removeStaleNamespaces();

const CLIENT_PORT = 2181;
/** PARTITION_SERVER=zookeeper runs the same tests against Apache ZooKeeper (QuorumPeerMain), to check them. */
const SERVER = process.env.PARTITION_SERVER === 'zookeeper' ? 'zookeeper' : 'peer';

interface NsMember {
  sid: number;
  observer: boolean;
  /** readonlymode.enabled (zoo.cfg for the peer, a JVM flag for ZooKeeper). */
  readOnlyMode: boolean;
  host: string;
  addr: string;
  dataDir: string;
  configPath: string;
  proc: ChildProcess | null;
  output: string;
}

/** An ensemble whose members each live in a namespace `m<sid>`, plus a client namespace `c`. */
class NsEnsemble {
  readonly net: NetnsNetwork;
  readonly root: string;
  readonly members = new Map<number, NsMember>();
  private readonly agents = new Map<string, NsAgent>();
  failed = false;

  private constructor(net: NetnsNetwork, root: string) {
    this.net = net;
    this.root = root;
  }

  static async create(
    voters: number,
    observers: number,
    opts: { readOnlyMode?: (sid: number) => boolean } = {},
  ): Promise<NsEnsemble> {
    const total = voters + observers;
    const hosts = [...Array.from({ length: total }, (_, i) => `m${i + 1}`), 'c'];
    const net = await createNetwork(hosts, '10.231.0', (name, i) =>
      name === 'c' ? '10.231.0.100' : `10.231.0.${i + 1}`,
    );
    const e = new NsEnsemble(net, mkdtempSync(join(tmpdir(), 'zke-partition-')));
    try {
      await net.checkConnectivity();
      for (let sid = 1; sid <= total; sid++) {
        const host = `m${sid}`;
        const dataDir = join(e.root, host);
        mkdirSync(dataDir, { recursive: true });
        writeFileSync(join(dataDir, 'myid'), `${sid}\n`);
        e.members.set(sid, {
          sid,
          observer: sid > voters,
          readOnlyMode: opts.readOnlyMode?.(sid) ?? false,
          host,
          addr: net.host(host).addr,
          dataDir,
          configPath: join(dataDir, 'zoo.cfg'),
          proc: null,
          output: '',
        });
      }
      const servers = [...e.members.values()].map(
        (m) => `server.${m.sid}=${m.addr}:2888:3888${m.observer ? ':observer' : ''}`,
      );
      for (const m of e.members.values()) {
        const lines = [
          'tickTime=200',
          'initLimit=10',
          'syncLimit=5',
          `dataDir=${m.dataDir}`,
          `clientPort=${CLIENT_PORT}`,
          `clientPortAddress=${m.addr}`,
          'maxClientCnxns=0',
          '4lw.commands.whitelist=*',
          'admin.enableServer=false',
          ...(m.observer ? ['peerType=observer'] : []),
          ...(m.readOnlyMode && SERVER === 'peer' ? ['readonlymode.enabled=true'] : []),
          // ZooKeeper 3.8.0's read-only server never answers the ConnectRequest of a new global
          // session (zkCli -r, kazoo and this repository's client alike); local sessions it serves.
          ...(m.readOnlyMode && SERVER === 'zookeeper' ? ['localSessionsEnabled=true'] : []),
          ...servers,
        ];
        writeFileSync(m.configPath, `${lines.join('\n')}\n`);
      }
      for (const sid of e.members.keys()) e.start(sid);
    } catch (err) {
      await e.close();
      throw err;
    }
    return e;
  }

  member(sid: number): NsMember {
    return this.members.get(sid)!;
  }

  start(sid: number): void {
    const m = this.member(sid);
    const argv =
      SERVER === 'zookeeper'
        ? [
            'java',
            '-cp',
            ZK_CLASSPATH,
            '-Xmx256m',
            '-Dzookeeper.root.logger=INFO,CONSOLE',
            '-Dzookeeper.admin.enableServer=false',
            ...(m.readOnlyMode ? ['-Dreadonlymode.enabled=true'] : []),
            'org.apache.zookeeper.server.quorum.QuorumPeerMain',
            m.configPath,
          ]
        : [process.execPath, join(REPO_ROOT, 'bin', 'zkensemble'), 'peer', m.configPath];
    // setpriv (util-linux) execs the server with a parent-death signal: should this test process die,
    // its members die with it instead of running on inside namespaces nobody deletes.
    const p = this.net.spawn(m.host, ['setpriv', '--pdeathsig', 'KILL', ...argv], {
      env: { ...process.env, LOG_LEVEL: 'debug' },
    });
    const keep = (c: Buffer) => {
      m.output += c.toString();
      if (m.output.length > 16_000_000) m.output = m.output.slice(-8_000_000);
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    m.proc = p;
  }

  async stop(sid: number): Promise<void> {
    const p = this.member(sid).proc;
    if (p) await stopChild(p, { graceMs: 3000 });
  }

  /** The client agent running in namespace `host` (started on first use). */
  agent(host: string): NsAgent {
    let a = this.agents.get(host);
    if (!a) {
      a = startAgent(this.net, host);
      this.agents.set(host, a);
    }
    return a;
  }

  /** Runs ops on member sid, from the client namespace `from` (default `c`). */
  ops(
    sid: number,
    ops: NsOp[],
    opts: { from?: string; timeoutMs?: number; conn?: string; readOnly?: boolean } = {},
  ): Promise<NsReply> {
    return this.agent(opts.from ?? 'c').request({
      host: this.member(sid).addr,
      port: CLIENT_PORT,
      timeoutMs: opts.timeoutMs ?? 3000,
      conn: opts.conn,
      readOnly: opts.readOnly,
      ops,
    });
  }

  /** A four-letter word's reply from member sid, or null when it does not answer. */
  async word(sid: number, word: string, from = 'c'): Promise<string | null> {
    const r = await this.agent(from).request({
      host: this.member(sid).addr,
      port: CLIENT_PORT,
      timeoutMs: 1000,
      fourLetter: word,
    });
    return r.ok ? (r.results[0]?.text ?? '') : null;
  }

  /** `Mode:` from srvr, or null when the member does not serve; asked from `from` (default `c`). */
  async mode(sid: number, from = 'c'): Promise<string | null> {
    const text = await this.word(sid, 'srvr', from);
    return text === null ? null : modeOf(text);
  }

  async modes(sids: number[], from = 'c'): Promise<Map<number, string | null>> {
    const got = await Promise.all(sids.map((s) => this.mode(s, from)));
    return new Map(sids.map((s, i) => [s, got[i]!]));
  }

  /** Waits until every member in sids serves (not read-only) and exactly one leads; returns its sid. */
  waitFormed(sids: number[], timeoutMs: number, from = 'c'): Promise<number> {
    let last = '';
    return until(
      `a formed ensemble of ${sids.join(',')}`,
      timeoutMs,
      async () => {
        const modes = await this.modes(sids, from);
        last = [...modes].map(([s, m]) => `${s}=${m}`).join(' ');
        const leaders = sids.filter((s) => modes.get(s) === 'leader');
        const serving = [...modes.values()].every((m) => m !== null && m !== 'read-only');
        return serving && leaders.length === 1 ? leaders[0]! : null;
      },
      { everyMs: 150, detail: () => `modes: ${last}` },
    );
  }

  /** sync + full dump of the tree of every member in sids (from `c`), once they all agree. */
  async converged(sids: number[], timeoutMs: number): Promise<Record<string, DumpedNode>> {
    let last: (Record<string, DumpedNode> | null)[] = [];
    const end = Date.now() + timeoutMs;
    for (;;) {
      last = await Promise.all(
        sids.map(async (sid) => {
          const r = await this.ops(
            sid,
            [
              { op: 'sync', path: '/' },
              { op: 'dump', path: '/' },
            ],
            { timeoutMs: 5000 },
          );
          return r.ok && r.results[1]?.err === 0 ? r.results[1].nodes! : null;
        }),
      );
      const first = JSON.stringify(last[0]);
      if (last[0] && last.every((d) => JSON.stringify(d) === first)) return last[0];
      if (Date.now() > end) break;
      await sleep(300);
    }
    // Report the differences, path by path, against the tree most members hold.
    const votes = new Map<string, number>();
    for (const d of last) if (d) votes.set(JSON.stringify(d), (votes.get(JSON.stringify(d)) ?? 0) + 1);
    const common = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
    const baseIndex = last.findIndex((d) => d && JSON.stringify(d) === common);
    const base = last[baseIndex] ?? {};
    const baseSid = sids[baseIndex];
    for (const [i, d] of last.entries()) {
      if (!d) assert.fail(`member ${sids[i]} did not answer sync + dump`);
      const diff = treeDiff(base, d);
      if (diff.length > 0)
        assert.fail(`member ${sids[i]}'s tree differs from member ${baseSid}'s:\n  ${diff.join('\n  ')}`);
    }
    return base;
  }

  /** Tail of every member's log, for failure messages. */
  logs(lines = 25): string {
    return [...this.members.values()]
      .map(
        (m) => `--- member ${m.sid} (${m.addr})\n${m.output.trimEnd().split('\n').slice(-lines).join('\n')}`,
      )
      .join('\n');
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    await Promise.all([...this.members.keys()].map((sid) => this.stop(sid)));
    await this.net.destroy();
    if (this.failed || process.env.PARTITION_KEEP) {
      for (const m of this.members.values()) writeFileSync(join(this.root, `member${m.sid}.log`), m.output);
      console.error(
        `partition test data and member logs kept in ${this.root}\n${this.failed ? this.logs() : ''}`,
      );
    } else rmSync(this.root, { recursive: true, force: true });
  }
}

/** An afterEach hook: after a failed test the ensemble keeps its data dirs and member logs (see close()). */
function keepLogsOnFailure(ensemble: () => NsEnsemble | undefined) {
  // TestContext.passed exists at run time (Node >= 21.7) but not in @types/node's TestContext.
  return (t: object) => {
    const e = ensemble();
    if ('passed' in t && t.passed === false && e) e.failed = true;
  };
}

/** Writes `/${prefix}-N` in a loop through the given members (from namespace `from`) until stopped. */
function writer(e: NsEnsemble, prefix: string, targets: () => number[], from = 'c') {
  const acked = new Set<string>();
  const replies: NsReply[] = [];
  let stopped = false;
  const done = (async () => {
    let i = 0;
    let t = 0;
    while (!stopped) {
      const list = targets();
      const sid = list[t % list.length]!;
      const path = `/${prefix}-${i}`;
      const r = await e.ops(sid, [{ op: 'create', path, data: `${prefix}${i}` }], { from, timeoutMs: 3000 });
      replies.push(r);
      if (r.ok && r.results[0]?.err === Err.OK) {
        acked.add(path);
        i++;
        // Paced: each write is three txns (session, create, close), and a rejoining member should
        // find its last zxid inside the new leader's committed log (DIFF/TRUNC rather than SNAP).
        await sleep(40);
      } else if (r.ok && r.results[0]?.err === Err.NODEEXISTS) {
        i++; // an earlier attempt that timed out did commit
      } else {
        t++;
        await sleep(100);
      }
    }
  })();
  return {
    acked,
    replies,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** Tries writes on the cut-off side in a loop; every reply is kept (none may be an OK). */
function isolatedWriter(e: NsEnsemble, prefix: string, pairs: { from: string; sid: number }[]) {
  const replies: { from: string; sid: number; path: string; reply: NsReply }[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const { from, sid } = pairs[i % pairs.length]!;
      const path = `/${prefix}-${i}`;
      const reply = await e.ops(sid, [{ op: 'create', path, data: 'lost' }], { from, timeoutMs: 2500 });
      replies.push({ from, sid, path, reply });
      await sleep(200);
    }
  })();
  return {
    replies,
    async stop() {
      stopped = true;
      await done;
    },
    committed() {
      return replies.filter((r) => r.reply.ok && r.reply.results[0]?.err === Err.OK);
    },
  };
}

/** Paths that differ between two dumps (at most 10, then a count), as readable lines. */
function treeDiff(a: Record<string, DumpedNode>, b: Record<string, DumpedNode>): string[] {
  const out: string[] = [];
  for (const path of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const x = a[path];
    const y = b[path];
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    if (!y) out.push(`${path}: missing`);
    else if (!x) out.push(`${path}: extra ${JSON.stringify(y)}`);
    else out.push(`${path}: ${JSON.stringify(y)} instead of ${JSON.stringify(x)}`);
  }
  return out.length > 10 ? [...out.slice(0, 10), `... ${out.length - 10} more`] : out;
}

/** The sync packets (DIFF, TRUNC, SNAP) a member received, from its debug log. */
function syncPackets(output: string): string {
  const got = [...output.matchAll(/"input":"packet (DIFF|TRUNC|SNAP)\b/g)].map((m) => m[1]);
  return got.length > 0 ? got.join(' ') : 'no sync packet';
}

function summary(replies: NsReply[]): string {
  const counts = new Map<string, number>();
  for (const r of replies) {
    const k = r.ok ? `err ${r.results[0]?.err}` : (r.code ?? 'error');
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}: ${n}`).join(', ');
}

/**
 * Restarts members that were on the losing side of a partition, then checks that every member's
 * tree is still the same: what they logged while cut off but never committed must not come back
 * from their txn logs.
 */
async function restartAndCompare(e: NsEnsemble, sids: number[], all: number[], lostPrefix: string) {
  for (const sid of sids) await e.stop(sid);
  for (const sid of sids) e.start(sid);
  await e.waitFormed(all, 30_000);
  const tree = await e.converged(all, 8000);
  for (const path of Object.keys(tree))
    assert.ok(!path.startsWith(lostPrefix), `${path}, never committed, came back after a restart`);
  return tree;
}

describe('partitions: 3 voters + 1 observer in network namespaces', { skip }, () => {
  let e: NsEnsemble;
  let isolatedLeader: number | undefined;
  before(async () => {
    e = await NsEnsemble.create(3, 1);
    await e.waitFormed([1, 2, 3, 4], 30_000);
  });
  afterEach(keepLogsOnFailure(() => e));
  after(async () => {
    await e?.close();
  });

  test('an isolated leader commits nothing; the majority elects and commits; the old leader rejoins with the same tree', {
    timeout: 60_000,
  }, async (t) => {
    const leader = await e.waitFormed([1, 2, 3, 4], 20_000);
    const rest = [1, 2, 3, 4].filter((s) => s !== leader);
    const restVoters = rest.filter((s) => s !== 4);
    const L = `m${leader}`;
    for (let i = 0; i < 5; i++) {
      const r = await e.ops(leader, [{ op: 'create', path: `/base-${i}`, data: `b${i}` }]);
      assert.equal(r.ok && r.results[0]?.err, Err.OK, `baseline write: ${JSON.stringify(r)}`);
    }
    // A session on the leader, opened from the leader's own namespace before the cut.
    const opened = await e.ops(leader, [{ op: 'sync', path: '/' }], { from: L, conn: 'old' });
    assert.ok(opened.ok, `session on the leader: ${JSON.stringify(opened)}`);

    await e.net.isolate(L);
    const cutAt = Date.now();
    // Written at once, before the leader can notice: it may log the proposal, never commit it.
    const first = e.ops(leader, [{ op: 'create', path: '/isolated-first', data: 'lost' }], {
      from: L,
      conn: 'old',
      timeoutMs: 8000,
    });
    const lost = isolatedWriter(e, 'isolated', [{ from: L, sid: leader }]);
    const majority = writer(e, 'maj', () => rest);

    const stepDownMs = await until('the isolated leader to stop serving', 20_000, async () =>
      (await e.mode(leader, L)) === null ? Date.now() - cutAt : null,
    );
    const newLeader = await e.waitFormed(rest, 20_000);
    const electedMs = Date.now() - cutAt;
    assert.ok(restVoters.includes(newLeader), `a voter of the majority leads (got ${newLeader})`);
    const ackedBefore = majority.acked.size;
    await until('10 writes on the majority side under the new leader', 15_000, async () =>
      majority.acked.size >= ackedBefore + 10 ? true : null,
    );
    // The old leader stays cut off a little longer, still refusing writes.
    await sleep(1500);
    const firstReply = await first;
    await lost.stop();
    assert.ok(
      !(firstReply.ok && firstReply.results[0]?.err === Err.OK),
      `the write on the isolated leader's open session was acknowledged: ${JSON.stringify(firstReply)}`,
    );
    assert.deepEqual(lost.committed(), [], 'no write acknowledged by the isolated old leader');
    assert.ok(lost.replies.length > 0);

    const logFrom = e.member(leader).output.length;
    await e.net.heal();
    const healedAt = Date.now();
    const formed = await e.waitFormed([1, 2, 3, 4], 30_000);
    const rejoinMs = Date.now() - healedAt;
    await sleep(500);
    await majority.stop();
    const tree = await e.converged([1, 2, 3, 4], 15_000);
    for (const path of majority.acked) assert.ok(tree[path], `acknowledged ${path} survived`);
    for (const path of Object.keys(tree))
      assert.ok(!path.startsWith('/isolated'), `${path}, written only on the isolated side, is gone`);
    for (let i = 0; i < 5; i++) assert.equal(tree[`/base-${i}`]?.data, `b${i}`);
    const syncs = syncPackets(e.member(leader).output.slice(logFrom));
    isolatedLeader = leader;
    t.diagnostic(
      `leader ${leader} isolated: stopped serving after ${stepDownMs} ms, new leader ${newLeader} after ${electedMs} ms; ` +
        `healed: formed (leader ${formed}) after ${rejoinMs} ms; majority acked ${majority.acked.size} ` +
        `(${summary(majority.replies)}); isolated attempts: first=${firstReply.code ?? `err ${firstReply.results[0]?.err}`}, ` +
        `${summary(lost.replies.map((r) => r.reply))}; the old leader rejoined with ${syncs}`,
    );
  });

  test('the old leader, restarted after rejoining, still has the same tree', {
    timeout: 60_000,
  }, async (t) => {
    if (isolatedLeader === undefined) return t.skip('the isolated-leader test did not complete');
    await restartAndCompare(e, [isolatedLeader], [1, 2, 3, 4], '/isolated');
  });

  test('an observer cut off from the ensemble stops serving, then serves again and catches up', {
    timeout: 60_000,
  }, async (t) => {
    const leader = await e.waitFormed([1, 2, 3, 4], 20_000);
    const O = 'm4';
    const w = await e.ops(leader, [{ op: 'create', path: '/obs-before', data: 'before' }]);
    assert.equal(w.ok && w.results[0]?.err, Err.OK, JSON.stringify(w));
    const r = await e.ops(
      4,
      [
        { op: 'sync', path: '/' },
        { op: 'get', path: '/obs-before' },
      ],
      { from: O },
    );
    assert.equal(r.ok && r.results[1]?.data, 'before', JSON.stringify(r));

    // A session opened before the cut: the observer may serve it (stale) until it notices that it
    // lost the leader; then it must close it and stop taking connections.
    const opened = await e.ops(4, [{ op: 'get', path: '/obs-before' }], { from: O, conn: 'obs' });
    assert.ok(opened.ok, JSON.stringify(opened));

    await e.net.isolate(O);
    const cutAt = Date.now();
    const writes: string[] = [];
    const writing = (async () => {
      for (let i = 0; i < 10; i++) {
        const x = await e.ops(leader, [{ op: 'create', path: `/obs-during-${i}`, data: `d${i}` }]);
        assert.equal(x.ok && x.results[0]?.err, Err.OK, JSON.stringify(x));
        writes.push(`/obs-during-${i}`);
      }
    })();
    const get: NsOp[] = [{ op: 'get', path: '/obs-before' }];
    const read = () => e.ops(4, get, { from: O, timeoutMs: 1500 });
    let servedOld = 0;
    let oldClosed: NsReply | null = null;
    const stopReply = await until('the cut-off observer to stop serving', 15_000, async () => {
      const [old, fresh] = await Promise.all([
        oldClosed ? null : e.ops(4, get, { from: O, conn: 'obs', timeoutMs: 600 }),
        e.ops(4, get, { from: O, timeoutMs: 600 }),
      ]);
      if (old?.ok) servedOld++;
      else if (old) oldClosed = old;
      // Not serving: the old session is gone and a new connection is refused or closed (not just slow).
      return oldClosed && !fresh.ok && fresh.code !== 'TIMEOUT' ? fresh : null;
    });
    const stoppedMs = Date.now() - cutAt;
    await writing;
    // Once it has stopped it must not serve again while it is still cut off.
    const servedAgain: NsReply[] = [];
    const watchUntil = Date.now() + 3000;
    while (Date.now() < watchUntil) {
      const x = await read();
      if (x.ok) servedAgain.push(x);
      await sleep(200);
    }
    assert.deepEqual(servedAgain, [], 'the cut-off observer served reads again while still cut off');
    assert.ok(
      ['ECONNREFUSED', 'CLOSED', 'ECONNRESET'].includes(stopReply.code ?? ''),
      `failure kind: ${JSON.stringify(stopReply)}`,
    );

    await e.net.heal();
    const healedAt = Date.now();
    const got = await until('the observer to serve the writes it missed', 30_000, async () => {
      const x = await e.ops(
        4,
        [
          { op: 'sync', path: '/' },
          { op: 'get', path: '/obs-during-9' },
        ],
        {
          from: O,
          timeoutMs: 2000,
        },
      );
      return x.ok && x.results[1]?.err === Err.OK ? x : null;
    });
    const backMs = Date.now() - healedAt;
    assert.equal(got.results[1]?.data, 'd9');
    await e.waitFormed([1, 2, 3, 4], 20_000);
    const tree = await e.converged([leader, 4], 15_000);
    for (const p of writes) assert.ok(tree[p], `${p} on the observer`);
    t.diagnostic(
      `observer cut off: ${servedOld} reads served on its old session, which ended with ${(oldClosed as NsReply | null)?.code}; ` +
        `stopped serving after ${stoppedMs} ms (${stopReply.code}); after healing it served the missed writes within ${backMs} ms`,
    );
  });
});

describe('partitions: 2 of 5 voters in network namespaces', { skip }, () => {
  let e: NsEnsemble;
  let cutOff: number[] | undefined;
  const all = [1, 2, 3, 4, 5];
  before(async () => {
    e = await NsEnsemble.create(5, 0);
    await e.waitFormed(all, 30_000);
  });
  afterEach(keepLogsOnFailure(() => e));
  after(async () => {
    await e?.close();
  });

  test('the minority side (old leader + one follower) never commits; the majority does; all converge after healing', {
    timeout: 60_000,
  }, async (t) => {
    const leader = await e.waitFormed(all, 20_000);
    const follower = all.find((s) => s !== leader)!;
    const minority = [leader, follower];
    const rest = all.filter((s) => !minority.includes(s));
    const seed = await e.ops(leader, [{ op: 'create', path: '/seed', data: 's' }]);
    assert.equal(seed.ok && seed.results[0]?.err, Err.OK, JSON.stringify(seed));

    // A session on the leader, opened before the cut from the follower's namespace.
    const opened = await e.ops(leader, [{ op: 'sync', path: '/' }], { from: `m${follower}`, conn: 'old' });
    assert.ok(opened.ok, `session on the leader: ${JSON.stringify(opened)}`);

    await e.net.split([minority.map((s) => `m${s}`)]);
    const cutAt = Date.now();
    // Sent at once: the leader and its one follower may both log it, but 2 of 5 cannot commit it.
    const first = e.ops(leader, [{ op: 'create', path: '/minority-first', data: 'lost' }], {
      from: `m${follower}`,
      conn: 'old',
      timeoutMs: 8000,
    });
    // Clients on the minority side write to both minority members, from both namespaces.
    const lost = isolatedWriter(e, 'minority', [
      { from: `m${leader}`, sid: leader },
      { from: `m${follower}`, sid: leader },
      { from: `m${follower}`, sid: follower },
      { from: `m${leader}`, sid: follower },
    ]);
    const majority = writer(e, 'maj', () => rest);
    // Watch the minority's modes: once neither serves, neither may lead again while cut off.
    const minorityModes: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const s of minority)
          minorityModes.push(`${Date.now() - cutAt}:${s}=${await e.mode(s, `m${s}`)}`);
        await sleep(200);
      }
    })();

    const quietMs = await until('both minority members to stop serving', 20_000, async () => {
      const m = await Promise.all(minority.map((s) => e.mode(s, `m${s}`)));
      return m.every((x) => x === null) ? Date.now() - cutAt : null;
    });
    const quietAt = Date.now();
    const newLeader = await e.waitFormed(rest, 20_000);
    const electedMs = Date.now() - cutAt;
    const ackedBefore = majority.acked.size;
    await until('10 writes on the majority side', 15_000, async () =>
      majority.acked.size >= ackedBefore + 10 ? true : null,
    );
    await sleep(Math.max(0, 3000 - (Date.now() - quietAt)));
    watching = false;
    await watcher;
    await lost.stop();
    const firstReply = await first;
    assert.ok(
      !(firstReply.ok && firstReply.results[0]?.err === Err.OK),
      `the write on the minority leader's open session was acknowledged: ${JSON.stringify(firstReply)}`,
    );
    assert.deepEqual(lost.committed(), [], 'no write acknowledged on the minority side');
    const ledAfterQuiet = minorityModes.filter((x) => {
      const at = Number(x.split(':')[0]);
      return at > quietMs && x.endsWith('=leader');
    });
    assert.deepEqual(ledAfterQuiet, [], 'a minority member led again while cut off');
    assert.ok(rest.includes(newLeader));

    const logFrom = new Map(minority.map((s) => [s, e.member(s).output.length]));
    await e.net.heal();
    const healedAt = Date.now();
    await e.waitFormed(all, 30_000);
    const rejoinMs = Date.now() - healedAt;
    await sleep(500);
    await majority.stop();
    const tree = await e.converged(all, 15_000);
    assert.equal(tree['/seed']?.data, 's');
    for (const path of majority.acked) assert.ok(tree[path], `acknowledged ${path} survived`);
    for (const path of Object.keys(tree)) assert.ok(!path.startsWith('/minority'), `${path} is gone`);
    cutOff = minority;
    t.diagnostic(
      `minority {${minority}} (leader ${leader}): both stopped serving after ${quietMs} ms; new leader ${newLeader} after ${electedMs} ms; ` +
        `healed: formed after ${rejoinMs} ms; majority acked ${majority.acked.size}; minority attempts: first=${firstReply.code ?? `err ${firstReply.results[0]?.err}`}, ${summary(lost.replies.map((r) => r.reply))}; ` +
        `they rejoined with ${minority.map((s) => `${s}: ${syncPackets(e.member(s).output.slice(logFrom.get(s)))}`).join(', ')}`,
    );
  });

  test('the minority members, restarted after rejoining, still have the same tree', {
    timeout: 60_000,
  }, async (t) => {
    if (cutOff === undefined) return t.skip('the minority test did not complete');
    await restartAndCompare(e, cutOff, all, '/minority');
  });
});

/** A phase line of e2e/clients/kazoo_read_only.py. */
type KazooPhase = Record<string, string | boolean> & { phase: string };

/** kazoo_read_only.py in namespace `from` against member sid: its phases, as they come. */
function kazooReadOnly(e: NsEnsemble, sid: number, from: string, path: string, deadlineS: number) {
  const script = join(REPO_ROOT, 'e2e', 'clients', 'kazoo_read_only.py');
  const p = e.net.spawn(
    from,
    [
      'setpriv',
      '--pdeathsig',
      'KILL',
      DEBIAN_PYTHON,
      script,
      `${e.member(sid).addr}:${CLIENT_PORT}`,
      path,
    ].concat(String(deadlineS)),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const phases: KazooPhase[] = [];
  let stderr = '';
  let buf = '';
  p.stdout?.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) phases.push(JSON.parse(line) as KazooPhase);
    }
  });
  p.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  return {
    next(phase: string, timeoutMs: number): Promise<KazooPhase> {
      return until(
        `kazoo phase ${phase}`,
        timeoutMs,
        async () => phases.find((x) => x.phase === phase) ?? null,
        {
          everyMs: 100,
          detail: () => `phases: ${JSON.stringify(phases)}; stderr: ${stderr}`,
        },
      );
    },
    stop: () => stopChild(p, { graceMs: 2000 }),
  };
}

describe('partitions: read-only mode (readonlymode.enabled) in network namespaces', { skip }, () => {
  let e: NsEnsemble;
  const all = [1, 2, 3, 4];
  before(async () => {
    e = await NsEnsemble.create(3, 1, { readOnlyMode: () => true });
    await e.waitFormed(all, 30_000);
  });
  afterEach(keepLogsOnFailure(() => e));
  after(async () => {
    await e?.close();
  });

  test('a cut-off observer serves reads to read-only clients only, refuses writes and sync with NOTREADONLY, and serves read/write again after healing', {
    timeout: 120_000,
  }, async (t) => {
    const leader = await e.waitFormed(all, 20_000);
    const O = 'm4';
    const w = await e.ops(leader, [{ op: 'create', path: '/ro-before', data: 'before' }]);
    assert.equal(w.ok && w.results[0]?.err, Err.OK, JSON.stringify(w));
    // In the ensemble, a client that accepts read-only gets an ordinary session.
    const inEnsemble = await e.ops(
      4,
      [
        { op: 'sync', path: '/' },
        { op: 'get', path: '/ro-before' },
      ],
      { from: O, readOnly: true },
    );
    assert.equal(inEnsemble.ok && inEnsemble.results[1]?.data, 'before', JSON.stringify(inEnsemble));
    assert.equal(inEnsemble.readOnly, false);

    await e.net.isolate(O);
    const cutAt = Date.now();
    for (let i = 0; i < 5; i++) {
      const x = await e.ops(leader, [{ op: 'create', path: `/ro-during-${i}`, data: `d${i}` }]);
      assert.equal(x.ok && x.results[0]?.err, Err.OK, JSON.stringify(x));
    }
    const roRead = await until('the cut-off observer to serve a read-only client', 30_000, async () => {
      const x = await e.ops(4, [{ op: 'get', path: '/ro-before' }], {
        from: O,
        readOnly: true,
        timeoutMs: 1500,
      });
      return x.ok && x.readOnly === true ? x : null;
    });
    const readOnlyMs = Date.now() - cutAt;
    assert.equal(roRead.results[0]?.data, 'before');
    assert.equal(await e.mode(4, O), 'read-only');
    assert.equal(await e.word(4, 'isro', O), 'ro');

    // A client that does not accept a read-only server is refused: the connection is closed.
    const plain = await e.ops(4, [{ op: 'get', path: '/ro-before' }], { from: O, timeoutMs: 2000 });
    assert.ok(!plain.ok && plain.code !== 'TIMEOUT', `plain client: ${JSON.stringify(plain)}`);
    // Writes and sync: NOTREADONLY. Reads: the tree as it was when the observer was cut off.
    const ro = await e.ops(
      4,
      [
        { op: 'create', path: '/ro-lost', data: 'lost' },
        { op: 'set', path: '/ro-before', data: 'changed' },
        { op: 'delete', path: '/ro-before' },
        { op: 'sync', path: '/' },
        { op: 'get', path: '/ro-during-0' },
        { op: 'get', path: '/ro-before' },
      ],
      { from: O, readOnly: true },
    );
    assert.ok(ro.ok, JSON.stringify(ro));
    assert.deepEqual(
      ro.results.map((r) => r.err),
      [Err.NOTREADONLY, Err.NOTREADONLY, Err.NOTREADONLY, Err.NOTREADONLY, Err.NONODE, Err.OK],
    );
    assert.equal(ro.results[5]?.data, 'before');
    // A read-only session that stays open until after the heal.
    const kept = await e.ops(4, [{ op: 'get', path: '/ro-before' }], { from: O, readOnly: true, conn: 'ro' });
    assert.equal(kept.ok && kept.readOnly, true, JSON.stringify(kept));

    // The unmodified kazoo client: refused without read_only=True, served with it.
    const kz = kazooReadOnly(e, 4, O, '/ro-before', 75);
    try {
      assert.equal((await kz.next('plain', 20_000)).connected, false, 'kazoo without read_only connected');
      const kro = await kz.next('ro', 20_000);
      assert.deepEqual(
        [kro.state, kro.data, kro.create, kro.sync],
        ['CONNECTED_RO', 'before', 'NotReadOnlyCallError', 'NotReadOnlyCallError'],
      );

      await e.net.heal();
      const healedAt = Date.now();
      const back = await until(
        'the observer to serve read/write clients the writes it missed',
        30_000,
        async () => {
          const y = await e.ops(
            4,
            [
              { op: 'sync', path: '/' },
              { op: 'get', path: '/ro-during-4' },
            ],
            { from: O, timeoutMs: 2000 },
          );
          return y.ok && y.results[1]?.err === Err.OK ? y : null;
        },
      );
      const backMs = Date.now() - healedAt;
      assert.equal(back.results[1]?.data, 'd4');
      assert.equal(await e.mode(4, O), 'observer');
      assert.equal(await e.word(4, 'isro', O), 'rw');
      // The read-only session's connection was closed; the same client now gets a read/write one.
      const rw = await e.ops(4, [{ op: 'create', path: '/ro-after', data: 'a' }], {
        from: O,
        readOnly: true,
        conn: 'ro',
      });
      assert.ok(rw.ok && rw.results[0]?.err === Err.OK, JSON.stringify(rw));
      assert.equal(rw.readOnly, false);
      const krw = await kz.next('rw', 40_000);
      assert.deepEqual([krw.state, krw.create], ['CONNECTED', 'ok']);
      const kazooRwMs = Date.now() - healedAt;

      await e.waitFormed(all, 20_000);
      const tree = await e.converged([leader, 4], 15_000);
      for (const p of ['/ro-during-4', '/ro-after', '/ro-before-kazoo-rw'])
        assert.ok(tree[p], `${p} is there`);
      for (const p of ['/ro-lost', '/ro-before-kazoo-ro']) assert.ok(!tree[p], `${p} was never written`);
      assert.equal(tree['/ro-before']?.data, 'before');
      t.diagnostic(
        `observer cut off: served read-only clients after ${readOnlyMs} ms; after healing it served ` +
          `read/write clients within ${backMs} ms, and kazoo was back read/write after ${kazooRwMs} ms`,
      );
    } finally {
      await kz.stop();
    }
  });

  test('a voter cut off from the majority serves read-only clients too, then follows again', {
    timeout: 60_000,
  }, async () => {
    const leader = await e.waitFormed(all, 20_000);
    const voter = [1, 2, 3].find((s) => s !== leader)!;
    const V = `m${voter}`;
    await e.net.isolate(V);
    const got = await until('the cut-off voter to serve a read-only client', 30_000, async () => {
      const x = await e.ops(
        voter,
        [
          { op: 'get', path: '/ro-before' },
          { op: 'create', path: '/ro-voter-lost', data: 'lost' },
        ],
        { from: V, readOnly: true, timeoutMs: 1500 },
      );
      return x.ok && x.readOnly === true ? x : null;
    });
    assert.deepEqual(
      got.results.map((r) => r.err),
      [Err.OK, Err.NOTREADONLY],
    );
    assert.equal(got.results[0]?.data, 'before');
    assert.equal(await e.mode(voter, V), 'read-only');
    await e.net.heal();
    await e.waitFormed(all, 30_000);
    assert.notEqual(await e.mode(voter), 'read-only');
    const tree = await e.converged(all, 15_000);
    assert.ok(!tree['/ro-voter-lost']);
  });
});
