// The operator's side of dynamic reconfiguration against a real ensemble: EnsembleAccess reads the
// committed membership and the leader as the super user, and stepMembership moves it towards a
// desired membership one reconfig at a time — observers in and out, voters one at a time with the
// leader last, and nothing sent (or a refusal reported) when a step would cost the quorum.
//
// Members listen on their own loopback addresses with the ports the operator's pods use (2181, 2888,
// 3888, 8080), so the server lines the operator renders are the members' real addresses.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ZkEnsemble } from '../operator/api/types.generated.ts';
import type { Recorder } from '../operator/controller/events.ts';
import { stepMembership } from '../operator/controller/membership.ts';
import { type EnsembleView, superDigest, zkEnsembleAccess } from '../operator/membership/ensemble-access.ts';
import { PORTS } from '../operator/render/contract.ts';
import { renderDynamicConfig } from '../operator/render/dynamic-config.ts';
import type { Member } from '../operator/render/members.ts';
import { type LocalMember, renderLocalConfig, spawnMember } from '../peer/ensemble/local.ts';
import { log } from '../peer/log.ts';
import { controlEnsemble, type Ensemble } from './lib/ensemble.ts';
import { REPO_ROOT } from './lib/servers.ts';
import { until } from './lib/wait.ts';

const PASSWORD = 'operator-membership-test-password';
const CONFIG = {
  reconfigEnabled: 'true',
  standaloneEnabled: 'false',
  'DigestAuthenticationProvider.superDigest': superDigest(PASSWORD),
};
const hostOf = (sid: number) => `127.0.5.${sid > 100 ? sid - 900 : sid}`;
const member = (sid: number, role: Member['role']): Member => ({ sid, role, host: hostOf(sid) });
const voter = (sid: number) => member(sid, 'voter');
const observer = (sid: number) => member(sid, 'observer');

const ENSEMBLE = { metadata: { name: 'zk', namespace: 'test' } } as ZkEnsemble;

