// zoo.cfg parsing: Java-properties-style `key=value` lines, ZooKeeper's keys and defaults.
// Unknown keys are reported (ZooKeeper turns them into system properties), never fatal; a
// malformed line or value is an error naming the line.

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ServerLine {
  id: number;
  host: string;
  quorumPort: number;
  electionPort: number | null;
  role: 'participant' | 'observer';
  clientAddress: string | null;
  clientPort: number | null;
  line: number;
}

export interface ZooConfig {
  tickTime: number;
  dataDir: string;
  dataLogDir: string;
  clientPort: number;
  clientPortAddress: string;
  maxClientCnxns: number;
  minSessionTimeout: number;
  maxSessionTimeout: number;
  initLimit: number;
  syncLimit: number;
  /** Silence an observer and its leader tolerate once synced, in ticks; 0 means 2 × syncLimit. */
  observerSyncLimit: number;
  snapCount: number;
  snapSizeLimitInKb: number;
  preAllocSizeKb: number;
  forceSync: boolean;
  autopurgeSnapRetainCount: number;
  autopurgePurgeIntervalHours: number;
  juteMaxBuffer: number;
  fourLetterWords: Set<string> | 'all';
  extendedTypesEnabled: boolean;
  skipACL: boolean;
  superDigest: string | null;
  containerCheckIntervalMs: number;
  containerMaxPerMinute: number;
  containerMaxNeverUsedIntervalMs: number;
  sessionlessCnxnTimeoutMs: number;
  globalOutstandingLimit: number;
  peerType: 'participant' | 'observer';
  servers: ServerLine[];
  /** Where the membership lives when it is not in zoo.cfg (resolved by config/dynamic-config.ts). */
  dynamicConfigFile: string | null;
  /** Version of the membership (`version=` of the dynamic config; 0 for server lines in zoo.cfg). */
  configVersion: number;
  reconfigEnabled: boolean;
  /** Bind the quorum and election ports on every address rather than the server line's host. */
  quorumListenOnAllIPs: boolean;
  /** false: a single listed server still runs as an ensemble member, so reconfig can grow it. */
  standaloneEnabled: boolean;
  /** `readonlymode.enabled`: a member cut off from its quorum serves read-only clients. */
  readOnlyModeEnabled: boolean;
  /**
   * Followers serve observers on this port, and observers sync from a follower rather than the
   * leader (zk-protocol.md §2.9); null: observers sync from the leader.
   */
  observerMasterPort: number | null;
  /** Bytes of committed txns an observer master keeps for DIFF syncs (observerMaster.sizeLimit). */
  observerMasterSizeLimit: number;
  /** Every key as written, for `conf` and diagnostics. */
  raw: Map<string, string>;
  /** Keys this server does not know, with their line numbers. */
  unknown: { key: string; line: number }[];
}

type Setter = (c: ZooConfig, v: string, line: number, key: string) => void;

function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string, line: number, key: string): number => {
    if (!/^-?\d+$/.test(v)) throw new ConfigError(`line ${line}: ${key}=${v} is not an integer`);
    const n = Number(v);
    if (n < min || n > max)
      throw new ConfigError(`line ${line}: ${key}=${v} is out of range [${min}, ${max}]`);
    return n;
  };
}

function bool(v: string, line: number, key: string): boolean {
  const s = v.toLowerCase();
  if (s === 'true' || s === 'yes') return true;
  if (s === 'false' || s === 'no') return false;
  throw new ConfigError(`line ${line}: ${key}=${v} is not a boolean (true/false/yes/no)`);
}

const port = int(0, 65535);
const positive = int(1);
const nonNegative = int(0);

