// A local ensemble on loopback (`zkensemble local`, and the tests): zoo.cfg for each member, then
// one peer process per member, and the connect string.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export interface LocalMember {
  sid: number;
  /** A loopback address of its own (127.0.0.1 unless the caller picks others). */
  host: string;
  observer: boolean;
  clientPort: number;
  quorumPort: number;
  electionPort: number;
  dataDir: string;
  configPath: string;
}

export interface LocalPorts {
  clientPort: number;
  quorumPort: number;
  electionPort: number;
}

/** zoo.cfg text for one member of a loopback ensemble (a pure function of its inputs). */
export function renderLocalConfig(
  me: LocalMember,
  members: readonly LocalMember[],
  extra: Record<string, string | number> = {},
): string {
  const lines: Record<string, string | number> = {
    tickTime: 200,
    initLimit: 10,
    syncLimit: 5,
    dataDir: me.dataDir,
    clientPort: me.clientPort,
    clientPortAddress: me.host,
    maxClientCnxns: 0,
    '4lw.commands.whitelist': '*',
    ...(me.observer ? { peerType: 'observer' } : {}),
    ...extra,
  };
  const servers = members.map(
    (m) => `server.${m.sid}=${m.host}:${m.quorumPort}:${m.electionPort}${m.observer ? ':observer' : ''}`,
  );
  return `${Object.entries(lines)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n${servers.join('\n')}\n`;
}

export async function freeLoopbackPort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}

export interface LocalLayout {
  /** Address per member (default 127.0.0.1). */
  hostFor?: (sid: number) => string;
  /** Extra zoo.cfg lines per member, on top of the shared ones. */
  extraFor?: (sid: number) => Record<string, string | number>;
}

/** Lays out data dirs, myid files and configs under root; ports are picked free on loopback. */
export async function prepareLocalEnsemble(
  root: string,
  voters: number,
  observers: number,
  extra: Record<string, string | number> = {},
  ports?: (sid: number) => LocalPorts,
  layout: LocalLayout = {},
): Promise<LocalMember[]> {
  const members: LocalMember[] = [];
  for (let sid = 1; sid <= voters + observers; sid++) {
    const dataDir = join(root, `member${sid}`);
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'myid'), `${sid}\n`);
    const p = ports?.(sid) ?? {
      clientPort: await freeLoopbackPort(),
      quorumPort: await freeLoopbackPort(),
      electionPort: await freeLoopbackPort(),
    };
    const host = layout.hostFor?.(sid) ?? '127.0.0.1';
    members.push({ sid, host, observer: sid > voters, ...p, dataDir, configPath: join(dataDir, 'zoo.cfg') });
  }
  for (const m of members) {
    writeFileSync(m.configPath, renderLocalConfig(m, members, { ...extra, ...layout.extraFor?.(m.sid) }));
  }
  return members;
}

export function connectString(members: readonly LocalMember[]): string {
  return members.map((m) => `${m.host}:${m.clientPort}`).join(',');
}

/** Starts `zkensemble peer` for one member. */
export function spawnMember(bin: string, m: LocalMember, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [bin, 'peer', m.configPath], { stdio: ['ignore', 'pipe', 'pipe'], env });
}
