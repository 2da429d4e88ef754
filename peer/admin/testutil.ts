// Test helpers for the admin commands and metrics: an in-memory server (a real ZkServer on
// loopback whose txn log keeps nothing) and role statuses that tests can steer.

import type { ZooConfig } from '../config/zoocfg.ts';
import { parseZooConfig } from '../config/zoocfg.ts';
import type { QuorumConfig } from '../quorum/quorum-config.ts';
import { configFromServerLines } from '../quorum/quorum-config.ts';
import { LocalWritePath } from '../server/write-path.ts';
import { ZkServer } from '../server/zkserver.ts';
import { serverSettings } from '../server-settings.ts';
import { DataTree } from '../tree/datatree.ts';
import { type LearnerInfo, MemberStats, type RoleName, type RoleStatus, type RoleView } from './status.ts';

export function testConfig(extra = ''): ZooConfig {
  return parseZooConfig(
    `tickTime=2000\ndataDir=/nonexistent/zke-test\nclientPort=2181\n4lw.commands.whitelist=*\n` +
      `server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890:observer\n${extra}`,
  );
}

/** A ZkServer on 127.0.0.1 that commits every write at once (nothing reaches a disk). */
export async function memoryServer(cfg: ZooConfig): Promise<{ server: ZkServer; port: number }> {
  const settings = serverSettings(cfg, 1, 'standalone');
  const txnLog = { append() {}, flush: async () => {} };
  const server = new ZkServer(
    new DataTree(),
    new Map(),
    settings,
    (s) => new LocalWritePath(s.view, s.sessions, txnLog, settings, s, 0),
  );
  const addr = await server.listen('127.0.0.1', 0);
  return { server, port: addr.port };
}

export interface FakeRole {
  mode: RoleView['mode'];
  zab?: ReturnType<RoleView['zabState']>;
  masterSid?: number;
  /** The measured round trip to the master (observers with observer masters). */
  masterRttMs?: number;
  learners?: LearnerInfo[];
}

/** A status whose role the test sets: null for looking, or a role view backed by `server`. */
export class SteeredStatus implements RoleStatus {
  readonly sid: number;
  private readonly startedAt = Date.now();
  readonly stats = new MemberStats();
  current: FakeRole | null = null;
  standalone = false;
  /** Looking, with serverRef serving read-only clients (a member's read-only window). */
  readOnly = false;
  serverRef: ZkServer | null;
  readonly config: QuorumConfig;

  constructor(sid: number, server: ZkServer | null, cfg: ZooConfig) {
    this.sid = sid;
    this.serverRef = server;
    this.config = configFromServerLines(cfg.servers);
  }

  role(): RoleName {
    if (this.standalone) return 'standalone';
    return (this.current?.mode as RoleName | undefined) ?? (this.readOnly ? 'read-only' : 'looking');
  }

  server(): ZkServer | null {
    return this.standalone || this.current || this.readOnly ? this.serverRef : null;
  }

  view(): RoleView | null {
    const r = this.current;
    if (this.standalone || !r) return null;
    const server = this.serverRef;
    return {
      mode: r.mode,
      frontEnd: () => server,
      zabState: () => r.zab ?? 'broadcast',
      syncMode: () => null,
      master: () =>
        r.masterSid === undefined
          ? null
          : { sid: r.masterSid, address: `127.0.0.1:${2887 + r.masterSid}`, rttMs: r.masterRttMs },
      learners: () => r.learners ?? [],
      establishedAt: () => (r.mode === 'leader' ? this.startedAt : 0),
    };
  }

  quorum(): QuorumConfig | null {
    return this.standalone ? null : this.config;
  }
}