// Keys may be written with or without the `zookeeper.` prefix that their system-property form has.
const SETTERS: Record<string, Setter> = {
  tickTime: (c, v, l, k) => (c.tickTime = positive(v, l, k)),
  dataDir: (c, v) => (c.dataDir = v),
  dataLogDir: (c, v) => (c.dataLogDir = v),
  clientPort: (c, v, l, k) => (c.clientPort = port(v, l, k)),
  clientPortAddress: (c, v) => (c.clientPortAddress = v),
  maxClientCnxns: (c, v, l, k) => (c.maxClientCnxns = nonNegative(v, l, k)),
  minSessionTimeout: (c, v, l, k) => (c.minSessionTimeout = int(-1)(v, l, k)),
  maxSessionTimeout: (c, v, l, k) => (c.maxSessionTimeout = int(-1)(v, l, k)),
  initLimit: (c, v, l, k) => (c.initLimit = positive(v, l, k)),
  syncLimit: (c, v, l, k) => (c.syncLimit = positive(v, l, k)),
  observerSyncLimit: (c, v, l, k) => (c.observerSyncLimit = positive(v, l, k)),
  snapCount: (c, v, l, k) => (c.snapCount = int(2)(v, l, k)),
  snapSizeLimitInKb: (c, v, l, k) => (c.snapSizeLimitInKb = int(-1)(v, l, k)),
  preAllocSize: (c, v, l, k) => (c.preAllocSizeKb = positive(v, l, k)),
  forceSync: (c, v, l, k) => (c.forceSync = bool(v, l, k)),
  'autopurge.snapRetainCount': (c, v, l, k) => (c.autopurgeSnapRetainCount = Math.max(3, positive(v, l, k))),
  'autopurge.purgeInterval': (c, v, l, k) => (c.autopurgePurgeIntervalHours = nonNegative(v, l, k)),
  'jute.maxbuffer': (c, v, l, k) => (c.juteMaxBuffer = positive(v, l, k)),
  '4lw.commands.whitelist': (c, v) => {
    const words = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    c.fourLetterWords = words.includes('*') ? 'all' : new Set(words);
  },
  extendedTypesEnabled: (c, v, l, k) => (c.extendedTypesEnabled = bool(v, l, k)),
  skipACL: (c, v, l, k) => (c.skipACL = bool(v, l, k)),
  'DigestAuthenticationProvider.superDigest': (c, v) => (c.superDigest = v),
  'znode.container.checkIntervalMs': (c, v, l, k) => (c.containerCheckIntervalMs = positive(v, l, k)),
  'znode.container.maxPerMinute': (c, v, l, k) => (c.containerMaxPerMinute = positive(v, l, k)),
  'znode.container.maxNeverUsedIntervalMs': (c, v, l, k) =>
    (c.containerMaxNeverUsedIntervalMs = nonNegative(v, l, k)),
  'nio.sessionlessCnxnTimeout': (c, v, l, k) => (c.sessionlessCnxnTimeoutMs = positive(v, l, k)),
  globalOutstandingLimit: (c, v, l, k) => (c.globalOutstandingLimit = positive(v, l, k)),
  dynamicConfigFile: (c, v) => (c.dynamicConfigFile = v),
  reconfigEnabled: (c, v, l, k) => (c.reconfigEnabled = bool(v, l, k)),
  quorumListenOnAllIPs: (c, v, l, k) => (c.quorumListenOnAllIPs = bool(v, l, k)),
  standaloneEnabled: (c, v, l, k) => (c.standaloneEnabled = bool(v, l, k)),
  'readonlymode.enabled': (c, v, l, k) => (c.readOnlyModeEnabled = bool(v, l, k)),
  observerMasterPort: (c, v, l, k) => (c.observerMasterPort = int(1, 65535)(v, l, k)),
  'observerMaster.sizeLimit': (c, v, l, k) => (c.observerMasterSizeLimit = positive(v, l, k)),
  peerType: (c, v, l) => {
    if (v !== 'observer' && v !== 'participant')
      throw new ConfigError(`line ${l}: peerType must be observer or participant`);
    c.peerType = v;
  },
};

/** Keys ZooKeeper accepts that this server reads elsewhere or deliberately ignores. */
const KNOWN_IGNORED = new Set([
  'admin.enableServer',
  'admin.serverAddress',
  'admin.serverPort',
  'admin.idleTimeout',
  'admin.commandURL',
  'zkensemble.region',
  'zkensemble.ensemble',
  'zkensemble.logLevel',
  'electionAlg',
  'metricsProvider.className',
  'metricsProvider.httpPort',
  'metricsProvider.httpHost',
  'metricsProvider.exportJvmInfo',
  'clientPortListenBacklog',
  'secureClientPort',
  'secureClientPortAddress',
  'localSessionsEnabled',
  'localSessionsUpgradingEnabled',
  'digest.enabled',
]);

