// A local ensemble on loopback (`zkensemble local`, and the tests): zoo.cfg for each member, then
// one peer process per member, and the connect string.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** HTTP admin server (commands, /metrics, /healthz, /readyz); without one it is disabled. */
  adminPort?: number;
  dataDir: string;
  configPath: string;
}

export interface LocalPorts {
  clientPort: number;
  quorumPort: number;
  electionPort: number;
  /** Picked free when not given. */
  adminPort?: number;
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
    ...(me.adminPort === undefined
      ? { 'admin.enableServer': 'false' }
      : { 'admin.serverAddress': me.host, 'admin.serverPort': me.adminPort }),
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

/**
 * A loopback port that is free now, picked below the kernel's ephemeral range: a port from that
 * range (what listen(0) hands out) can be taken as the local end of any outgoing connection
 * before the member that was given it binds it, and that member then fails with EADDRINUSE.
 */
export async function freeLoopbackPort(): Promise<number> {
  const ceiling = ephemeralRangeStart() - 1;
  const floor = Math.min(10_000, ceiling - 1000);
  // A long benchmark lays out hundreds of ensembles, their ports long since released.
  if (handedOut.size > (ceiling - floor) / 4) handedOut.clear();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = floor + Math.floor(Math.random() * (ceiling - floor));
    // Nobody binds a port until the whole ensemble is laid out: never hand one out twice.
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port between ${floor} and ${ceiling}`);
}

/** Ports this process picked already (a process lays out a few ensembles at most). */
const handedOut = new Set<number>();

function ephemeralRangeStart(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    if (Number.isInteger(first) && first > 2000) return first;
  } catch {
    // Not Linux: fall through to the IANA dynamic range.
  }
  return 49152;
}

async function canListen(port: number): Promise<boolean> {
  const s = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) {
    s.close();
    await once(s, 'close');
  }
  return ok;
}

export interface LocalLayout {
  /** Address per member (default 127.0.0.1). */
  hostFor?: (sid: number) => string;
  /** Extra zoo.cfg lines per member, on top of the shared ones. */
  extraFor?: (sid: number) => Record<string, string | number>;
}

/**
 * Observer masters on loopback: every follower listens on the same observerMasterPort (as ZooKeeper
 * requires), so each member gets a loopback address of its own, 127.0.0.<sid> (Linux routes all of
 * 127.0.0.0/8 to lo). Pass the result to prepareLocalEnsemble as its extra lines and layout.
 */
export async function observerMasterLayout(): Promise<{
  extra: Record<string, string | number>;
  layout: LocalLayout;
}> {
  return {
    extra: { observerMasterPort: await freeLoopbackPort() },
    layout: { hostFor: (sid) => `127.0.0.${sid}` },
  };
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
    const adminPort = p.adminPort ?? (await freeLoopbackPort());
    const host = layout.hostFor?.(sid) ?? '127.0.0.1';
    members.push({
      sid,
      host,
      observer: sid > voters,
      ...p,
      adminPort,
      dataDir,
      configPath: join(dataDir, 'zoo.cfg'),
    });
  }
  for (const m of members) {
    writeFileSync(m.configPath, renderLocalConfig(m, members, { ...extra, ...layout.extraFor?.(m.sid) }));
  }
  return members;
}

export function connectString(members: readonly LocalMember[]): string {
  return members.map((m) => `${m.host}:${m.clientPort}`).join(',');
}

/** Base URL of a member's admin server. */
export function adminUrl(m: LocalMember): string {
  return `http://${m.host}:${m.adminPort}`;
}

/** Starts `zkensemble peer` for one member. */
export function spawnMember(bin: string, m: LocalMember, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [bin, 'peer', m.configPath], { stdio: ['ignore', 'pipe', 'pipe'], env });
}
