// Four-letter words on the client port: the whitelist, then the admin command's result rendered as
// ZooKeeper's text (zk-protocol.md §6.1). The renderers are pure functions of the command results.

import { FOUR_LETTER_WORDS } from '../protocol/constants.ts';
import { hex } from '../server/zkserver.ts';
import { type CommandContext, type CommandResult, findCommand, NOT_SERVING, runCommand } from './commands.ts';

/** Java's Double.toString for the values ZooKeeper prints as doubles. */
export function javaDouble(v: number): string {
  if (Number.isInteger(v)) return `${v}.0`;
  const abs = Math.abs(v);
  if (abs >= 1e-3 && abs < 1e7) return String(v);
  const [m, e] = v.toExponential().split('e');
  return `${m!.includes('.') ? m : `${m}.0`}E${Number(e)}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** java.util.Date.toString in UTC: `Sat Nov 21 15:07:52 UTC 2026`. */
export function javaDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`
  );
}

type Fields = Record<string, unknown>;

const num = (v: unknown): number => Number(v ?? 0);

/** One connection line of `cons` (full) and `stat` (brief): ServerCnxn.dumpConnectionInfo. */
export function connectionLine(c: Fields): string {
  let s = ` /${c.remote_socket_address}[${c.interest_ops}](queued=${c.outstanding_requests},recved=${c.packets_received},sent=${c.packets_sent}`;
  if (c.session_id !== undefined) {
    s +=
      `,sid=${hex(c.session_id as bigint)},lop=${c.last_operation},est=${c.established},to=${c.session_timeout}` +
      `,lcxid=${hex(num(c.last_cxid))},lzxid=${hex(num(c.last_zxid))},llat=${c.last_latency}` +
      `,minlat=${c.min_latency},avglat=${c.avg_latency},maxlat=${c.max_latency}`;
  }
  return `${s})\n`;
}

/** srvr and stat (StatCommand): stat adds the Clients section after the version line. */
export function renderServerStats(r: CommandResult): string {
  const st = r.server_stats as Fields;
  let s = `Zookeeper version: ${r.version}\n`;
  if (r.read_only) s += 'READ-ONLY mode; serving only read-only clients\n';
  if (Array.isArray(r.connections)) {
    s += 'Clients:\n';
    for (const c of r.connections as Fields[]) s += connectionLine(c);
    s += '\n';
  }
  s += `Latency min/avg/max: ${st.min_latency}/${javaDouble(num(st.avg_latency))}/${st.max_latency}\n`;
  s += `Received: ${st.packets_received}\n`;
  s += `Sent: ${st.packets_sent}\n`;
  s += `Connections: ${st.num_alive_client_connections}\n`;
  s += `Outstanding: ${st.outstanding_requests}\n`;
  s += `Zxid: ${hex(num(st.last_processed_zxid))}\n`;
  s += `Mode: ${st.server_state}\n`;
  s += `Node count: ${r.node_count}\n`;
  const p = r.proposal_stats as Fields | undefined;
  if (p)
    s += `Proposal sizes last/min/max: ${p.last_buffer_size}/${p.min_buffer_size}/${p.max_buffer_size}\n`;
  return s;
}

/** Keys mntr prints as Java doubles. */
function isDouble(key: string): boolean {
  return key === 'avg_latency' || key === 'connection_drop_probability' || key.startsWith('avg_');
}

export function renderMonitor(r: CommandResult): string {
  let s = '';
  for (const [k, v] of Object.entries(r)) {
    if (k === 'command' || k === 'error' || v === null || v === undefined) continue;
    s += `zk_${k}\t${typeof v === 'number' && isDouble(k) ? javaDouble(v) : v}\n`;
  }
  return s;
}

export function renderConf(r: CommandResult): string {
  let s =
    `clientPort=${r.client_port}\nsecureClientPort=${r.secure_client_port}\n` +
    `dataDir=${r.data_dir}\ndataDirSize=${r.data_dir_size}\n` +
    `dataLogDir=${r.data_log_dir}\ndataLogSize=${r.data_log_size}\n` +
    `tickTime=${r.tick_time}\nmaxClientCnxns=${r.max_client_cnxns}\n` +
    `minSessionTimeout=${r.min_session_timeout}\nmaxSessionTimeout=${r.max_session_timeout}\n` +
    `clientPortListenBacklog=${r.client_port_listen_backlog}\nserverId=${r.server_id}\n`;
  if (r.membership !== undefined) {
    s +=
      `initLimit=${r.init_limit}\nsyncLimit=${r.sync_limit}\nelectionAlg=${r.election_alg}\n` +
      `electionPort=${r.election_port}\nquorumPort=${r.quorum_port}\npeerType=${r.peer_type}\n` +
      `membership: \n${r.membership}\n`;
  }
  return s;
}

