// Quorum membership: who is in the ensemble, who votes, and what a quorum is. Mirrors ZooKeeper's
// QuorumMaj (majority of voting members; observers never count) and the `server.N=` syntax of its
// QuorumServer, including the text form ZooKeeper puts in election notifications and dynamic
// config files (`QuorumMaj.toString`).

import { ConfigError, type ServerLine } from '../config/zoocfg.ts';

export type LearnerRole = 'participant' | 'observer';

export interface QuorumMember {
  sid: number;
  host: string;
  quorumPort: number;
  electionPort: number | null;
  role: LearnerRole;
  /** Host of the client address when the server line gives one (`;host:port`), else null. */
  clientAddress: string | null;
  /** Client port from the server line (`;port` or `;host:port`); null when it comes from clientPort. */
  clientPort: number | null;
}

export interface QuorumConfig {
  members: Map<number, QuorumMember>;
  /** Config version (ZooKeeper writes it in hex: `version=100000000`); 0 for a static config. */
  version: number;
}

/** The majority verifier of one config: ZooKeeper's QuorumMaj. */
export class QuorumVerifier {
  readonly config: QuorumConfig;
  readonly voters: ReadonlySet<number>;
  readonly observers: ReadonlySet<number>;
  /** Votes strictly above this many make a quorum (QuorumMaj.half = voters / 2, integer division). */
  readonly half: number;
  private text: string | null = null;

  constructor(config: QuorumConfig) {
    this.config = config;
    const voters = new Set<number>();
    const observers = new Set<number>();
    for (const m of config.members.values()) (m.role === 'participant' ? voters : observers).add(m.sid);
    this.voters = voters;
    this.observers = observers;
    this.half = Math.floor(voters.size / 2);
  }

  get version(): number {
    return this.config.version;
  }

  /** Smallest number of voters that makes a quorum. */
  get quorumSize(): number {
    return this.half + 1;
  }

  isVoter(sid: number): boolean {
    return this.voters.has(sid);
  }

  isMember(sid: number): boolean {
    return this.config.members.has(sid);
  }

  /** QuorumMaj gives every server weight 1 (hierarchical quorums are not supported). */
  weight(_sid: number): number {
    return 1;
  }

  /** True when the distinct voters among `sids` are a majority of the voters; others are ignored. */
  containsQuorum(sids: Iterable<number>): boolean {
    let n = 0;
    if (sids instanceof Set) {
      // A Set's sids are distinct already: no copy (the leader checks its ack set on every ACK).
      for (const sid of sids) if (this.voters.has(sid)) n++;
      return n > this.half;
    }
    const seen = new Set<number>();
    for (const sid of sids) {
      if (seen.has(sid) || !this.voters.has(sid)) continue;
      seen.add(sid);
      n++;
    }
    return n > this.half;
  }

  /** The text ZooKeeper sends in notifications and writes in dynamic config files. */
  toString(): string {
    this.text ??= renderQuorumConfig(this.config);
    return this.text;
  }
}

// --- server lines ---

/** ZooKeeper's ConfigUtils.getHostAndPort: `[v6]:a:b` or `host:a:b`, brackets removed. */
function hostAndPort(s: string): string[] {
  if (s.startsWith('[')) {
    const i = s.indexOf(']');
    if (i < 0) throw new ConfigError(`${s} starts with '[' but has no matching ']:'`);
    if (i + 2 === s.length) throw new ConfigError(`${s} doesn't have a port after colon`);
    if (i + 2 < s.length) return [s.slice(1, i), ...s.slice(i + 2).split(':')];
    return [s.replace(/[[\]]/g, '')];
  }
  return s.split(':');
}

function portOf(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d+$/.test(s.trim())) throw new ConfigError(`${what}: bad port ${s ?? '(none)'}`);
  const n = Number(s.trim());
  if (n > 65535) throw new ConfigError(`${what}: port ${n} out of range`);
  return n;
}

const FORM =
  'host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort] (one address per server)';

/**
 * Parses the value of a `server.N=` line the way ZooKeeper's QuorumServer does: the election port
 * is required, the type is case-insensitive, quorum and election ports must differ. A secure client
 * address (a third `;` part) is accepted and dropped. Several `|`-joined addresses (multiAddress) are
 * refused.
 */
export function parseServerSpec(sid: number, spec: string): QuorumMember {
  const what = `server.${sid}=${spec}`;
  const parts = spec.trim().split(';');
  const serverPart = parts[0]!;
  if (serverPart.includes('|')) throw new ConfigError(`${what}: multiple addresses are not supported`);
  const sp = hostAndPort(serverPart);
  if (sp.length < 3 || sp.length > 4) throw new ConfigError(`${what} does not have the form ${FORM}`);
  const host = sp[0]!;
  if (host === '') throw new ConfigError(`${what}: empty host`);
  const quorumPort = portOf(sp[1], what);
  const electionPort = portOf(sp[2], what);
  if (quorumPort === electionPort)
    throw new ConfigError(`${what}: quorum and election port must be different`);
  let role: LearnerRole = 'participant';
  if (sp.length === 4) {
    const t = sp[3]!.trim().toLowerCase();
    if (t !== 'observer' && t !== 'participant')
      throw new ConfigError(`${what}: unrecognised peertype ${sp[3]}`);
    role = t;
  }
  let clientAddress: string | null = null;
  let clientPort: number | null = null;
  const client = parts[1];
  if (client !== undefined && client !== '') {
    const cp = hostAndPort(client);
    if (cp.length > 2) throw new ConfigError(`${what} does not have the form ${FORM}`);
    clientPort = portOf(cp[cp.length - 1], what);
    clientAddress = cp.length === 2 ? cp[0]! : null;
  }
  return { sid, host, quorumPort, electionPort, role, clientAddress, clientPort };
}