export function defaults(): ZooConfig {
  return {
    tickTime: 3000,
    dataDir: '',
    dataLogDir: '',
    clientPort: 2181,
    clientPortAddress: '0.0.0.0',
    maxClientCnxns: 60,
    minSessionTimeout: -1,
    maxSessionTimeout: -1,
    initLimit: 10,
    syncLimit: 5,
    observerSyncLimit: 0,
    snapCount: 100000,
    snapSizeLimitInKb: 4194304,
    preAllocSizeKb: 65536,
    forceSync: true,
    autopurgeSnapRetainCount: 3,
    autopurgePurgeIntervalHours: 0,
    juteMaxBuffer: 0xfffff,
    fourLetterWords: new Set(['srvr']),
    extendedTypesEnabled: false,
    skipACL: false,
    superDigest: null,
    containerCheckIntervalMs: 60000,
    containerMaxPerMinute: 10000,
    containerMaxNeverUsedIntervalMs: 0,
    sessionlessCnxnTimeoutMs: 10000,
    globalOutstandingLimit: 1000,
    peerType: 'participant',
    servers: [],
    dynamicConfigFile: null,
    configVersion: 0,
    reconfigEnabled: false,
    quorumListenOnAllIPs: false,
    standaloneEnabled: true,
    readOnlyModeEnabled: false,
    observerMasterPort: null,
    observerMasterSizeLimit: 32 * 1024 * 1024,
    raw: new Map(),
    unknown: [],
  };
}

const SERVER_RE =
  /^([^:;\s]+|\[[0-9a-fA-F:.]+\]):(\d+)(?::(\d+))?(?::(observer|participant))?(?:;(?:([^:;\s]+|\[[0-9a-fA-F:.]+\]):)?(\d+))?$/;

function parseServer(id: number, value: string, line: number): ServerLine {
  const m = SERVER_RE.exec(value.trim());
  if (!m) {
    throw new ConfigError(
      `line ${line}: server.${id}=${value} is not host:quorumPort[:electionPort][:observer|:participant][;[clientAddress:]clientPort]`,
    );
  }
  const p = (s: string | undefined) => (s === undefined ? null : port(s, line, `server.${id}`));
  return {
    id,
    host: m[1]!.replace(/^\[|\]$/g, ''),
    quorumPort: p(m[2])!,
    electionPort: p(m[3]),
    role: (m[4] as 'observer' | 'participant' | undefined) ?? 'participant',
    clientAddress: m[5] ?? null,
    clientPort: p(m[6]),
    line,
  };
}

/** Parses zoo.cfg text; throws ConfigError naming the offending line. */
export function parseZooConfig(text: string): ZooConfig {
  const c = defaults();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const sep = line.indexOf('=');
    if (sep <= 0) throw new ConfigError(`line ${lineNo}: expected key=value, got "${line}"`);
    const key0 = line.slice(0, sep).trim();
    const value = line.slice(sep + 1).trim();
    c.raw.set(key0, value);
    const key = key0.startsWith('zookeeper.') ? key0.slice('zookeeper.'.length) : key0;
    const server = /^server\.(\d+)$/.exec(key);
    if (server) {
      const id = Number(server[1]);
      if (c.servers.some((s) => s.id === id))
        throw new ConfigError(`line ${lineNo}: server.${id} is defined twice`);
      c.servers.push(parseServer(id, value, lineNo));
      continue;
    }
    const set = SETTERS[key];
    if (set) set(c, value, lineNo, key0);
    else if (!KNOWN_IGNORED.has(key) && !/^(group|weight)\.\d+$/.test(key))
      c.unknown.push({ key: key0, line: lineNo });
  }
  if (c.dataDir === '') throw new ConfigError('dataDir is not set');
  if (c.dataLogDir === '') c.dataLogDir = c.dataDir;
  // As ZooKeeper does: read-only clients probe servers with isro, so read-only mode allows it.
  if (c.readOnlyModeEnabled && c.fourLetterWords !== 'all') c.fourLetterWords.add('isro');
  if (c.minSessionTimeout === -1) c.minSessionTimeout = 2 * c.tickTime;
  if (c.maxSessionTimeout === -1) c.maxSessionTimeout = 20 * c.tickTime;
  if (c.minSessionTimeout > c.maxSessionTimeout) {
    throw new ConfigError(
      `minSessionTimeout ${c.minSessionTimeout} is larger than maxSessionTimeout ${c.maxSessionTimeout}`,
    );
  }
  return c;
}

/** A key's value as written in zoo.cfg, under the key or its `zookeeper.` system-property form. */
export function rawSetting(raw: ReadonlyMap<string, string>, key: string): string | undefined {
  return raw.get(key) ?? raw.get(`zookeeper.${key}`);
}

/** True when the config lists no other member: this server runs standalone. */
export function isStandalone(c: ZooConfig): boolean {
  return c.servers.length <= 1 && c.standaloneEnabled;
}