describe('operator membership steps against a running ensemble', { timeout: 300_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'zke-opmember-'));
  const access = zkEnsembleAccess({ password: PASSWORD });
  const events: { type: string; reason: string; message: string }[] = [];
  const recorder: Recorder = {
    async event(_about, type, reason, message) {
      events.push({ type, reason, message });
    },
  };
  let e: Ensemble;

  function spec(sid: number, isObserver: boolean): LocalMember {
    const dataDir = join(root, `member${sid}`);
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'myid'), `${sid}\n`);
    return {
      sid,
      host: hostOf(sid),
      observer: isObserver,
      clientPort: PORTS.client,
      quorumPort: PORTS.quorum,
      electionPort: PORTS.election,
      adminPort: PORTS.admin,
      dataDir,
      configPath: join(dataDir, 'zoo.cfg'),
    };
  }

  /** A server about to join, as `peer --k8s` starts one: the committed membership plus itself. */
  function startJoiner(m: Member, view: EnsembleView): void {
    const s = spec(m.sid, m.role === 'observer');
    writeFileSync(
      join(s.dataDir, 'zoo.cfg.dynamic'),
      renderDynamicConfig([...view.members, m], view.version),
    );
    writeFileSync(
      s.configPath,
      renderLocalConfig(s, [], { ...CONFIG, dynamicConfigFile: 'zoo.cfg.dynamic' }),
    );
    e.members.set(m.sid, { ...s, process: null, output: '' });
    e.start(m.sid);
  }

  const voters = (v: EnsembleView) => v.members.filter((m) => m.role === 'voter');
  const observe = async () => access.observe([1, 2, 3, 4, 5].map(voter));
  const sids = (v: EnsembleView) => v.members.map((m) => `${m.sid}:${m.role}`).join(' ');

  /** Steps until the committed membership is `desired`; returns each step's reason, in order. */
  async function converge(desired: Member[], synced: () => Promise<Set<number>>): Promise<string[]> {
    const want = desired.map((m) => `${m.sid}:${m.role}`).join(' ');
    const done: string[] = [];
    await until(
      `membership ${want}`,
      120_000,
      async () => {
        const view = await observe();
        if (sids(view) === want) return true;
        const before = events.length;
        const progress = await stepMembership(
          { access, recorder, log },
          ENSEMBLE,
          view,
          desired,
          await synced(),
        );
        for (const ev of events.slice(before)) {
          assert.equal(ev.type, 'Normal', `${ev.reason}: ${ev.message}`);
          done.push(ev.message);
        }
        assert.ok(progress.pending.length > 0);
        return false;
      },
      {
        everyMs: 300,
        detail: () =>
          `steps so far: ${done.join(' | ')}\n${[...e.members.values()]
            .map((m) => `--- server.${m.sid}\n${m.output.trimEnd().split('\n').slice(-8).join('\n')}`)
            .join('\n')}`,
      },
    );
    return done;
  }

  /** Members serving as followers, observers or leader, by sid. */
  async function serving(): Promise<Set<number>> {
    const out = new Set<number>();
    for (const sid of e.members.keys()) {
      const mode = await e.mode(sid);
      if (mode === 'leader' || mode === 'follower' || mode === 'observer') out.add(sid);
    }
    return out;
  }

  before(async () => {
    const initial = [1, 2, 3].map((sid) => spec(sid, false));
    for (const s of initial) writeFileSync(s.configPath, renderLocalConfig(s, initial, CONFIG));
    const env = { ...process.env, LOG_LEVEL: 'info' };
    e = controlEnsemble(
      root,
      true,
      initial,
      (m) => spawnMember(join(REPO_ROOT, 'bin', 'zkensemble'), m, env),
      'peer',
    );
    await e.waitFormed(60_000);
  });
  after(() => e?.close());

  test('observe: the committed membership, its version and the leader, as the super user', async () => {
    const view = await observe();
    assert.equal(sids(view), '1:voter 2:voter 3:voter');
    assert.deepEqual(
      voters(view).map((m) => m.host),
      ['127.0.5.1', '127.0.5.2', '127.0.5.3'],
    );
    const leader = await e.waitFormed();
    assert.equal(view.leaderSid, leader);
    const wrong = zkEnsembleAccess({ password: 'not-the-password' });
    const refused = await wrong
      .reconfig([voter(1)], { joining: [], leaving: [3], reason: 'test' }, view.version)
      .then(
        () => 'accepted',
        (err: Error) => err.message,
      );
    assert.match(refused, /NOAUTH|authentication failed/, 'a wrong password cannot reconfigure');
  });

  test('observers join in one step once running, and leave in one step', async () => {
    const view = await observe();
    startJoiner(observer(1001), view);
    startJoiner(observer(1002), view);
    await until('the joining observers to serve', 60_000, async () => {
      const s = await serving();
      return s.has(1001) && s.has(1002);
    });
    const desired = [voter(1), voter(2), voter(3), observer(1001), observer(1002)];
    const steps = await converge(desired, serving);
    assert.deepEqual(steps, ['observers: 2 joining, 0 leaving']);
    const version = (await observe()).version;
    assert.ok(version !== undefined && version > 0, 'a reconfig gives the config a version');
    // The observers activated it too (INFORMANDACTIVATE): they still serve, under the new version.
    await until('observers on the new config', 20_000, async () => {
      const texts = await Promise.all(
        [1001, 1002].map(async (sid) => {
          const r = await fetch(`http://${hostOf(sid)}:${PORTS.admin}/commands/configuration`);
          return r.ok ? JSON.stringify(await r.json()) : '';
        }),
      );
      return texts.every((t) => t.includes(version.toString(16)));
    });

    const left = await converge([voter(1), voter(2), voter(3)], serving);
    assert.deepEqual(left, ['observers: 0 joining, 2 leaving']);
    await e.stop(1001);
    await e.stop(1002);
  });

  test('voters: added one at a time once synced, removed one at a time with the leader last', async () => {
    const view = await observe();
    startJoiner(voter(4), view);
    startJoiner(voter(5), view);
    await until('the joining voters to sync', 60_000, async () => {
      const s = await serving();
      return s.has(4) && s.has(5);
    });
    const five = [1, 2, 3, 4, 5].map(voter);
    assert.deepEqual(await converge(five, serving), ['add voter server.4', 'add voter server.5']);

    // Scale back to 1..3 while server.5 leads, if it does: it must leave last.
    const leader = (await observe()).leaderSid!;
    const removed = await converge([1, 2, 3].map(voter), serving);
    const expected = [5, 4].sort((a, b) => Number(a === leader) - Number(b === leader) || b - a);
    assert.deepEqual(
      removed.map((r) => Number(/server\.(\d+)/.exec(r)![1])),
      expected,
      `removal order with server.${leader} leading`,
    );
    await e.waitFormed(60_000, [1, 2, 3]);
  });

  test('a step that would leave no synced quorum is not sent; one the ensemble refuses is reported', async () => {
    await e.stop(3);
    const view = await observe();
    const before = events.length;
    // Removing server.2 with server.3 down would leave only server.1 of {1, 3}.
    const progress = await stepMembership(
      { access, recorder, log },
      ENSEMBLE,
      view,
      [voter(1), voter(3)],
      await serving(),
    );
    assert.equal(events.length, before, 'nothing sent');
    assert.match(
      progress.pending.join('\n'),
      /server\.2: without server\.2, 1 of 2 remaining voters are synced/,
    );
    assert.equal(sids(await observe()), '1:voter 2:voter 3:voter');

    // Told (wrongly) that server.3 is synced, the step is sent, and the leader refuses it.
    const lied = await stepMembership(
      { access, recorder, log },
      ENSEMBLE,
      view,
      [voter(1), voter(3)],
      new Set([1, 2, 3]),
    );
    assert.ok(lied.acted);
    const ev = events.at(-1)!;
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.reason, 'ReconfigRefused');
    assert.match(ev.message, /NEWCONFIGNOQUORUM/);
    assert.equal(sids(await observe()), '1:voter 2:voter 3:voter', 'the membership is unchanged');
    e.start(3);
    await e.waitFormed(60_000, [1, 2, 3]);
  });
});
