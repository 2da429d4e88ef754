// `zkensemble peer --k8s DIR` as the operator's pods run it, on loopback: a voter takes its id
// from its StatefulSet ordinal; an observer waits for the id the operator assigns, joins with the
// ConfigMap's membership plus itself, and is then added by reconfig.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ZkConnection } from '../peer/client/connection.ts';
import { freeLoopbackPort } from '../peer/ensemble/local.ts';
import { Err, OpCode } from '../peer/protocol/constants.ts';
import { digestId } from './clients/drivers.ts';
import { stopChild } from './lib/process.ts';
import { REPO_ROOT, serverMode } from './lib/servers.ts';
import { until } from './lib/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'zke-k8s-peer-'));
const procs: ChildProcess[] = [];
after(async () => {
  for (const p of procs) await stopChild(p);
  rmSync(root, { recursive: true, force: true });
});

/** What the operator's ConfigMaps give a pod, in a directory of its own. */
function podConfigDir(name: string, clientPort: number, membership: string): string {
  const dir = join(root, name, 'etc');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'zoo.cfg'),
    [
      'tickTime=200',
      'initLimit=10',
      'syncLimit=5',
      `dataDir=${join(root, name, 'data')}`,
      `clientPort=${clientPort}`,
      'clientPortAddress=127.0.0.1',
      'dynamicConfigFile=zoo.cfg.dynamic',
      'reconfigEnabled=true',
      'standaloneEnabled=false',
      'admin.enableServer=false',
      '4lw.commands.whitelist=*',
      `DigestAuthenticationProvider.superDigest=${digestId('super', 'k8s')}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'zoo.cfg.dynamic'), membership);
  return dir;
}

function startPod(dir: string, env: Record<string, string>): ChildProcess & { out: string } {
  const p = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'zkensemble'), 'peer', '--k8s', dir], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { out: string };
  p.out = '';
  p.stdout!.on('data', (c: Buffer) => (p.out += c));
  p.stderr!.on('data', (c: Buffer) => (p.out += c));
  procs.push(p);
  return p;
}

const mode = (port: number) => serverMode('127.0.0.1', port);

test('a voter pod and a joining observer pod start from the operator contract', async () => {
  const voterClient = await freeLoopbackPort();
  const voterLine = `server.1=127.0.0.1:${await freeLoopbackPort()}:${await freeLoopbackPort()}:participant;${voterClient}`;
  const voterDir = podConfigDir('zk-voters-0', voterClient, `${voterLine}\n`);
  const voter = startPod(voterDir, { POD_NAME: 'zk-voters-0', POD_IP: '127.0.0.1', ZKE_ROLE: 'voter' });
  await until('the voter to lead', 30_000, async () => (await mode(voterClient)) === 'leader');
  assert.equal(
    readFileSync(join(root, 'zk-voters-0', 'data', 'myid'), 'utf8').trim(),
    '1',
    'ordinal 0 is id 1',
  );

  // The observer pod: its id comes later, through the downward API file.
  const obsClient = await freeLoopbackPort();
  const obsDir = podConfigDir('zk-eu-abc12', obsClient, `${voterLine}\n`);
  const podinfo = join(root, 'zk-eu-abc12', 'podinfo');
  mkdirSync(podinfo, { recursive: true });
  writeFileSync(join(podinfo, 'server-id'), '');
  const observer = startPod(obsDir, {
    POD_NAME: 'zk-eu-abc12',
    // Its own loopback address, so that the fixed quorum/election ports cannot clash.
    POD_IP: '127.0.0.2',
    ZKE_ROLE: 'observer',
    ZKE_PODINFO_DIR: podinfo,
  });
  await until('the observer to wait for its id', 15_000, () =>
    observer.out.includes('waiting for the operator'),
  );
  writeFileSync(join(podinfo, 'server-id'), '101');
  await until('the observer to serve', 30_000, async () => (await mode(obsClient)) === 'observer');
  const dynamic = readFileSync(join(root, 'zk-eu-abc12', 'data', 'zoo.cfg.dynamic'), 'utf8');
  assert.match(
    dynamic,
    /^server\.101=127\.0\.0\.2:2888:3888:observer;/m,
    'the ConfigMap membership plus itself',
  );

  // The operator adds it by reconfig; both members then agree on the membership.
  const admin = await ZkConnection.connect({ port: voterClient, timeOut: 10_000 });
  assert.equal((await admin.auth('digest', 'super:k8s')).err, Err.OK);
  const r = await admin.call(OpCode.reconfig, {
    type: OpCode.reconfig,
    joiningServers: /^server\.101=.*$/m.exec(dynamic)![0],
    leavingServers: null,
    newMembers: null,
    curConfigId: -1,
  });
  assert.equal(r.err, Err.OK);
  await until('the observer to rewrite its membership', 15_000, () =>
    /version=[1-9a-f]/.test(readFileSync(join(root, 'zk-eu-abc12', 'data', 'zoo.cfg.dynamic'), 'utf8')),
  );
  assert.equal((await admin.create('/from-operator', 'x')).err, Err.OK);
  const reader = await ZkConnection.connect({ port: obsClient, timeOut: 10_000 });
  await reader.call(OpCode.sync, { type: OpCode.sync, path: '/' });
  assert.equal((await reader.exists('/from-operator')).err, Err.OK);
  await reader.close();
  await admin.close();
  assert.equal(voter.exitCode, null);
});

test('a pod without its environment stops with a clear error', async () => {
  const dir = podConfigDir('broken', await freeLoopbackPort(), 'server.1=127.0.0.1:1:2\n');
  const p = startPod(dir, { POD_NAME: 'zk-voters-0', POD_IP: '', ZKE_ROLE: 'voter' });
  const code = await new Promise<number | null>((r) => p.once('exit', r));
  assert.equal(code, 2);
  assert.match(p.out, /POD_IP is not set/);
});
