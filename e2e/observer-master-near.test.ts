// Observers choose the nearest observer master (docs/observers.md): 3 voters and 2 observers with
// observerMasterPort on loopback, one member per 127.0.0.<sid> address, and follower 1 "in another
// region": every other member's config gives server.1 the address of a delay relay
// (e2e/lib/delay-relay.ts, 20 ms each way) in front of it; its own config has its real address.
// Each observer measures its round trip to the followers before choosing: both must choose the near
// follower, after two restarts of the observers (by chance, with a random choice, that is 1 in 16).
// Killing the near follower moves both to the far one, and they keep serving.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ZkConnection } from '../peer/client/connection.ts';
import { freeLoopbackPort, prepareLocalEnsemble, spawnMember } from '../peer/ensemble/local.ts';
import { probeRoundTrip } from '../peer/ensemble/master-probe.ts';
import { parseExposition, sampleValue } from '../peer/metrics/testutil.ts';
import { Err } from '../peer/protocol/constants.ts';
import { type DelayRelay, startDelayRelay } from './lib/delay-relay.ts';
import { controlEnsemble, type Ensemble } from './lib/ensemble.ts';
import { fourLetterWord, REPO_ROOT } from './lib/servers.ts';
import { until } from './lib/wait.ts';

const host = (sid: number) => `127.0.0.${sid}`;
const DELAY_MS = 20;

describe('the delay relay', () => {
  test('delays each direction, keeps the order, relays the close and a refused target, stops cleanly', async () => {
    const echo = net.createServer((s) => s.pipe(s));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const port = (echo.address() as net.AddressInfo).port;
    const relay = await startDelayRelay({
      host: '127.0.0.12',
      target: '127.0.0.1',
      ports: [port],
      delayMs: 30,
    });
    try {
      const c = net.connect(port, '127.0.0.12');
      await once(c, 'connect');
      const sent = Array.from({ length: 200 }, (_, i) => `${i};`).join('');
      const started = Date.now();
      let got = '';
      let firstAfter = -1;
      c.on('data', (d: Buffer) => {
        if (firstAfter < 0) firstAfter = Date.now() - started;
        got += d.toString();
      });
      for (let i = 0; i < 200; i++) c.write(`${i};`);
      c.end();
      await once(c, 'end');
      c.destroy();
      assert.equal(got, sent, 'every byte, in order');
      assert.ok(firstAfter >= 60, `the first echo came after ${firstAfter} ms`);
      const rtt = await probeRoundTrip('127.0.0.12', port, 2000);
      assert.ok(rtt !== null && rtt >= 60, `a probe through the relay took ${rtt} ms`);
      echo.close();
      await once(echo, 'close');
      assert.equal(await probeRoundTrip('127.0.0.12', port, 2000), null, 'the target is gone: a reset');
    } finally {
      if (echo.listening) echo.close();
      await relay.close();
    }
    assert.equal(await probeRoundTrip('127.0.0.12', port, 2000), null, 'the relay no longer listens');
  });
});

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

