import assert from 'node:assert/strict';
import { test } from 'node:test';
import { log } from '../log.ts';
import type { QuorumConfig, QuorumMember } from '../quorum/quorum-config.ts';
import { ElectionRunner } from './election-runner.ts';
import { freeLoopbackPort } from './local.ts';

async function config(voters: number[], observers: number[]): Promise<QuorumConfig> {
  const members = new Map<number, QuorumMember>();
  for (const sid of [...voters, ...observers]) {
    members.set(sid, {
      sid,
      host: '127.0.0.1',
      quorumPort: await freeLoopbackPort(),
      electionPort: await freeLoopbackPort(),
      role: observers.includes(sid) ? 'observer' : 'participant',
      clientAddress: null,
      clientPort: null,
    });
  }
  return { members, version: 0 };
}

test('three voters and an observer elect the voter with the highest (zxid, sid) over real sockets', async () => {
  const cfg = await config([1, 2, 3], [9]);
  const runners = [...cfg.members.keys()].map(
    (sid) => new ElectionRunner({ mySid: sid, config: () => cfg, log }),
  );
  try {
    for (const r of runners) await r.start();
    const zxids: Record<number, number> = { 1: 5, 2: 7, 3: 6, 9: 100 };
    const t0 = Date.now();
    const outcomes = await Promise.race([
      Promise.all(runners.map((r, i) => r.elect(zxids[[...cfg.members.keys()][i]!]!, 0))),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('election timed out')), 15_000).unref(),
      ),
    ]);
    log.info({ ms: Date.now() - t0 }, 'election took');
    const bySid = new Map([...cfg.members.keys()].map((sid, i) => [sid, outcomes[i]!]));
    for (const o of outcomes)
      assert.equal(o.leader, 2, 'the voter with the highest zxid leads; the observer does not count');
    assert.equal(bySid.get(2)!.state, 'LEADING');
    assert.equal(bySid.get(1)!.state, 'FOLLOWING');
    assert.equal(bySid.get(9)!.state, 'OBSERVING');
  } finally {
    for (const r of runners) await r.close();
  }
});
