// bin/zkensemble as a user runs it: a bad zoo.cfg stops it with a message naming the line; unknown
// keys are warned about and the peer serves anyway.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fourLetterWord, REPO_ROOT, startServer } from './lib/servers.ts';

const BIN = join(REPO_ROOT, 'bin', 'zkensemble');

function runWithConfig(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'zke-cli-'));
  try {
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(cfg, text.replaceAll('DATADIR', dir));
    return spawnSync(process.execPath, [BIN, 'peer', cfg], { encoding: 'utf8', timeout: 20_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a malformed line stops the peer with a message naming the line', () => {
  const r = runWithConfig('tickTime=2000\ndataDir=DATADIR\nclientPort=abc\n');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /line 3: clientPort=abc is not an integer/);
  const r2 = runWithConfig('dataDir=DATADIR\njust some words\n');
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /line 2: expected key=value/);
});

test('a config without dataDir is refused', () => {
  const r = runWithConfig('tickTime=2000\nclientPort=2181\n');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /dataDir is not set/);
});

test('unknown keys are warned about and the peer serves', async () => {
  const server = await startServer('peer', { config: { someFutureSetting: 'yes' } });
  try {
    const warning = server
      .output()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string; key?: string })
      .find((l) => l.key === 'someFutureSetting');
    assert.ok(warning, 'a warning names the key');
    assert.equal(warning.level, 40);
  } finally {
    await server.stop();
  }
});

test('usage and unknown commands', () => {
  const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /peer CONFIG/);
  const bad = spawnSync(process.execPath, [BIN, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command: frobnicate/);
  // A subcommand's --help answers and exits; it does not start servers.
  const localHelp = spawnSync(process.execPath, [BIN, 'local', '--help'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(localHelp.status, 0, localHelp.stderr);
  assert.match(localHelp.stdout, /local \[--voters N --observers M/);
  const typo = spawnSync(process.execPath, [BIN, 'local', '--voter', '3'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /Unknown option '--voter'/);
});

test('local --voters 2 --observers 1 runs a loopback ensemble, prints its connect string, stops on SIGTERM', async () => {
  const p = spawn(process.execPath, [BIN, 'local', '--voters', '2', '--observers', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  let out = '';
  p.stdout.on('data', (c: Buffer) => (out += c.toString()));
  p.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  try {
    const deadline = Date.now() + 30_000;
    let modes: string[] = [];
    while (Date.now() < deadline) {
      const cs = /connect string (\S+)/.exec(out)?.[1];
      if (cs) {
        const addrs = cs.split(',');
        assert.equal(addrs.length, 3);
        const texts = await Promise.all(
          addrs.map((a) =>
            fourLetterWord(a.split(':')[0]!, Number(a.split(':')[1]), 'srvr', 1000).catch(() => ''),
          ),
        );
        modes = texts.map((t) => /Mode: (\S+)/.exec(t)?.[1] ?? '').sort();
        if (modes.join() === 'follower,leader,observer') break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(modes, ['follower', 'leader', 'observer'], out);
  } finally {
    p.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000)),
    ]);
    if (code === 'timeout') p.kill('SIGKILL');
    assert.notEqual(code, 'timeout', 'local stops its members and exits on SIGTERM');
  }
});

test('the peer runs with its memory settings, in the same process, unless the user gives their own', async () => {
  const settings = (pid: number) => ({
    args: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'),
    arenas: readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .find((e) => e.startsWith('MALLOC_ARENA_MAX=')),
  });
  const defaults = await startServer('peer', { env: { NODE_OPTIONS: '' } });
  try {
    // Serving, so the re-exec has happened; the PID is the one spawned (execve, not a child).
    assert.equal((await fourLetterWord(defaults.host, defaults.port, 'ruok')).trim(), 'imok');
    const s = settings(defaults.pid);
    assert.ok(s.args.includes('--max-semi-space-size=8'), s.args.join(' '));
    assert.ok(s.args.includes('--no-allocation-site-pretenuring'), s.args.join(' '));
    assert.equal(s.arenas, `MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? 2}`);
  } finally {
    await defaults.stop();
  }
  const own = await startServer('peer', {
    env: { NODE_OPTIONS: '--max-semi-space-size=4', MALLOC_ARENA_MAX: '4' },
  });
  try {
    assert.equal((await fourLetterWord(own.host, own.port, 'ruok')).trim(), 'imok');
    const s = settings(own.pid);
    assert.ok(!s.args.some((a) => a.startsWith('--max-semi-space-size')), s.args.join(' '));
    // Each setting is overridden on its own: the one not given is still applied.
    assert.ok(s.args.includes('--no-allocation-site-pretenuring'), s.args.join(' '));
    assert.equal(s.arenas, 'MALLOC_ARENA_MAX=4');
  } finally {
    await own.stop();
  }
});

test('npm run build compiles the peer to JavaScript that runs without the type stripper', async (t) => {
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(build.status, 0, build.stdout + build.stderr);
  const bin = join(REPO_ROOT, 'dist', 'bin', 'zkensemble');
  // With type stripping off, any TypeScript the peer still loaded would fail to import.
  const server = await startServer('peer', { bin, env: { NODE_OPTIONS: '--no-experimental-strip-types' } });
  try {
    assert.equal((await fourLetterWord(server.host, server.port, 'ruok')).trim(), 'imok');
    assert.match(await fourLetterWord(server.host, server.port, 'srvr'), /Mode: standalone/);
  } finally {
    await server.stop();
  }
  // Started by an older system Node, the build finds the checkout's pinned Node above it.
  const system = spawnSync('/usr/bin/node', ['--version'], { encoding: 'utf8' });
  const major = Number(/^v(\d+)/.exec(system.stdout ?? '')?.[1] ?? 0);
  if (major === 0 || major >= 24) {
    t.skip('no system Node older than 24 at /usr/bin/node');
    return;
  }
  const help = spawnSync('/usr/bin/node', [bin, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /peer CONFIG/);
});
