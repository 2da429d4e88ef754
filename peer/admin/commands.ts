// The admin commands: ZooKeeper's AdminServer command set (names, aliases and JSON field names of
// zk-protocol.md §6.3), each returning a structured object. The HTTP server sends it as JSON and
// four-letter.ts renders the same object as ZooKeeper's four-letter-word text. Commands are
// synchronous: a four-letter-word client half-closes its socket right after the word, and the
// reply must be written before that close is processed.

import { readdirSync, statSync } from 'node:fs';
import { hostname, release, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import type { ZooConfig } from '../config/zoocfg.ts';
import { SNAPSHOT_PREFIX, snapshotFileName, VERSION_DIR, zxidFromName } from '../persistence/files.ts';
import { renderMember, renderQuorumConfig } from '../quorum/quorum-config.ts';
import { counterOf, epochOf } from '../quorum/zab-common.ts';
import type { ClientConnection } from '../server/connection.ts';
import type { ZkServer } from '../server/zkserver.ts';
import { directorySize } from './dirs.ts';
import { type MonitorValues, monitorValues, processInfo, reportedNodeCount } from './monitor.ts';
import type { RoleStatus } from './status.ts';
import { VERSION_LINE } from './version.ts';

export interface CommandContext {
  status: RoleStatus;
  cfg: ZooConfig;
}

/** A command's fields; bigint values are written to JSON as numbers (ZooKeeper's longs). */
export type CommandResult = Record<string, unknown>;

export class CommandError extends Error {
  override name = 'CommandError';
}

export const NOT_SERVING = 'This ZooKeeper instance is not currently serving requests';

export interface Command {
  /** Primary name (the `command` field of the reply). */
  name: string;
  /** Other names, the four-letter word among them. */
  aliases: readonly string[];
  run(ctx: CommandContext): CommandResult;
}

function serving(ctx: CommandContext): ZkServer {
  const s = ctx.status.server();
  if (!s) throw new CommandError(NOT_SERVING);
  return s;
}

/** A session id as ZooKeeper's JSON has it: a signed 64-bit number. */
function sessionNumber(id: bigint): bigint {
  return BigInt.asIntN(64, id);
}

// ---- connections ----------------------------------------------------------------------------

/** ServerCnxn.getConnectionInfo: the brief fields, plus the session's when it has one. */
export function connectionInfo(c: ClientConnection, brief: boolean): CommandResult {
  const info: CommandResult = {
    remote_socket_address: `${c.remoteAddress}:${c.remotePort}`,
    interest_ops: c.state === 'closed' || c.socket.isPaused() ? 0 : 1,
    outstanding_requests: c.queued,
    packets_received: c.stats.received,
    packets_sent: c.stats.sent,
  };
  if (brief || c.sessionId === 0n) return info;
  return {
    ...info,
    session_id: sessionNumber(c.sessionId),
    last_operation: c.lastOp,
    established: c.established,
    session_timeout: c.sessionTimeout,
    last_cxid: c.lastCxid,
    last_zxid: c.lastZxid,
    last_latency: c.stats.lastLatency,
    min_latency: c.stats.latency.min,
    avg_latency: Math.floor(c.stats.latency.avg),
    max_latency: c.stats.latency.max,
  };
}

function connections(server: ZkServer, brief: boolean): CommandResult[] {
  return [...server.allConnections()].map((c) => connectionInfo(c, brief));
}

// ---- server stats ----------------------------------------------------------------------------

function serverStats(ctx: CommandContext): CommandResult {
  const server = serving(ctx);
  const st = server.stats;
  const [dataDirSize, logDirSize] = dirSizes(ctx.cfg);
  const out: CommandResult = {
    version: VERSION_LINE,
    read_only: server.readOnly,
    server_stats: {
      packets_sent: st.sent,
      packets_received: st.received,
      provider_null: false,
      server_state: ctx.status.role(),
      outstanding_requests: server.outstanding,
      min_latency: st.latency.min,
      avg_latency: st.latency.avg,
      max_latency: st.latency.max,
      data_dir_size: dataDirSize,
      log_dir_size: logDirSize,
      last_processed_zxid: server.lastProcessedZxid,
      num_alive_client_connections: server.connectionCount,
      uptime: Date.now() - server.startedAt,
      auth_failed_count: st.authFailed,
    },
  };
  if (ctx.status.view()?.mode === 'leader') {
    const s = ctx.status.stats;
    out.proposal_stats = {
      last_buffer_size: s.lastProposalSize,
      min_buffer_size: s.minProposalSize,
      max_buffer_size: s.maxProposalSize,
    };
  }
  out.node_count = reportedNodeCount(server);
  return out;
}

function dirSizes(cfg: ZooConfig): [number, number] {
  return [directorySize(join(cfg.dataDir, VERSION_DIR)), directorySize(join(cfg.dataLogDir, VERSION_DIR))];
}

// ---- configuration ---------------------------------------------------------------------------

/** zoo.cfg keys whose values must never be shown (the super user's digest). */
const SECRET_KEYS = /superDigest|password|secret(?!File)/i;

/** The config as written, with secret values replaced. */
export function redactedConfigText(raw: ReadonlyMap<string, string>): string {
  let s = '';
  for (const [k, v] of raw) s += `${k}=${SECRET_KEYS.test(k) ? '[redacted]' : v}\n`;
  return s;
}

function configuration(ctx: CommandContext): CommandResult {
  const { cfg, status } = ctx;
  const [dataDirSize, logDirSize] = dirSizes(cfg);
  const out: CommandResult = {
    client_port: cfg.clientPort,
    secure_client_port: -1,
    data_dir: join(cfg.dataDir, VERSION_DIR),
    data_dir_size: dataDirSize,
    data_log_dir: join(cfg.dataLogDir, VERSION_DIR),
    data_log_size: logDirSize,
    tick_time: cfg.tickTime,
    max_client_cnxns: cfg.maxClientCnxns,
    min_session_timeout: cfg.minSessionTimeout,
    max_session_timeout: cfg.maxSessionTimeout,
    client_port_listen_backlog: -1,
    server_id: status.sid,
  };
  const quorum = status.quorum();
  const me = quorum?.members.get(status.sid);
  if (quorum && me) {
    Object.assign(out, {
      init_limit: cfg.initLimit,
      sync_limit: cfg.syncLimit,
      election_alg: 3,
      election_port: me.electionPort ?? -1,
      quorum_port: me.quorumPort,
      peer_type: me.role === 'observer' ? 1 : 0,
      membership: renderQuorumConfig(quorum),
    });
  }
  return out;
}

// ---- sessions and watches ---------------------------------------------------------------------

function dump(ctx: CommandContext): CommandResult {
  const server = serving(ctx);
  const byExpiry = new Map<number, bigint[]>();
  for (const s of server.sessions.sessions.values()) {
    const list = byExpiry.get(s.expireAt) ?? [];
    list.push(s.id);
    byExpiry.set(s.expireAt, list);
  }
  const expiry: Record<string, bigint[]> = {};
  for (const t of [...byExpiry.keys()].sort((a, b) => a - b))
    expiry[String(t)] = byExpiry.get(t)!.map(sessionNumber);
  const ephemerals: Record<string, string[]> = {};
  for (const [id, paths] of server.tree.ephemerals)
    if (paths.size > 0) ephemerals[String(sessionNumber(id))] = [...paths].sort();
  return { expiry_time_to_session_ids: expiry, session_id_to_ephemeral_paths: ephemerals };
}

// ZooKeeper's wchs/wchc/wchp report its data-watch table (exists/getData watches); so do these.

function watchSummary(ctx: CommandContext): CommandResult {
  const table = serving(ctx).watches.data;
  let total = 0;
  for (const m of table.byPath.values()) total += m.size;
  return { num_connections: table.byWatcher.size, num_paths: table.byPath.size, num_total_watches: total };
}

function watchesBySession(ctx: CommandContext): CommandResult {
  const table = serving(ctx).watches.data;
  const out: Record<string, string[]> = {};
  for (const [conn, paths] of table.byWatcher) {
    const key = String(sessionNumber(conn.sessionId));
    out[key] = [...(out[key] ?? []), ...paths];
  }
  return { session_id_to_watched_paths: out };
}

function watchesByPath(ctx: CommandContext): CommandResult {
  const table = serving(ctx).watches.data;
  const out: Record<string, bigint[]> = {};
  for (const [path, watchers] of table.byPath)
    out[path] = [...watchers.keys()].map((c) => sessionNumber(c.sessionId));
  return { path_to_session_ids: out };
}

// ---- ensemble ---------------------------------------------------------------------------------

function leaderInfo(ctx: CommandContext): CommandResult {
  const { status } = ctx;
  const quorum = status.quorum();
  const view = status.view();
  if (!quorum || !view) throw new CommandError('server is not initialized');
  const master = view.master();
  const leaderSid = view.mode === 'leader' ? status.sid : (master?.leader ?? master?.sid ?? -1);
  return {
    is_leader: view.mode === 'leader',
    leader_id: leaderSid,
    leader_ip: quorum.members.get(leaderSid)?.host ?? '',
  };
}

function observers(ctx: CommandContext): CommandResult {
  const learners = ctx.status.view()?.learners() ?? [];
  const obs = learners.filter((l) => l.kind === 'observer');
  return {
    synced_observers: obs.filter((l) => l.synced).length,
    observers: obs.map((l) => ({
      remote_socket_address: l.remoteAddress,
      sid: l.sid ?? -1,
      established: l.established,
      queued_packets_size: l.queuedBytes,
      synced: l.synced,
    })),
  };
}

function votingView(ctx: CommandContext): CommandResult {
  const { status, cfg } = ctx;
  const quorum = status.quorum();
  const out: Record<string, CommandResult> = {};
  for (const m of quorum?.members.values() ?? []) {
    if (m.role !== 'participant') continue;
    const own = m.sid === status.sid ? `${cfg.clientPortAddress}:${cfg.clientPort}` : '';
    out[String(m.sid)] = {
      server_addresses: [`${m.host}:${m.quorumPort}`],
      election_addresses: m.electionPort === null ? [] : [`${m.host}:${m.electionPort}`],
      client_address: m.clientPort === null ? own : `${m.clientAddress ?? '0.0.0.0'}:${m.clientPort}`,
      learner_type: m.role,
      server: renderMember(m),
    };
  }
  return { current_config: out };
}

function zabState(ctx: CommandContext): CommandResult {
  const { status, cfg } = ctx;
  const view = status.view();
  const me = status.quorum()?.members.get(status.sid);
  const zxid = status.server()?.lastProcessedZxid ?? status.stats.lastAppliedZxid;
  if (!view || !me) return { voting: false, zabstate: '' };
  return {
    myid: status.sid,
    is_leader: view.mode === 'leader',
    quorum_address: `${me.host}:${me.quorumPort}`,
    election_address: me.electionPort === null ? '' : `${me.host}:${me.electionPort}`,
    client_address: `${me.clientAddress ?? cfg.clientPortAddress}:${me.clientPort ?? cfg.clientPort}`,
    voting: me.role === 'participant',
    last_zxid: `0x${zxid.toString(16)}`,
    zab_epoch: epochOf(zxid),
    zab_counter: counterOf(zxid),
    zabstate: view.zabState(),
  };
}

function lastSnapshot(ctx: CommandContext): CommandResult {
  const dir = join(ctx.cfg.dataDir, VERSION_DIR);
  let latest = -1;
  try {
    for (const name of readdirSync(dir)) latest = Math.max(latest, zxidFromName(name, SNAPSHOT_PREFIX));
  } catch {
    // No data directory yet: no snapshot.
  }
  if (latest < 0) return { zxid: '0', timestamp: 0 };
  let mtime = 0;
  try {
    mtime = statSync(join(dir, snapshotFileName(latest))).mtimeMs;
  } catch {
    // Purged meanwhile.
  }
  return { zxid: latest.toString(16), timestamp: Math.floor(mtime / 1000) };
}

// ---- environment ------------------------------------------------------------------------------

function environment(): CommandResult {
  const mb = (n: number) => `${Math.floor(n / (1024 * 1024))}MB`;
  // ZooKeeper reports the JVM heap here; the V8 heap is the counterpart.
  const heap = getHeapStatistics();
  let user = '';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for the uid (containers): leave it empty.
  }
  return {
    'zookeeper.version': VERSION_LINE,
    'host.name': hostname(),
    'node.version': process.version,
    'java.io.tmpdir': tmpdir(),
    'os.name': process.platform === 'linux' ? 'Linux' : process.platform,
    'os.arch': process.arch === 'x64' ? 'amd64' : process.arch,
    'os.version': release(),
    'user.name': user,
    'user.home': process.env.HOME ?? '',
    'user.dir': process.cwd(),
    'os.memory.free': mb(heap.total_heap_size - heap.used_heap_size),
    'os.memory.max': mb(heap.heap_size_limit),
    'os.memory.total': mb(heap.total_heap_size),
  };
}

