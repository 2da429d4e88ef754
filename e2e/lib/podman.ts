// Podman for the container tests: the podman command with this machine's settings, the image (built
// from the working tree when missing), a private network, ensemble members as containers with
// zoo.cfg files rendered by a pure function, and clients running in containers on that network.
// Every container and network carries a label with the creating process's PID, so a run that died
// without cleaning up is cleaned up by the next one; nothing else is ever removed.

import { type ChildProcess, execFile, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type LocalMember, renderLocalConfig } from '../../peer/ensemble/local.ts';
import type { NetnsNetwork } from './netns.ts';
import { type NsAgent, startAgent } from './ns-client.ts';
import { pidAlive } from './process.ts';
import { REPO_ROOT } from './servers.ts';

export const LABEL = 'zkensemble-e2e';
/** Where clients running in containers see the repository (mounted read-only). */
export const REPO_IN_CONTAINER = '/repo';
export const CLIENT_PORT = 2181;
export const QUORUM_PORT = 2888;
export const ELECTION_PORT = 3888;

/** Podman's environment: the settings in e2e/podman/containers.conf when runc is there (as podman-env.sh). */
export function podmanEnv(): NodeJS.ProcessEnv {
  if (process.env.CONTAINERS_CONF) return process.env;
  const runc = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' });
  if (runc.status !== 0) return process.env;
  return { ...process.env, CONTAINERS_CONF: join(REPO_ROOT, 'e2e', 'podman', 'containers.conf') };
}

const ENV = podmanEnv();