export function renderDump(r: CommandResult): string {
  const expiry = r.expiry_time_to_session_ids as Record<string, bigint[]>;
  const ephemerals = r.session_id_to_ephemeral_paths as Record<string, string[]>;
  const buckets = Object.entries(expiry);
  const sessions = buckets.reduce((n, [, ids]) => n + ids.length, 0);
  let s = `SessionTracker dump:\nSession Sets (${buckets.length})/(${sessions}):\n`;
  for (const [t, ids] of buckets) {
    s += `${ids.length} expire at ${javaDate(Number(t))}:\n`;
    for (const id of ids) s += `\t${hex(id)}\n`;
  }
  const owners = Object.entries(ephemerals);
  s += `ephemeral nodes dump:\nSessions with Ephemerals (${owners.length}):\n`;
  for (const [id, paths] of owners) {
    s += `${hex(BigInt(id))}:\n`;
    for (const p of paths) s += `\t${p}\n`;
  }
  return s;
}

export function renderWatchesBySession(r: CommandResult): string {
  let s = '';
  for (const [id, paths] of Object.entries(r.session_id_to_watched_paths as Record<string, string[]>)) {
    s += `${hex(BigInt(id))}\n`;
    for (const p of paths) s += `\t${p}\n`;
  }
  return `${s}\n`;
}

export function renderWatchesByPath(r: CommandResult): string {
  let s = '';
  for (const [path, ids] of Object.entries(r.path_to_session_ids as Record<string, bigint[]>)) {
    s += `${path}\n`;
    for (const id of ids) s += `\t${hex(id)}\n`;
  }
  return `${s}\n`;
}

/** The text of a four-letter word, given its command's result. */
export function renderFourLetter(word: string, r: CommandResult): string {
  if (r.error) return `${r.error}\n`;
  switch (word) {
    case 'ruok':
      return 'imok';
    case 'isro':
      return r.read_only ? 'ro' : 'rw';
    case 'srvr':
    case 'stat':
      return renderServerStats(r);
    case 'mntr':
      return renderMonitor(r);
    case 'conf':
      return renderConf(r);
    case 'cons': {
      const lines = (r.connections as Fields[]).map(connectionLine).join('');
      return `${lines}\n`;
    }
    case 'crst':
      return 'Connection stats reset.\n';
    case 'srst':
      return 'Server stats reset.\n';
    case 'dirs':
      return `datadir_size: ${r.datadir_size}\nlogdir_size: ${r.logdir_size}\n`;
    case 'dump':
      return renderDump(r);
    case 'envi': {
      let s = 'Environment:\n';
      for (const [k, v] of Object.entries(r)) if (k !== 'command' && k !== 'error') s += `${k}=${v}\n`;
      return s;
    }
    case 'wchs':
      return `${r.num_connections} connections watching ${r.num_paths} paths\nTotal watches:${r.num_total_watches}\n`;
    case 'wchc':
      return renderWatchesBySession(r);
    case 'wchp':
      return renderWatchesByPath(r);
    default:
      return `${word} is not supported by this server.\n`;
  }
}

/**
 * The reply to a four-letter word: ZooKeeper's whitelist check (`4lw.commands.whitelist`, default
 * srvr only), then the command. ruok, like ZooKeeper's, answers even when not serving.
 */
export function answerFourLetterWord(word: string, ctx: CommandContext): string {
  const allowed = ctx.cfg.fourLetterWords;
  if (allowed !== 'all' && !allowed.has(word))
    return `${word} is not executed because it is not in the whitelist.\n`;
  // Each word is an alias of its admin command; gtmk, stmk and hash have none here.
  const command = (FOUR_LETTER_WORDS as readonly string[]).includes(word) ? findCommand(word) : undefined;
  if (!command) return `${word} is not supported by this server.\n`;
  const r = runCommand(command.name, ctx);
  if (r.error === NOT_SERVING && word === 'ruok') return 'imok';
  // IsroCommand: `null` while no server runs (r/o clients probing for an r/w server read it so).
  if (r.error === NOT_SERVING && word === 'isro') return 'null';
  return renderFourLetter(word, r);
}