// ---- the table ----------------------------------------------------------------------------------

function monitor(ctx: CommandContext): MonitorValues {
  const v = monitorValues(ctx.status, Date.now(), processInfo());
  if (!v) throw new CommandError(NOT_SERVING);
  return v;
}

export const COMMANDS: readonly Command[] = [
  { name: 'configuration', aliases: ['conf', 'config'], run: configuration },
  {
    name: 'connection_stat_reset',
    aliases: ['crst'],
    run: (ctx) => {
      for (const c of serving(ctx).allConnections()) c.stats.reset();
      return {};
    },
  },
  {
    name: 'connections',
    aliases: ['cons'],
    run: (ctx) => ({ connections: connections(serving(ctx), false), secure_connections: [] }),
  },
  {
    name: 'dirs',
    aliases: [],
    run: (ctx) => {
      const [datadir_size, logdir_size] = dirSizes(ctx.cfg);
      return { datadir_size, logdir_size };
    },
  },
  { name: 'dump', aliases: [], run: dump },
  { name: 'environment', aliases: ['env', 'envi'], run: environment },
  {
    name: 'initial_configuration',
    aliases: ['icfg'],
    run: (ctx) => ({ initial_configuration: redactedConfigText(ctx.cfg.raw) }),
  },
  { name: 'is_read_only', aliases: ['isro'], run: (ctx) => ({ read_only: serving(ctx).readOnly }) },
  { name: 'last_snapshot', aliases: ['lsnp'], run: lastSnapshot },
  { name: 'leader', aliases: ['lead'], run: leaderInfo },
  { name: 'monitor', aliases: ['mntr'], run: monitor },
  { name: 'observer_connection_stat_reset', aliases: ['orst'], run: () => ({}) },
  { name: 'observers', aliases: ['obsr'], run: observers },
  { name: 'ruok', aliases: [], run: () => ({}) },
  { name: 'server_stats', aliases: ['srvr'], run: serverStats },
  {
    name: 'stat_reset',
    aliases: ['srst'],
    run: (ctx) => {
      serving(ctx).stats.reset();
      return {};
    },
  },
  {
    name: 'stats',
    aliases: ['stat'],
    run: (ctx) => ({
      ...serverStats(ctx),
      connections: connections(serving(ctx), true),
      secure_connections: [],
    }),
  },
  { name: 'voting_view', aliases: [], run: votingView },
  { name: 'watch_summary', aliases: ['wchs'], run: watchSummary },
  { name: 'watches', aliases: ['wchc'], run: watchesBySession },
  { name: 'watches_by_path', aliases: ['wchp'], run: watchesByPath },
  { name: 'zabstate', aliases: [], run: zabState },
];

const BY_NAME = new Map<string, Command>();
for (const c of COMMANDS) for (const n of [c.name, ...c.aliases]) BY_NAME.set(n, c);

export function findCommand(name: string): Command | undefined {
  return BY_NAME.get(name);
}

/** Runs a command by name or alias: its fields plus `command` and `error`, as ZooKeeper replies. */
export function runCommand(name: string, ctx: CommandContext): CommandResult {
  const cmd = findCommand(name);
  if (!cmd) return { command: name, error: `Unknown command: ${name}` };
  try {
    return { ...cmd.run(ctx), command: cmd.name, error: null };
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    return { command: cmd.name, error: e.message };
  }
}
