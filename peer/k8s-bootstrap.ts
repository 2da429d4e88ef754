// `zkensemble peer --k8s DIR`: turns what a Kubernetes pod is given (the operator's ConfigMaps in
// DIR, the downward API, the pod's environment) into a ZooKeeper data dir and zoo.cfg, then the
// peer runs from those like from any other config. The contract with the rendered pods is in
// operator/render/contract.ts.
//
// - Server id: a voter's is its StatefulSet ordinal + 1; an observer's is the annotation the
//   operator puts on its pod, which the downward API shows as a file (waited for).
// - Membership: the ConfigMap's dynamic config, plus this server when it is not listed yet (a
//   joining observer: ZooKeeper's "current config plus itself"). A copy in the data dir is what the
//   peer reads and rewrites on reconfig (the ConfigMap is read-only); a copy with a higher version
//   from an earlier run wins over the ConfigMap's.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ENV, PODINFO_DIR, PORTS, SERVER_ID_FILE, STATIC_CONFIG_FILE } from '../operator/render/contract.ts';
import { writeDynamicConfig } from './config/dynamic-config.ts';
import { ConfigError, parseZooConfig } from './config/zoocfg.ts';
import { replaceFile } from './persistence/files.ts';
import { parseDynamicConfig, type QuorumConfig } from './quorum/quorum-config.ts';

export interface PodEnv {
  podName: string;
  podIP: string;
  role: 'voter' | 'observer';
}

export function podEnv(env: NodeJS.ProcessEnv): PodEnv {
  const podName = env[ENV.podName] ?? '';
  const podIP = env[ENV.podIP] ?? '';
  const role = env[ENV.role] ?? '';
  if (podName === '') throw new ConfigError(`${ENV.podName} is not set (downward API metadata.name)`);
  if (podIP === '') throw new ConfigError(`${ENV.podIP} is not set (downward API status.podIP)`);
  if (role !== 'voter' && role !== 'observer')
    throw new ConfigError(`${ENV.role} must be voter or observer, not "${role}"`);
  return { podName, podIP, role };
}

/** A StatefulSet pod's ordinal + 1 (ids start at 1, as ZooKeeper's myid conventionally does). */
export function voterServerId(podName: string): number {
  const m = /-(\d+)$/.exec(podName);
  if (!m) throw new ConfigError(`voter pod name ${podName} does not end in a StatefulSet ordinal`);
  return Number(m[1]) + 1;
}

export function parseServerIdFile(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 && n <= 0xffffffff ? n : null;
}

/**
 * The membership to start with: the newer of the ConfigMap's and the data dir's, with this server
 * added (as an observer or voter, at its pod IP) if neither lists it.
 */
export function startingMembership(
  fromConfigMap: QuorumConfig,
  fromDataDir: QuorumConfig | null,
  sid: number,
  pod: PodEnv,
  ports: { quorum: number; election: number; client: number },
): QuorumConfig {
  const base = fromDataDir && fromDataDir.version >= fromConfigMap.version ? fromDataDir : fromConfigMap;
  if (base.members.has(sid)) return base;
  const members = new Map(base.members);
  members.set(sid, {
    sid,
    host: pod.podIP,
    quorumPort: ports.quorum,
    electionPort: ports.election,
    role: pod.role === 'voter' ? 'participant' : 'observer',
    clientAddress: null,
    clientPort: ports.client,
  });
  return { members, version: base.version };
}

async function waitForServerId(file: string, log: (msg: string) => void): Promise<number> {
  const started = Date.now();
  let lastLog = 0;
  for (;;) {
    const id = parseServerIdFile(await readFile(file, 'utf8').catch(() => ''));
    if (id !== null) return id;
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(
        `waiting for the operator to assign a server id (${file}), ${Math.round((Date.now() - started) / 1000)} s`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function readConfigIfAny(path: string): Promise<QuorumConfig | null> {
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    return parseDynamicConfig(text);
  } catch {
    return null;
  }
}

/**
 * Prepares the data dir (myid, dynamic config, zoo.cfg) from the pod's inputs and returns the path
 * of the zoo.cfg to run.
 */
export async function bootstrapK8s(
  configDir: string,
  env: NodeJS.ProcessEnv,
  opts: { podInfoDir?: string; log?: (msg: string) => void } = {},
): Promise<string> {
  const pod = podEnv(env);
  const log = opts.log ?? (() => {});
  const staticPath = join(configDir, STATIC_CONFIG_FILE);
  const staticText = await readFile(staticPath, 'utf8').catch((e: Error) => {
    throw new ConfigError(`cannot read ${staticPath}: ${e.message}`);
  });
  const cfg = parseZooConfig(staticText);
  if (cfg.dynamicConfigFile === null) throw new ConfigError(`${staticPath} has no dynamicConfigFile`);
  const sid =
    pod.role === 'voter'
      ? voterServerId(pod.podName)
      : await waitForServerId(
          join(opts.podInfoDir ?? env.ZKE_PODINFO_DIR ?? PODINFO_DIR, SERVER_ID_FILE),
          log,
        );
  await mkdir(cfg.dataDir, { recursive: true });
  await writeFile(join(cfg.dataDir, 'myid'), `${sid}\n`);

  const dynamicPath = cfg.dynamicConfigFile.startsWith('/')
    ? cfg.dynamicConfigFile
    : join(configDir, cfg.dynamicConfigFile);
  const fromConfigMap = await readConfigIfAny(dynamicPath);
  if (!fromConfigMap) throw new ConfigError(`cannot read the membership in ${dynamicPath}`);
  const ownDynamic = join(cfg.dataDir, 'zoo.cfg.dynamic');
  const membership = startingMembership(fromConfigMap, await readConfigIfAny(ownDynamic), sid, pod, {
    quorum: PORTS.quorum,
    election: PORTS.election,
    client: cfg.clientPort,
  });
  await writeDynamicConfig(ownDynamic, membership);
  // The static settings as given, with the membership pointing at the data dir's copy.
  const runnable = staticText
    .split(/\r?\n/)
    .filter((l) => !/^\s*(zookeeper\.)?dynamicConfigFile\s*=/.test(l))
    .concat([`dynamicConfigFile=${ownDynamic}`, ''])
    .join('\n');
  const runPath = join(cfg.dataDir, 'zoo.cfg');
  await replaceFile(runPath, runnable);
  log(`server ${sid} (${pod.role}) starts from ${runPath}`);
  return runPath;
}
