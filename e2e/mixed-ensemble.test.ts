// Peers and Apache ZooKeeper servers in one ensemble: the quorum wire formats (election
// notifications, learner handshake, DIFF/SNAP sync, PROPOSAL/ACK/COMMIT, INFORM) are ZooKeeper's, so
// either can lead, follow or observe the other. Writes go through every member; every member ends
// with the same tree and zxids; the leader is killed, and the members that restart catch up from
// a leader of the other implementation.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ZkConnection } from '../peer/client/connection.ts';
import { prepareLocalEnsemble, spawnMember } from '../peer/ensemble/local.ts';
import { Err } from '../peer/protocol/constants.ts';
import { controlEnsemble, type Ensemble } from './lib/ensemble.ts';
import { REPO_ROOT } from './lib/servers.ts';
import { until } from './lib/wait.ts';
import { zkMemberCommand } from './lib/zk-ensemble.ts';

type Kind = 'peer' | 'zookeeper';

async function startMixed(kinds: Kind[], voters: number): Promise<Ensemble> {
  const root = mkdtempSync(join(tmpdir(), 'zke-mixed-'));
  const specs = await prepareLocalEnsemble(root, voters, kinds.length - voters, {
    'admin.enableServer': 'false',
  });
  const bin = join(REPO_ROOT, 'bin', 'zkensemble');
  return controlEnsemble(
    root,
    true,
    specs,
    (m) =>
      kinds[m.sid - 1] === 'zookeeper'
        ? spawn('java', zkMemberCommand(m.configPath, { voters, observers: kinds.length - voters }), {
            stdio: ['ignore', 'pipe', 'pipe'],
          })
        : spawnMember(bin, m, { ...process.env, LOG_LEVEL: 'warn' }),
    'mixed',
  );
}

async function connect(e: Ensemble, sid: number): Promise<ZkConnection> {
  const m = e.members.get(sid)!;
  return ZkConnection.connect({ host: m.host, port: m.clientPort, timeOut: 10_000 });
}

/** Creates n znodes under /mixed through the member (a follower or observer forwards them). */
async function writeThrough(e: Ensemble, sid: number, tag: string, n: number): Promise<void> {
  const c = await connect(e, sid);
  try {
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => c.create(`/mixed/${tag}-${sid}-${i}`, `v${i}@${sid}`)),
    );
    for (const r of results) assert.equal(r.err, Err.OK, `create through server.${sid}`);
  } finally {
    await c.close();
  }
}

/** /mixed as one member sees it after a sync: name, data, czxid, mzxid of every child. */
async function treeOf(e: Ensemble, sid: number): Promise<string[]> {
  const c = await connect(e, sid);
  try {
    assert.equal((await c.sync('/mixed')).err, Err.OK);
    const kids = await c.getChildren('/mixed');
    assert.equal(kids.err, Err.OK);
    const out: string[] = [];
    for (const k of [...(kids.children ?? [])].sort()) {
      const d = await c.getData(`/mixed/${k}`);
      out.push(`${k}=${d.data?.toString()}@${d.stat?.czxid}/${d.stat?.mzxid}`);
    }
    return out;
  } finally {
    await c.close();
  }
}

async function assertSameTrees(e: Ensemble, sids: number[], expected: number): Promise<void> {
  const trees = await Promise.all(sids.map((sid) => treeOf(e, sid)));
  assert.equal(trees[0]!.length, expected);
  for (let i = 1; i < sids.length; i++)
    assert.deepEqual(trees[i], trees[0], `server.${sids[i]} and server.${sids[0]} disagree`);
}

const describeLayout = (kinds: Kind[], voters: number) =>
  kinds.map((k, i) => `${i + 1}:${k === 'peer' ? 'p' : 'z'}${i < voters ? '' : '(o)'}`).join(' ');

for (const [kinds, voters] of [
  [['zookeeper', 'zookeeper', 'peer', 'peer', 'zookeeper'], 3],
  [['peer', 'peer', 'zookeeper', 'zookeeper', 'peer'], 3],
] as [Kind[], number][]) {
  describe(`mixed ensemble ${describeLayout(kinds, voters)}`, { timeout: 240_000 }, () => {
    test('every member takes writes, all agree; after a leader kill and restarts, all agree again', async (t) => {
      const e = await startMixed(kinds, voters);
      const all = [...e.members.keys()];
      try {
        const leader = await e.waitFormed(60_000);
        const roles = await Promise.all(all.map((sid) => e.mode(sid)));
        assert.deepEqual(
          roles.map((r, i) => (i < voters ? r !== 'observer' : r === 'observer')),
          all.map(() => true),
          `roles: ${roles.join(' ')}`,
        );
        const c = await connect(e, 1);
        assert.equal((await c.create('/mixed', null)).err, Err.OK);
        await c.close();
        for (const sid of all) await writeThrough(e, sid, 'a', 50);
        await assertSameTrees(e, all, 50 * all.length);

        // Kill the leader; the others elect a new one, whichever implementation it is.
        await e.kill9(leader);
        const rest = all.filter((s) => s !== leader);
        const next = await e.waitFormed(60_000, rest);
        assert.notEqual(next, leader);
        t.diagnostic(
          `leaders: server.${leader} (${kinds[leader - 1]}), then server.${next} (${kinds[next - 1]})`,
        );
        for (const sid of rest) await writeThrough(e, sid, 'b', 30);
        // The old leader comes back and syncs from the new one (the other implementation, or its own).
        e.start(leader);
        await e.waitFormed(60_000, all);
        await until('every member to see every write', 30_000, async () => {
          const trees = await Promise.all(all.map((sid) => treeOf(e, sid)));
          return trees.every((t) => t.length === 50 * all.length + 30 * rest.length) ? true : undefined;
        });
        await assertSameTrees(e, all, 50 * all.length + 30 * rest.length);
      } catch (err) {
        const logs = [...e.members.values()]
          .map(
            (m) =>
              `--- server.${m.sid} (${kinds[m.sid - 1]})\n${m.output.trimEnd().split('\n').slice(-12).join('\n')}`,
          )
          .join('\n');
        throw new Error(`${(err as Error).message}\n${logs}`);
      } finally {
        await e.close();
      }
    });
  });
}