export function podman(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'podman',
      args,
      { env: ENV, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`podman ${args.join(' ')}: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

export function spawnPodman(args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn('podman', args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts, env: ENV });
}

/** What this (root, Linux) machine lacks for the container tests (a working podman), or null. */
export async function podmanMissing(): Promise<string | null> {
  try {
    await podman(['--version'], 10_000);
  } catch (e) {
    return `podman is unavailable: ${(e as Error).message}`;
  }
  try {
    await podman(['info', '--format', '{{.Host.OCIRuntime.Name}}'], 30_000);
  } catch (e) {
    return `podman does not work here: ${(e as Error).message}`;
  }
  return null;
}

const IMAGE_INPUTS = [
  'Dockerfile',
  '.dockerignore',
  'package.json',
  'package-lock.json',
  'bin',
  'peer',
  'operator',
];
const BASE_INPUTS = ['e2e/podman/build-base.sh', 'e2e/podman/build-image.sh'];

function filesUnder(path: string): string[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return [];
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => filesUnder(join(path, name)));
}

/** The image's tag: a hash of everything the build reads, so a changed tree never runs a stale image. */
export function imageTag(): string {
  const h = createHash('sha256');
  for (const file of [...IMAGE_INPUTS, ...BASE_INPUTS].flatMap((p) => filesUnder(join(REPO_ROOT, p)))) {
    h.update(relative(REPO_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return `localhost/zkensemble:e2e-${h.digest('hex').slice(0, 16)}`;
}

/**
 * Builds the image from the working tree unless an image of the same inputs exists (the base image
 * too, when missing), within timeoutMs. Older e2e tags are removed afterwards (unless in use).
 */
export async function ensureImage(timeoutMs: number): Promise<{ tag: string; built: boolean }> {
  const tag = imageTag();
  const exists = await podman(['image', 'exists', tag]).then(
    () => true,
    () => false,
  );
  if (exists) return { tag, built: false };
  const script = join(REPO_ROOT, 'e2e', 'podman', 'build-image.sh');
  const out = await new Promise<{ code: number | null; log: string }>((resolve) => {
    const child = spawn('bash', [script, tag], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (c: Buffer) => {
      log = (log + c.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, log });
    });
  });
  if (out.code !== 0) throw new Error(`building ${tag} failed (exit ${out.code}):\n${out.log.slice(-4000)}`);
  const old = (await podman(['images', '--format', '{{.Repository}}:{{.Tag}}', 'localhost/zkensemble']))
    .split('\n')
    .filter((t) => t.startsWith('localhost/zkensemble:e2e-') && t !== tag);
  for (const t of old) await podman(['rmi', t]).catch(() => {});
  return { tag, built: true };
}

/** Removes containers and networks that earlier runs left behind (their creating process is gone). */
export async function removeStaleResources(): Promise<void> {
  const stale = (labels: Record<string, string> | null | undefined) => {
    const pid = Number(labels?.[LABEL]);
    return Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid);
  };
  const containers = (JSON.parse(
    (await podman(['ps', '-a', '--filter', `label=${LABEL}`, '--format', 'json'])) || '[]',
  ) ?? []) as { Id: string; Labels?: Record<string, string> }[];
  const ids = containers.filter((c) => stale(c.Labels)).map((c) => c.Id);
  if (ids.length > 0) await podman(['rm', '-f', '-t', '0', ...ids]);
  const networks = (JSON.parse(
    (await podman(['network', 'ls', '--filter', `label=${LABEL}`, '--format', 'json'])) || '[]',
  ) ?? []) as { name: string; labels?: Record<string, string> }[];
  for (const n of networks.filter((n) => stale(n.labels))) await podman(['network', 'rm', '-f', n.name]);
}

/** A member of an ensemble that runs in containers: its hostname is its container's name. */
export interface ContainerMember {
  sid: number;
  name: string;
  ip: string;
  mac: string;
  observer: boolean;
}

/** Names, addresses (host part 10 + sid of a /24) and MAC addresses of voters then observers. */
export function containerMembers(
  prefix: string,
  subnet24: string,
  voters: number,
  observers: number,
  macPrefix: string,
): ContainerMember[] {
  return Array.from({ length: voters + observers }, (_, i) => {
    const sid = i + 1;
    return {
      sid,
      name: `${prefix}-m${sid}`,
      ip: `${subnet24}.${10 + sid}`,
      mac: `${macPrefix}:${sid.toString(16).padStart(2, '0')}`,
      observer: sid > voters,
    };
  });
}

/**
 * zoo.cfg for one member in a container: the loopback ensemble's rendering with container
 * hostnames, fixed ports, /data, and clients accepted on every address of the container's own
 * network namespace. (The operator's renderer is to take this over.)
 */
export function renderContainerConfig(
  me: ContainerMember,
  members: readonly ContainerMember[],
  extra: Record<string, string | number> = {},
): string {
  const local = (m: ContainerMember): LocalMember => ({
    sid: m.sid,
    host: m.name,
    observer: m.observer,
    clientPort: CLIENT_PORT,
    quorumPort: QUORUM_PORT,
    electionPort: ELECTION_PORT,
    dataDir: '/data',
    configPath: '/etc/zkensemble/zoo.cfg',
  });
  return renderLocalConfig(local(me), members.map(local), { clientPortAddress: '0.0.0.0', ...extra });
}

/** `--add-host` arguments so every container resolves every member's name without DNS. */
export function hostArgs(members: readonly ContainerMember[]): string[] {
  return members.flatMap((m) => ['--add-host', `${m.name}:${m.ip}`]);
}

export interface PodmanNetwork {
  name: string;
  /** The first three octets of its /24. */
  subnet24: string;
}

/** An internal network (no way out) without DNS (no listener on the bridge): names come from --add-host. */
export async function createNetwork(name: string): Promise<PodmanNetwork> {
  await podman([
    'network',
    'create',
    '--internal',
    '--disable-dns',
    '--label',
    `${LABEL}=${process.pid}`,
    name,
  ]);
  const info = JSON.parse(await podman(['network', 'inspect', name])) as {
    subnets?: { subnet: string }[];
  }[];
  const subnet = info[0]?.subnets?.[0]?.subnet ?? '';
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  if (!m) {
    await podman(['network', 'rm', '-f', name]).catch(() => {});
    throw new Error(`network ${name} got subnet '${subnet}', expected a /24`);
  }
  return { name, subnet24: m[1]! };
}

/** A locally administered MAC prefix (5 octets) unique to this run. */
export function randomMacPrefix(): string {
  return ['02', ...[...randomBytes(4)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** Arguments for running a client program (a .ts file of this repository) in a container. */
export function clientRunArgs(opts: {
  name: string;
  image: string;
  network: string;
  ip: string;
  hosts: string[];
  script: string;
  args: string[];
}): string[] {
  return [
    'run',
    '-i',
    '--rm',
    '--name',
    opts.name,
    '--label',
    `${LABEL}=${process.pid}`,
    '--network',
    opts.network,
    '--ip',
    opts.ip,
    ...opts.hosts,
    '-v',
    `${REPO_ROOT}:${REPO_IN_CONTAINER}:ro`,
    '--entrypoint',
    'node',
    opts.image,
    `${REPO_IN_CONTAINER}/${relative(REPO_ROOT, opts.script)}`,
    ...opts.args,
  ];
}

/**
 * e2e/lib/ns-client.ts `--serve` in a container of its own on the network: the same request/reply
 * protocol the namespace tests use, so a test drives it the same way.
 */
export function startContainerAgent(opts: {
  name: string;
  image: string;
  network: string;
  ip: string;
  hosts: string[];
}): NsAgent {
  // startAgent only asks the network to spawn [node, ns-client.ts, ...args] for a host.
  const launcher: Pick<NetnsNetwork, 'spawn'> = {
    spawn: (_host, argv, spawnOpts) =>
      spawnPodman(clientRunArgs({ ...opts, script: argv[1]!, args: argv.slice(2) }), spawnOpts),
  };
  return startAgent(launcher as NetnsNetwork, opts.name);
}
