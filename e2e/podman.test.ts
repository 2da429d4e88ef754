// The container image, end to end with podman: the image built from this tree (when no image of the
// same inputs exists; the base is built locally by e2e/podman/build-base.sh since no container
// registry is reachable), run as a standalone peer and as an ensemble of 3 voters + 2 observers on a
// private internal podman network. Real clients (node-zookeeper-client, e2e/podman/writer.ts) write
// from a container on that network while the leader's container is killed and restarted and an
// observer's container is disconnected from the network and reconnected; every acknowledged write
// must then be readable on every member. Needs root and podman (.ci/run installs it): skipped without
// root, failing as root without a working podman. Everything this file creates carries the label
// zkensemble-e2e=<pid> and is removed by name or ID at the end, also when a test fails.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import type { NsAgent, NsReply } from './lib/ns-client.ts';
import {
  CLIENT_PORT,
  type ContainerMember,
  clientRunArgs,
  containerMembers,
  createNetwork,
  ensureImage,
  hostArgs,
  LABEL,
  type PodmanNetwork,
  podman,
  podmanMissing,
  randomMacPrefix,
  removeStaleResources,
  renderContainerConfig,
  spawnPodman,
  startContainerAgent,
} from './lib/podman.ts';
import { skipUnlessRoot } from './lib/root-only.ts';
import { modeOf, REPO_ROOT } from './lib/servers.ts';
import { until } from './lib/wait.ts';

const skip = await skipUnlessRoot('the container tests use rootful podman networks', podmanMissing);
if (!skip) await removeStaleResources();

const RUN = `zke-${process.pid}-${randomBytes(2).toString('hex')}`;
const RUNTIME_UID = 1000;
/** The probes here go through a client container: a slower pace than the default. */
const POLL = { everyMs: 200 };

function replyError(r: NsReply): string {
  return `${r.code ?? ''} ${r.error ?? ''} ${JSON.stringify(r.results)}`;
}

/** The write load running in a container: acknowledged paths and failures, per writer. */
interface WriteLoad {
  acked: Set<string>;
  count(writer: string): number;
  errors: string[];
  /** Closes the writers' stdin and waits for them to finish (bounded). */
  stop(): Promise<void>;
}

function startWriteLoad(
  opts: Parameters<typeof clientRunArgs>[0],
  proc: (p: ChildProcess) => void,
): WriteLoad {
  const child = spawnPodman(clientRunArgs(opts));
  proc(child);
  const acked = new Set<string>();
  const perWriter = new Map<string, number>();
  const errors: string[] = [];
  let done = false;
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: { ack?: string; error?: string; writer?: string; done?: boolean };
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (msg.ack) {
      acked.add(msg.ack);
      const w = /^\/w\/([^-]+)-/.exec(msg.ack)![1]!;
      perWriter.set(w, (perWriter.get(w) ?? 0) + 1);
    } else if (msg.error) errors.push(`${msg.writer}: ${msg.error}`);
    else if (msg.done) done = true;
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    acked,
    count: (w) => perWriter.get(w) ?? 0,
    errors,
    async stop() {
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
      assert.ok(done, `the writers finished cleanly (stderr: ${stderr.trim()})`);
    },
  };
}