async function metrics(e: Ensemble, sid: number) {
  const m = e.members.get(sid)!;
  const r = await fetch(`http://${m.host}:${m.adminPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  return parseExposition(await r.text());
}

/** sid of the follower each observer syncs from, once both sync through followers (other than `gone`). */
function mastersOf(e: Ensemble, leader: number, gone?: number): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  return until(
    'the observers to sync from followers',
    30_000,
    async () => {
      for (const sid of [4, 5]) {
        const id = Number((await mntr(e, sid).catch(() => new Map())).get('zk_observer_master_id') ?? -1);
        seen.set(sid, id);
      }
      const ids = [...seen.values()];
      return ids.every((id) => id >= 1 && id !== leader && id !== gone) ? new Map(seen) : null;
    },
    { detail: () => `masters (-1: not serving): ${JSON.stringify(Object.fromEntries(seen))}` },
  );
}

/** The round trips the observer measured last, from its log (for failure messages). */
function lastMeasurement(e: Ensemble, sid: number): string {
  const lines = e.members
    .get(sid)!
    .output.split('\n')
    .filter((l) => l.includes('measured the round trip'));
  return lines.at(-1)?.match(/"rttMs":\{[^}]*\}/)?.[0] ?? 'none logged';
}

describe('3 voters + 2 observers, follower 1 behind a 20 ms relay', () => {
  const FAR = 1;
  let e: Ensemble;
  let relay: DelayRelay;
  let leader: number;
  let near: number;

  before(async () => {
    const root = mkdtempSync(join(tmpdir(), 'zke-om-near-'));
    const omPort = await freeLoopbackPort();
    const specs = await prepareLocalEnsemble(root, 3, 2, { observerMasterPort: omPort }, undefined, {
      hostFor: host,
    });
    const far = specs.find((m) => m.sid === FAR)!;
    const relayHost = host(10 + FAR);
    relay = await startDelayRelay({
      host: relayHost,
      target: far.host,
      ports: [far.quorumPort, far.electionPort, omPort],
      delayMs: DELAY_MS,
    });
    // The others reach member 1 only through the relay; member 1 binds its own address.
    for (const m of specs.filter((s) => s.sid !== FAR)) {
      const text = readFileSync(m.configPath, 'utf8');
      const line = `server.${FAR}=${far.host}:`;
      assert.ok(text.includes(line));
      writeFileSync(m.configPath, text.replace(line, `server.${FAR}=${relayHost}:`));
    }
    const bin = join(REPO_ROOT, 'bin', 'zkensemble');
    const env = { ...process.env, LOG_LEVEL: 'info' };
    e = controlEnsemble(root, true, specs, (m) => spawnMember(bin, m, env), 'peer');
    leader = await e.waitFormed(60_000);
    if (leader === FAR) {
      // Highest sid wins a fresh election, so this is rare: move the leadership elsewhere.
      await e.stop(FAR);
      leader = await e.waitFormed(60_000, [2, 3, 4, 5]);
      e.start(FAR);
      await e.waitFormed(60_000);
    }
    near = [2, 3].find((s) => s !== leader)!;
  });
  after(async () => {
    await e?.close();
    await relay?.close();
  });

  test('both observers choose the near follower, again after each of two restarts', async (t) => {
    for (const round of [1, 2]) {
      // Restarted observers measure followers that all serve (at the first start they may not yet).
      await Promise.all([e.stop(4), e.stop(5)]);
      e.start(4);
      e.start(5);
      const masters = await mastersOf(e, leader);
      for (const o of [4, 5]) {
        t.diagnostic(`round ${round}: observer ${o} measured ${lastMeasurement(e, o)}`);
        assert.equal(
          masters.get(o),
          near,
          `round ${round}: observer ${o} syncs from ${masters.get(o)}, not the near follower ${near} ` +
            `(far: ${FAR}, leader: ${leader}; measured ${lastMeasurement(e, o)})`,
        );
        const rtt = sampleValue(await metrics(e, o), 'zkensemble_learner_master_rtt_seconds', {
          master_sid: String(near),
        });
        assert.ok(rtt !== undefined && rtt < (2 * DELAY_MS) / 1000, `observer ${o}: rtt ${rtt} s`);
      }
    }
  });

  test('kill -9 of the near follower: both move to the far one and keep serving', async () => {
    await e.kill9(near);
    const moved = await mastersOf(e, leader, near);
    assert.deepEqual([moved.get(4), moved.get(5)], [FAR, FAR]);
    for (const o of [4, 5]) {
      const rtt = sampleValue(await metrics(e, o), 'zkensemble_learner_master_rtt_seconds', {
        master_sid: String(FAR),
      });
      assert.ok(
        rtt !== undefined && rtt >= (2 * DELAY_MS) / 1000,
        `observer ${o}: rtt ${rtt} s to the far one`,
      );
    }
    const clients = await Promise.all(
      [4, 5].map((sid) => {
        const m = e.members.get(sid)!;
        return ZkConnection.connect({ host: m.host, port: m.clientPort, timeOut: 10_000 });
      }),
    );
    try {
      for (const [i, c] of clients.entries())
        for (let n = 0; n < 5; n++) assert.equal((await c.create(`/after-${i}-${n}`, 'x')).err, Err.OK);
      for (const c of clients) {
        assert.equal((await c.sync('/')).err, Err.OK);
        const names = ((await c.getChildren('/')) as { children: string[] }).children;
        assert.equal(names.filter((n) => n.startsWith('after-')).length, 10);
      }
    } finally {
      for (const c of clients) c.destroy();
    }
  });
  test('the near follower back: observers that chose the far one while it was down move to it', async () => {
    e.start(near);
    await e.waitFormed(60_000);
    // They look again every 10 s while some follower did not answer their last measurement.
    const back = await until(
      'both observers on the near follower again',
      60_000,
      async () => {
        const m = await mastersOf(e, leader);
        return m.get(4) === near && m.get(5) === near ? m : null;
      },
      { everyMs: 1000 },
    );
    assert.deepEqual([back.get(4), back.get(5)], [near, near]);
    for (const o of [4, 5])
      assert.match(e.members.get(o)!.output, /a nearer observer master answers: moving/);
  });
});