/** A member from a zoo.cfg server line (peer/config/zoocfg.ts). */
export function memberFromServerLine(s: ServerLine): QuorumMember {
  return {
    sid: s.id,
    host: s.host,
    quorumPort: s.quorumPort,
    electionPort: s.electionPort,
    role: s.role,
    clientAddress: s.clientAddress,
    clientPort: s.clientPort,
  };
}

/**
 * The quorum config of a zoo.cfg (`parseZooConfig(...).servers`), checked as ZooKeeper checks a
 * distributed config: every server has an election port different from its quorum port, and there
 * is at least one participant.
 */
export function configFromServerLines(servers: readonly ServerLine[], version = 0): QuorumConfig {
  const members = new Map<number, QuorumMember>();
  for (const s of servers) {
    if (s.electionPort === null)
      throw new ConfigError(
        `line ${s.line}: server.${s.id} has no election port (host:quorumPort:electionPort)`,
      );
    if (s.electionPort === s.quorumPort)
      throw new ConfigError(`line ${s.line}: server.${s.id}: quorum and election port must be different`);
    members.set(s.id, memberFromServerLine(s));
  }
  const config = { members, version };
  checkQuorumConfig(config);
  return config;
}

function checkQuorumConfig(c: QuorumConfig): void {
  let participants = 0;
  for (const m of c.members.values()) if (m.role === 'participant') participants++;
  if (participants === 0) throw new ConfigError('the config has no participant (observers need voters)');
}

/**
 * Parses dynamic config text: `server.N=...` lines and `version=<hex>` (blank lines and `#`
 * comments allowed), as in ZooKeeper's dynamic config files and the config carried by election
 * notifications. Hierarchical quorums (`group.`/`weight.`) are refused.
 */
export function parseDynamicConfig(text: string): QuorumConfig {
  const members = new Map<number, QuorumMember>();
  let version = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new ConfigError(`line ${i + 1}: expected key=value, got "${line}"`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const server = /^server\.(\d+)$/.exec(key);
    if (server) {
      const sid = Number(server[1]);
      if (!Number.isSafeInteger(sid))
        throw new ConfigError(`line ${i + 1}: server id ${server[1]} is too large`);
      if (members.has(sid)) throw new ConfigError(`line ${i + 1}: server.${sid} is defined twice`);
      try {
        members.set(sid, parseServerSpec(sid, value));
      } catch (e) {
        throw new ConfigError(`line ${i + 1}: ${(e as Error).message}`);
      }
    } else if (key === 'version') {
      if (!/^[0-9a-fA-F]+$/.test(value)) throw new ConfigError(`line ${i + 1}: version=${value} is not hex`);
      version = Number.parseInt(value, 16);
      if (!Number.isSafeInteger(version))
        throw new ConfigError(`line ${i + 1}: version=${value} is too large`);
    } else if (/^(group|weight)\./.test(key)) {
      throw new ConfigError(`line ${i + 1}: hierarchical quorums (${key}) are not supported`);
    } else {
      throw new ConfigError(`line ${i + 1}: unexpected key ${key} in a dynamic config`);
    }
  }
  const config = { members, version };
  checkQuorumConfig(config);
  return config;
}

/**
 * The version in a config text, read from its `version=` line without parsing the servers (cheap
 * enough to do for every notification). Null when there is none or it is not hex.
 */
export function configVersionOf(text: string): number | null {
  const m = /(?:^|\n)version=([0-9a-fA-F]+)\s*$/.exec(text);
  if (!m) return null;
  const v = Number.parseInt(m[1]!, 16);
  return Number.isSafeInteger(v) ? v : null;
}

function delimitHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** One member as QuorumServer.toString renders it (the value of its `server.N=` line). */
export function renderMember(m: QuorumMember): string {
  let s = m.electionPort === null ? '' : `${delimitHost(m.host)}:${m.quorumPort}:${m.electionPort}`;
  s += m.role === 'observer' ? ':observer' : ':participant';
  if (m.clientPort !== null) s += `;${delimitHost(m.clientAddress ?? '0.0.0.0')}:${m.clientPort}`;
  return s;
}

/**
 * Order in which a java.util.HashMap<Long, ...> built by successive puts iterates its keys: by
 * bucket (spread hash masked by the table size), then (approximately) by insertion. This is the
 * order of the lines in ZooKeeper's config text; for sids below the table size it is ascending.
 */
export function javaHashMapOrder(sids: readonly number[]): number[] {
  let cap = 16;
  while (sids.length > cap * 0.75) cap *= 2;
  const bucket = (sid: number): number => {
    const v = BigInt.asUintN(64, BigInt(sid));
    const h = Number(BigInt.asIntN(32, v ^ (v >> 32n)));
    return (h ^ (h >>> 16)) & (cap - 1);
  };
  return [...sids].sort((a, b) => bucket(a) - bucket(b) || a - b);
}

/** QuorumMaj.toString: `server.N=...` lines joined by \n, then `version=<hex>` with no newline. */
export function renderQuorumConfig(c: QuorumConfig): string {
  let s = '';
  for (const sid of javaHashMapOrder([...c.members.keys()]))
    s += `server.${sid}=${renderMember(c.members.get(sid)!)}\n`;
  return `${s}version=${c.version.toString(16)}`;
}