describe('the container image and an ensemble of containers (podman)', { skip }, () => {
  let image = '';
  let network: PodmanNetwork;
  let agent: NsAgent | null = null;
  let root = '';
  const clients: ChildProcess[] = [];

  before(
    async () => {
      const t0 = Date.now();
      const built = await ensureImage(15 * 60_000);
      image = built.tag;
      const size = Number(await podman(['image', 'inspect', '--format', '{{.Size}}', image]));
      console.log(
        `# image ${image}: ${built.built ? `built in ${Math.round((Date.now() - t0) / 1000)} s` : 'cached'}, ${Math.round(size / 1e6)} MB`,
      );
      root = mkdtempSync(join(tmpdir(), 'zke-podman-'));
      network = await createNetwork(`${RUN}-net`);
      agent = startContainerAgent({
        name: `${RUN}-client`,
        image,
        network: network.name,
        ip: `${network.subnet24}.100`,
        hosts: [],
      });
    },
    { timeout: 16 * 60_000 },
  );

  after(async () => {
    await agent?.close().catch(() => {});
    const ids = (
      await podman(['ps', '-a', '-q', '--filter', `label=${LABEL}=${process.pid}`]).catch(() => '')
    )
      .split('\n')
      .filter(Boolean);
    if (ids.length > 0) await podman(['rm', '-f', '-t', '0', ...ids]).catch(() => {});
    for (const c of clients) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (network) await podman(['network', 'rm', '-f', network.name]).catch(() => {});
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function request(req: Parameters<NsAgent['request']>[0]): Promise<NsReply> {
    return agent!.request(req);
  }

  async function mode(ip: string): Promise<string | null> {
    const r = await request({ host: ip, port: CLIENT_PORT, fourLetter: 'srvr', timeoutMs: 1500 });
    return r.ok ? modeOf(r.results[0]?.text ?? '') : null;
  }

  test('the image: zkensemble entrypoint, non-root, no tests or dev dependencies, a standalone peer serves', {
    timeout: 3 * 60_000,
  }, async () => {
    const config = JSON.parse(await podman(['image', 'inspect', '--format', '{{json .Config}}', image])) as {
      User?: string;
      Entrypoint?: string[];
      Cmd?: string[];
      Healthcheck?: unknown;
    };
    assert.equal(config.User, `${RUNTIME_UID}:${RUNTIME_UID}`);
    assert.deepEqual(config.Entrypoint, ['zkensemble']);
    assert.deepEqual(config.Cmd, ['peer', '/etc/zkensemble/zoo.cfg']);
    assert.equal(config.Healthcheck ?? null, null, 'no HEALTHCHECK: Kubernetes probes are used');

    const usage = await podman(['run', '--rm', '--label', `${LABEL}=${process.pid}`, image, '--help']);
    assert.match(usage, /usage: zkensemble <command>/);
    assert.match(usage, /peer CONFIG/);
    assert.match(usage, /operator/);

    const inside = await podman([
      'run',
      '--rm',
      '--label',
      `${LABEL}=${process.pid}`,
      '--entrypoint',
      'sh',
      image,
      '-c',
      'id -u; find /app -path /app/node_modules -prune -o -name "*.test.ts" -print | wc -l; ls /app/node_modules; test -w /app/peer && echo writable-code || echo read-only-code',
    ]);
    const [uid, tests, ...rest] = inside.trim().split('\n');
    assert.equal(uid, String(RUNTIME_UID));
    assert.equal(tests, '0', 'no test files in the image');
    assert.ok(rest.includes('pino'), 'production dependencies are installed');
    for (const dev of ['node', 'typescript', '@biomejs', 'node-zookeeper-client'])
      assert.ok(!rest.includes(dev), `no devDependency ${dev}`);
    assert.equal(rest.at(-1), 'read-only-code');

    // The default command: a standalone peer from the image's own zoo.cfg.
    const name = `${RUN}-standalone`;
    const ip = `${network.subnet24}.50`;
    await podman([
      'run',
      '-d',
      '--name',
      name,
      '--label',
      `${LABEL}=${process.pid}`,
      '--network',
      network.name,
      '--ip',
      ip,
      image,
    ]);
    await until('the standalone peer to serve', 30_000, async () => (await mode(ip)) === 'standalone', POLL);
    const r = await request({
      host: ip,
      port: CLIENT_PORT,
      ops: [
        { op: 'create', path: '/hello', data: 'container' },
        { op: 'get', path: '/hello' },
      ],
    });
    assert.ok(r.ok, replyError(r));
    assert.equal(r.results[0]!.err, 0);
    assert.equal(r.results[1]!.data, 'container');
    // SIGTERM reaches the peer as PID 1 and it exits cleanly within the grace period.
    await podman(['stop', '-t', '10', name], 30_000);
    const state = JSON.parse(await podman(['inspect', '--format', '{{json .State}}', name])) as {
      ExitCode: number;
    };
    assert.equal(state.ExitCode, 0, `the peer exited cleanly on SIGTERM:\n${await podman(['logs', name])}`);
    await podman(['rm', '-f', name]);
  });

  test('3 voters + 2 observers: leader killed, observer disconnected; clients carry on, no acknowledged write is lost', {
    timeout: 6 * 60_000,
  }, async (t) => {
    const members = containerMembers(RUN, network.subnet24, 3, 2, randomMacPrefix());
    const bySid = new Map(members.map((m) => [m.sid, m]));
    const running = new Set(members.map((m) => m.sid));
    const started = Date.now();
    const at = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

    const runMember = async (m: ContainerMember) => {
      const dir = join(root, m.name);
      mkdirSync(join(dir, 'data'), { recursive: true });
      writeFileSync(join(dir, 'data', 'myid'), `${m.sid}\n`);
      chownSync(join(dir, 'data'), RUNTIME_UID, RUNTIME_UID);
      writeFileSync(join(dir, 'zoo.cfg'), renderContainerConfig(m, members));
      await podman([
        'run',
        '-d',
        '--name',
        m.name,
        '--hostname',
        m.name,
        '--label',
        `${LABEL}=${process.pid}`,
        '--network',
        network.name,
        '--ip',
        m.ip,
        '--mac-address',
        m.mac,
        ...hostArgs(members),
        '-v',
        `${join(dir, 'data')}:/data`,
        '-v',
        `${join(dir, 'zoo.cfg')}:/etc/zkensemble/zoo.cfg:ro`,
        image,
      ]);
    };

    /** Every running member serves and exactly one leads; returns the leader. */
    const waitFormed = (ms: number): Promise<ContainerMember> => {
      let last = '';
      return until(
        'the ensemble to form',
        ms,
        async () => {
          const live = members.filter((m) => running.has(m.sid));
          const modes = await Promise.all(live.map((m) => mode(m.ip)));
          last = live.map((m, i) => `${m.sid}=${modes[i]}`).join(' ');
          const leaders = live.filter((_, i) => modes[i] === 'leader');
          return modes.every((x) => x !== null) && leaders.length === 1 ? leaders[0] : undefined;
        },
        { ...POLL, detail: () => `modes: ${last}` },
      );
    };

    let load: WriteLoad | null = null;
    try {
      await Promise.all(members.map(runMember));
      const firstLeader = await waitFormed(60_000);
      const modes = await Promise.all(members.map((m) => mode(m.ip)));
      assert.deepEqual(modes.slice(3), ['observer', 'observer']);
      t.diagnostic(`formed at ${at()}, leader ${firstLeader.sid}`);
      const mk = await request({
        host: firstLeader.ip,
        port: CLIENT_PORT,
        ops: [{ op: 'create', path: '/w' }],
      });
      assert.ok(mk.ok && mk.results[0]!.err === 0, replyError(mk));

      const cs = (sids: number[]) => sids.map((s) => `${bySid.get(s)!.name}:${CLIENT_PORT}`).join(',');
      const writers = [
        { name: 'voters', connectString: cs([1, 2, 3]) },
        { name: 'observers', connectString: cs([4, 5]) },
        { name: 'all', connectString: cs([1, 2, 3, 4, 5]) },
      ];
      load = startWriteLoad(
        {
          name: `${RUN}-writer`,
          image,
          network: network.name,
          ip: `${network.subnet24}.101`,
          hosts: hostArgs(members),
          script: join(REPO_ROOT, 'e2e', 'podman', 'writer.ts'),
          args: [JSON.stringify({ writers, sessionTimeoutMs: 8000, opTimeoutMs: 6000, pauseMs: 10 })],
        },
        (p) => clients.push(p),
      );
      const l = load;
      /** Every writer gets `n` more writes acknowledged within `ms`. */
      const progress = async (what: string, n: number, ms: number) => {
        const base = new Map(writers.map((w) => [w.name, l.count(w.name)]));
        await until(
          `every writer to have ${n} more writes acknowledged ${what}`,
          ms,
          () => writers.every((w) => l.count(w.name) >= base.get(w.name)! + n),
          POLL,
        );
        t.diagnostic(`${at()}: ${n} more writes per writer ${what} (${l.acked.size} acknowledged in all)`);
      };
      await progress('at the start', 30, 60_000);

      // The leader's container dies; a new leader among the two other voters takes over.
      await podman(['kill', firstLeader.name]);
      running.delete(firstLeader.sid);
      await progress('after the leader was killed', 30, 60_000);
      const second = await waitFormed(30_000);
      assert.notEqual(second.sid, firstLeader.sid);
      assert.ok(!second.observer, 'a voter leads');

      // The old leader comes back (same data directory) and follows.
      await podman(['start', firstLeader.name]);
      running.add(firstLeader.sid);
      await waitFormed(60_000);
      assert.equal(await mode(firstLeader.ip), 'follower');
      await progress('after the old leader came back', 20, 60_000);

      // One observer is cut off the network, then reconnected with the same address and MAC.
      const cut = bySid.get(5)!;
      await podman(['network', 'disconnect', network.name, cut.name]);
      running.delete(cut.sid);
      assert.equal(await mode(cut.ip), null, 'the cut-off observer is unreachable');
      await progress('with an observer cut off', 30, 60_000);
      await podman(['network', 'connect', '--ip', cut.ip, '--mac-address', cut.mac, network.name, cut.name]);
      running.add(cut.sid);
      await until(
        'the reconnected observer to serve',
        60_000,
        async () => (await mode(cut.ip)) === 'observer',
        POLL,
      );
      await progress('after the observer was reconnected', 20, 60_000);

      await load.stop();
      const acked = [...load.acked];
      t.diagnostic(
        `${at()}: writers stopped: ${acked.length} writes acknowledged, ${load.errors.length} failed or unknown` +
          (load.errors.length > 0 ? ` (last: ${load.errors.at(-1)})` : ''),
      );

      // Every acknowledged write is on every member (after a sync through that member).
      await waitFormed(30_000);
      for (const m of members) {
        const r = await request({
          host: m.ip,
          port: CLIENT_PORT,
          timeoutMs: 15_000,
          ops: [
            { op: 'sync', path: '/w' },
            { op: 'children', path: '/w' },
          ],
        });
        assert.ok(r.ok && r.results[1]?.err === 0, `member ${m.sid}: ${replyError(r)}`);
        const present = new Set(r.results[1]!.children ?? []);
        const missing = acked.filter((p) => !present.has(p.slice('/w/'.length)));
        assert.deepEqual(
          missing.slice(0, 10),
          [],
          `member ${m.sid} lacks ${missing.length} acknowledged writes`,
        );
      }
      t.diagnostic(`${at()}: all ${acked.length} acknowledged writes are on all 5 members`);
    } catch (e) {
      for (const m of members) {
        const logs = await podman(['logs', '--tail', '15', m.name]).catch((err) => String(err));
        t.diagnostic(`--- ${m.name} (member ${m.sid}) ---\n${logs}`);
      }
      if (load) t.diagnostic(`writer failures: ${load.errors.slice(-10).join('\n')}`);
      throw e;
    } finally {
      await load?.stop().catch(() => {});
    }
  });
});
