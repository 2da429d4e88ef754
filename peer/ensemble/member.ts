// One member of an ensemble: elect, then lead or follow/observe until that ends, then elect again.
// The Zab cores decide; this shell owns the sockets, the disk, the data tree and the client port.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startObservability } from '../admin/observability.ts';
import {
  type LearnerInfo,
  leaderZabState,
  learnerZabState,
  type MasterInfo,
  MemberStats,
  type RoleStatus,
  type RoleView,
  type ZabState,
} from '../admin/status.ts';
import { writeDynamicConfig } from '../config/dynamic-config.ts';
import type { ZooConfig } from '../config/zoocfg.ts';
import { JuteReader } from '../jute/archive.ts';
import { type Request, readRequest } from '../jute/records.ts';
import { decodeTxnEntry } from '../jute/txn.ts';
import { log } from '../log.ts';
import { refusalReason } from '../metrics/refusal-reason.ts';
import { learnerSecurityFromConfig } from '../net/learner-guard.ts';
import { connectToLeader, type QuorumLink } from '../net/quorum-link.ts';
import { readEpoch, writeEpoch } from '../persistence/epochs.ts';
import { writeSnapshot } from '../persistence/snapshot.ts';
import { Snapshotter } from '../persistence/snapshotter.ts';
import { SnapStreamReader } from '../persistence/snapstream.ts';
import { truncateLog } from '../persistence/truncate.ts';
import { TxnLog } from '../persistence/txnlog.ts';
import { OpCode } from '../protocol/constants.ts';
import { Leader, type LeaderEffect, type LeaderInput } from '../quorum/leader.ts';
import { Learner, type LearnerEffect, type LearnerInput } from '../quorum/learner.ts';
import { type MasterAddress, ObserverMasterList } from '../quorum/observer-master-list.ts';
import {
  describePacket,
  encodeTouchTable,
  type ForwardedRequest,
  PacketType,
  packet,
} from '../quorum/packets.ts';
import {
  configFromServerLines,
  parseDynamicConfig,
  type QuorumConfig,
  QuorumVerifier,
  renderQuorumConfig,
} from '../quorum/quorum-config.ts';
import { type DiskCompletion, epochOf, hex, type ZabTiming } from '../quorum/zab-common.ts';
import { NO_WRITES, ReadOnlyWindow, readOnlyDelayMs } from '../server/read-only.ts';
import { CONFIG_NODE, type ReconfigHost } from '../server/reconfig.ts';
import type { WritePath } from '../server/write-path.ts';
import type { ServerMode } from '../server/zkserver.ts';
import { ZkServer } from '../server/zkserver.ts';
import { serverSettings } from '../server-settings.ts';
import type { DataTree } from '../tree/datatree.ts';
import { recordConfig, recordedConfig } from './config-record.ts';
import {
  applyToDb,
  backToDisk,
  COMMIT_LOG_COUNT,
  committedLogOf,
  type Db,
  loadFromDisk,
} from './database.ts';
import { DiskDriver } from './disk.ts';
import { ElectionRunner } from './election-runner.ts';
import { LearnerPort } from './learner-port.ts';
import { measureMasters, PROBE_DEFAULTS } from './master-probe.ts';
import { ObserverMasterHost } from './observer-master-host.ts';
import { LeaderWritePath, LearnerWritePath } from './write-paths.ts';

const MAX_BACKOFF_MS = 10_000;
/** An observer on a far master looks for a nearer one this often, this many times. */
const SETTLE_EVERY_MS = 10_000;
const SETTLE_ROUNDS = 30;

export interface RunningMember {
  sid: number;
  stop(): Promise<void>;
}

export async function readMyId(dataDir: string): Promise<number> {
  const text = (await readFile(join(dataDir, 'myid'), 'utf8').catch(() => '')).trim();
  if (!/^\d+$/.test(text)) throw new Error(`${join(dataDir, 'myid')} must hold this server's id (a number)`);
  return Number(text);
}

export async function startMember(cfg: ZooConfig): Promise<RunningMember> {
  const sid = await readMyId(cfg.dataDir);
  const stats = new MemberStats();
  const loadStarted = Date.now();
  // The log first: loading fills the recent txns it keeps. Opening it reads no log file.
  const txnLog = await TxnLog.open(cfg.dataLogDir, {
    forceSync: cfg.forceSync,
    preAllocSize: cfg.preAllocSizeKb * 1024,
  });
  const loaded = await loadFromDisk(cfg.dataDir, cfg.dataLogDir, txnLog.recent);
  stats.dbInitTime.record(Date.now() - loadStarted);
  const config = newestConfig(
    configFromServerLines(cfg.servers, cfg.configVersion),
    recordedConfig(cfg.dataDir),
  );
  const me = config.members.get(sid);
  if (!me) throw new Error(`server.${sid} is not in the configuration`);
  await persistConfig(cfg, config, loaded.tree);
  const db: Db = { ...loaded, txnLog, snapshotter: new Snapshotter(cfg, txnLog), treeOnDisk: true };
  const lastEpoch = epochOf(db.tree.lastProcessedZxid);
  for (const name of ['currentEpoch', 'acceptedEpoch'] as const) {
    if ((await readEpoch(cfg.dataDir, name)) === null) await writeEpoch(cfg.dataDir, name, lastEpoch);
  }
  // The runner reads the config in force through ctx, which needs the runner: ctx comes second.
  let ctxRef: RoleContext | null = null;
  const election = new ElectionRunner({
    mySid: sid,
    config: () => ctxRef?.config ?? config,
    ...(cfg.quorumListenOnAllIPs ? { listenHost: '0.0.0.0' } : {}),
    log,
    onNewerConfig: (text) => (ctxRef ? adoptConfigText(ctxRef, text, 'an election notification') : false),
    security: learnerSecurityFromConfig(cfg.raw),
    onRefused: (reason, address) => {
      stats.electionRefused(refusalReason(reason));
      log.warn({ reason, address }, 'election connection refused');
    },
  });
  await election.start();
  const ctx: RoleContext = {
    cfg,
    sid,
    config,
    db,
    election,
    stopping: false,
    current: null,
    epochs: { accepted: 0, current: 0 },
    stats,
    fourLetterWord: () => '',
    observerMasters: new ObserverMasterList(Math.random),
    readOnly: null,
    joining: false,
  };
  ctxRef = ctx;
  const obs = await startObservability(cfg, memberStatus(ctx));
  ctx.fourLetterWord = obs.fourLetterWord;
  log.info({ sid, role: me.role, zxid: hex(db.tree.lastProcessedZxid) }, 'ensemble member starting');
  let backoffMs = 0;
  const loop = (async () => {
    while (!ctx.stopping) {
      if (!ctx.config.members.has(sid)) {
        // Removed by a reconfig: nothing to elect or serve until an operator re-adds it and
        // restarts it with the new membership.
        log.warn(
          { sid, version: ctx.config.version.toString(16) },
          'not a member of the current config; idle',
        );
        while (!ctx.stopping) await new Promise((r) => setTimeout(r, 1000));
        break;
      }
      const currentEpoch = (await readEpoch(cfg.dataDir, 'currentEpoch')) ?? 0;
      log.info({ zxid: hex(db.tree.lastProcessedZxid), currentEpoch }, 'looking for a leader');
      stats.electionBegan(Date.now());
      if (cfg.readOnlyModeEnabled) ctx.readOnly = readOnlyWhileLooking(ctx);
      const outcome = await election.elect(db.tree.lastProcessedZxid, currentEpoch);
      stats.electionEnded(Date.now());
      // The role needs the client port, and read-only sessions must not outlive the partition.
      await ctx.readOnly?.stop('election finished');
      ctx.readOnly = null;
      if (ctx.stopping) break;
      // A newer config adopted during the election may have left this member out: idle (above).
      if (!ctx.config.members.has(sid)) continue;
      ctx.epochs = { accepted: (await readEpoch(cfg.dataDir, 'acceptedEpoch')) ?? 0, current: currentEpoch };
      const role = outcome.state === 'LEADING' ? new Leading(ctx) : new Following(ctx, outcome.leader);
      ctx.current = role;
      await role.run();
      ctx.current = null;
      // Back to what the disk holds, logged-but-uncommitted proposals included, as ZooKeeper does:
      // the next election must vote with the last *logged* zxid, so that a new leader can TRUNC
      // what it never committed rather than DIFF on top of it.
      await role.settled();
      await txnLog.flush();
      if (ctx.stopping) break;
      const backAt = Date.now();
      const back = await backToDisk(cfg.dataDir, cfg.dataLogDir, db);
      log[back.fastForwardError ? 'warn' : 'info'](
        { ms: Date.now() - backAt, ...back },
        'database back to what the disk holds',
      );
      configToTree(ctx.config, db.tree);
      // A role that never got to serve (a leader refusing us, one that is not really up yet) is
      // retried with exponential backoff rather than in a tight loop.
      if (role.served) backoffMs = 0;
      else {
        backoffMs = Math.min(Math.max(200, backoffMs * 2), MAX_BACKOFF_MS);
        log.info({ ms: backoffMs }, 'role ended before serving; retrying after a pause');
        await new Promise((r) => setTimeout(r, backoffMs));
      }
    }
  })();
  return {
    sid,
    async stop() {
      ctx.stopping = true;
      await ctx.readOnly?.stop('shutting down');
      await ctx.current?.stop('shutting down');
      await election.close();
      await Promise.race([loop, new Promise((r) => setTimeout(r, 2000))]);
      await txnLog.close();
      await obs.stop();
    },
  };
}

/** What the admin commands and metrics read (peer/admin/status.ts). */
function memberStatus(ctx: RoleContext): RoleStatus {
  return {
    sid: ctx.sid,
    stats: ctx.stats,
    role: () => ctx.current?.mode ?? (ctx.readOnly?.server ? 'read-only' : 'looking'),
    server: () => ctx.current?.frontEnd() ?? ctx.readOnly?.server ?? null,
    view: () => ctx.current,
    quorum: () => ctx.config,
  };
}

interface RoleContext {
  cfg: ZooConfig;
  sid: number;
  /** The config in force here; replaced when a reconfig is activated. */
  config: QuorumConfig;
  db: Db;
  election: ElectionRunner;
  stopping: boolean;
  current: Leading | Following | null;
  /** The epoch files as read before the current role started. */
  epochs: { accepted: number; current: number };
  /** Counters for status and metrics; they outlive roles. */
  stats: MemberStats;
  /** Answers four-letter words on the client port (peer/admin/four-letter.ts). */
  fourLetterWord: (word: string) => string;
  /** Observers with observerMasterPort: whom to sync from next (the nearest followers first). */
  observerMasters: ObserverMasterList;
  /** readonlymode.enabled: the read-only server of the current election, if any. */
  readOnly: ReadOnlyWindow | null;
  /**
   * Not in the leader's config (NEWLEADER): a server waiting to be added by a reconfig. It keeps its
   * own line through reconfigs that do not add it yet, where a member they remove stops.
   */
  joining: boolean;
}

/** While looking (readonlymode.enabled): after a while, serve the tree as it is to read-only clients. */
function readOnlyWhileLooking(ctx: RoleContext): ReadOnlyWindow {
  return new ReadOnlyWindow({
    delayMs: readOnlyDelayMs(ctx.cfg.tickTime),
    log,
    start: async () => {
      const { cfg, sid, db } = ctx;
      const settings = serverSettings(cfg, sid, 'read-only');
      const server = new ZkServer(db.tree, db.sessions, settings, () => NO_WRITES);
      server.fourLetterWord = ctx.fourLetterWord;
      const { host, port } = clientEndpoint(ctx);
      await server.listen(host, port);
      log.info({ host, port }, 'no quorum: serving read-only clients');
      return server;
    },
  });
}

/** Where this member serves clients: the client address of its server line, else zoo.cfg's. */
function clientEndpoint(ctx: RoleContext): { host: string; port: number } {
  const me = ctx.config.members.get(ctx.sid);
  return { host: me?.clientAddress ?? ctx.cfg.clientPortAddress, port: me?.clientPort ?? ctx.cfg.clientPort };
}

function describeInput(i: LeaderInput | LearnerInput): string {
  return 'packet' in i ? `packet ${describePacket(i.packet)}` : i.kind;
}

/**
 * The config to start with: the one from the config files, unless the data dir records a newer one
 * that this member activated (a reconfig committed after the files were last written, e.g. when
 * they are a read-only mount). Not the tree's /zookeeper/config: a reconfig in the txn log may
 * never commit.
 */
function newestConfig(fromFiles: QuorumConfig, recorded: QuorumConfig | null): QuorumConfig {
  if (recorded && recorded.version > fromFiles.version) {
    log.info({ version: recorded.version.toString(16) }, 'using the newer config recorded in the data dir');
    return recorded;
  }
  return fromFiles;
}

/**
 * Makes config the one on disk: /zookeeper/config (as ZooKeeper's initConfigInZKDatabase does,
 * without a txn) and the dynamic config file when there is one. A read-only file is left alone:
 * the data dir's record has the config (config-record.ts), and a restart finds it there.
 */
async function persistConfig(cfg: ZooConfig, config: QuorumConfig, tree: Db['tree']): Promise<void> {
  const text = configToTree(config, tree);
  if (cfg.dynamicConfigFile === null) return;
  const current = await readFile(cfg.dynamicConfigFile, 'utf8').catch(() => null);
  if (current?.trim() === text) return;
  await writeDynamicConfig(cfg.dynamicConfigFile, config).catch((err: Error) =>
    log.warn({ file: cfg.dynamicConfigFile, err: err.message }, 'cannot rewrite the dynamic config file'),
  );
}

/** /zookeeper/config holds the config in force (a tree reloaded from disk may hold an older one). */
function configToTree(config: QuorumConfig, tree: Db['tree']): string {
  const text = renderQuorumConfig(config);
  const node = tree.getNode(CONFIG_NODE);
  if (node && node.data.toString('utf8') !== text)
    tree.setSystemNodeData(CONFIG_NODE, Buffer.from(text, 'utf8'));
  return text;
}

/**
 * A config this member learnt (a committed reconfig, NEWLEADER, a notification): adopted when it
 * is newer than the one in force. Returns whether it was.
 */
function adoptConfig(ctx: RoleContext, learnt: QuorumConfig, source: string): boolean {
  if (learnt.version <= ctx.config.version) return false;
  const before = ctx.config;
  const mine = before.members.get(ctx.sid);
  if (learnt.members.has(ctx.sid)) ctx.joining = false;
  const config =
    ctx.joining && mine && !learnt.members.has(ctx.sid)
      ? { ...learnt, members: new Map([...learnt.members, [ctx.sid, mine]]) }
      : learnt;
  ctx.config = config;
  log.info(
    {
      version: config.version.toString(16),
      from: before.version.toString(16),
      source,
      members: [...config.members.values()].map((m) => `${m.sid}:${m.role}`).join(','),
    },
    'config activated',
  );
  try {
    recordConfig(ctx.cfg.dataDir, config);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'cannot record the activated config in the data dir');
  }
  void persistConfig(ctx.cfg, config, ctx.db.tree);
  return true;
}

function parseConfigText(text: string, source: string): QuorumConfig | null {
  try {
    return parseDynamicConfig(text);
  } catch (err) {
    log.warn({ source, err: (err as Error).message }, 'ignoring a config that does not parse');
    return null;
  }
}

function adoptConfigText(ctx: RoleContext, text: string, source: string): boolean {
  const learnt = parseConfigText(text, source);
  return learnt !== null && adoptConfig(ctx, learnt, source);
}

/** Inputs every role's core takes from the shell itself: ticks and disk completions. */
type ShellInput = { kind: 'tick'; now: number } | DiskCompletion;

/**
 * What leading and following share: the core's input queue, the ticker, the disk driver, the
 * client front end once serving, and the status view's defaults.
 */
abstract class Role<I extends LeaderInput | LearnerInput> implements RoleView {
  abstract readonly mode: ServerMode;
  protected readonly ctx: RoleContext;
  protected server: ZkServer | null = null;
  /** Whether this role got as far as serving clients. */
  served = false;
  protected disk: DiskDriver;
  private done: (() => void) | null = null;
  protected ended = false;
  private ticker: NodeJS.Timeout | null = null;
  private readonly queue: (I | ShellInput)[] = [];
  private busy = false;
  /** Inputs wait while an effect that must finish first (TRUNC) runs. */
  protected paused = false;

  constructor(ctx: RoleContext) {
    this.ctx = ctx;
    this.disk = new DiskDriver(ctx.db.txnLog, ctx.cfg.dataDir, (c) => this.input(c));
  }

  protected get timing(): ZabTiming {
    const c = this.ctx.cfg;
    return {
      tickTime: c.tickTime,
      initLimit: c.initLimit,
      syncLimit: c.syncLimit,
      observerSyncLimit: c.observerSyncLimit || 2 * c.syncLimit,
    };
  }

  protected abstract begin(): Promise<void>;
  /** Runs one input through the core and executes the effects it returns. */
  protected abstract step(i: I | ShellInput): void;

  /**
   * Feeds the core in arrival order. An input that an effect produces (a revalidation answer, a
   * proposal) waits until the current input's effects have all run.
   */
  protected input(i: I | ShellInput): void {
    this.queue.push(i);
    if (this.busy || this.paused) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.paused) {
        const next = this.queue.shift()!;
        if (next.kind !== 'tick' && log.isLevelEnabled('debug'))
          log.debug({ role: this.mode, input: describeInput(next) }, 'zab input');
        this.step(next);
      }
    } finally {
      this.busy = false;
    }
  }

  async run(): Promise<void> {
    const finished = new Promise<void>((r) => {
      this.done = r;
    });
    this.ticker = setInterval(
      () => this.input({ kind: 'tick', now: Date.now() }),
      Math.max(20, this.ctx.cfg.tickTime / 4),
    );
    try {
      await this.begin();
    } catch (err) {
      log.warn({ err: (err as Error).message, mode: this.mode }, 'role could not start');
      await this.stop((err as Error).message);
    }
    await finished;
  }

  /** Applies a committed txn: through the front end once serving, straight to the tree before. */
  protected apply(data: Buffer): void {
    const { header, txn } = decodeTxnEntry(data);
    this.ctx.stats.applied(header.zxid, header.time, Date.now());
    if (this.server) this.server.commit(header, txn);
    else applyToDb(this.ctx.db, header, txn);
    if (header.type === OpCode.reconfig && txn.type === OpCode.reconfig)
      adoptConfigText(this.ctx, txn.data.toString('utf8'), `reconfig ${hex(header.zxid)}`);
    this.ctx.db.snapshotter.applied(this.ctx.db.tree, () => this.snapshotState().sessions);
  }

  /** The tree and sessions as they are now, for a snapshot: the front end's sessions once serving. */
  protected snapshotState(): { tree: DataTree; sessions: Map<bigint, number> } {
    const db = this.ctx.db;
    return { tree: db.tree, sessions: this.server?.sessions.snapshot() ?? db.sessions };
  }

  protected async serve(makePath: (s: ZkServer) => WritePath): Promise<void> {
    const { cfg, sid, db } = this.ctx;
    this.served = true;
    this.server = new ZkServer(db.tree, db.sessions, serverSettings(cfg, sid, this.mode), makePath);
    this.server.fourLetterWord = this.ctx.fourLetterWord;
    const { host, port } = clientEndpoint(this.ctx);
    await this.server.listen(host, port);
    log.info({ mode: this.mode, host, port }, 'serving clients');
  }

  async stop(reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.ticker) clearInterval(this.ticker);
    this.disk.stop();
    log.info({ mode: this.mode, reason }, 'leaving role');
    await this.teardown();
    if (this.server) {
      this.ctx.db.sessions = this.server.sessions.snapshot();
      await this.server.close();
      this.server = null;
    }
    this.done?.();
  }

  protected abstract teardown(): Promise<void>;

  /** Resolves once disk work this role started and does not wait for (a truncation, a snapshot) is over. */
  async settled(): Promise<void> {}

  // ---- RoleView (status and metrics); each role overrides what it knows ----
  frontEnd(): ZkServer | null {
    return this.server;
  }
  abstract zabState(): ZabState;
  syncMode(): 'diff' | 'snap' | 'trunc' | null {
    return null;
  }
  master(): MasterInfo | null {
    return null;
  }
  learners(): LearnerInfo[] {
    return [];
  }
  hostsObservers(): boolean {
    return false;
  }
  establishedAt(): number {
    return 0;
  }
}

class Leading extends Role<LeaderInput> {
  readonly mode = 'leader' as const;
  private readonly core: Leader;
  private readonly port: LearnerPort;
  private path: LeaderWritePath | null = null;

  constructor(ctx: RoleContext) {
    super(ctx);
    const db = ctx.db;
    this.core = new Leader({
      sid: ctx.sid,
      verifier: new QuorumVerifier(ctx.config),
      timing: this.timing,
      acceptedEpoch: ctx.epochs.accepted,
      currentEpoch: ctx.epochs.current,
      lastZxid: db.tree.lastProcessedZxid,
      committedLog: committedLogOf(db),
      commitLogCount: COMMIT_LOG_COUNT,
      now: Date.now(),
    });
    const { cfg } = ctx;
    const me = ctx.config.members.get(ctx.sid)!;
    this.port = new LearnerPort({
      name: 'leader',
      listen: { host: cfg.quorumListenOnAllIPs ? '0.0.0.0' : me.host, port: me.quorumPort },
      security: learnerSecurityFromConfig(cfg.raw),
      stats: ctx.stats,
      log,
      state: () => this.snapshotState(),
      connected: (conn) => this.input({ kind: 'connected', conn }),
      packet: (conn, p) => this.input({ kind: 'packet', conn, packet: p }),
      disconnected: (conn) => this.input({ kind: 'disconnected', conn }),
    });
  }

  protected async begin(): Promise<void> {
    for (const e of this.core.start()) this.execute(e);
    await this.port.open();
    this.input({ kind: 'tick', now: Date.now() });
  }

  protected step(i: LeaderInput): void {
    const debug = log.isLevelEnabled('debug');
    for (const e of this.core.step(i)) {
      if (debug && (e.type !== 'send' || e.packet.type !== PacketType.PING))
        log.debug({ role: 'leader', effect: e.type }, 'zab effect');
      this.execute(e);
    }
  }

  private execute(e: LeaderEffect): void {
    const core = this.core;
    switch (e.type) {
      case 'send':
      case 'send-snapshot':
      case 'close':
        this.port.execute(e);
        return;
      case 'log-append':
        // On the leader every logged txn is a proposal.
        this.ctx.stats.proposed(e.data.length);
        this.disk.execute(e);
        return;
      case 'persist-epoch':
        this.disk.execute(e);
        return;
      case 'apply':
        this.ctx.stats.commits++;
        this.apply(e.data);
        this.path?.appliedUpTo(e.zxid);
        return;
      case 'established': {
        const logged = this.ctx.db.loggedConfig;
        if (logged && logged.version > this.ctx.config.version) {
          // The initial history, committed now, holds a reconfig proposed before the last leader
          // change that this member had not activated; the core counts the votes of the config it
          // started with. Activate the new one and re-elect under it, before any learner serves
          // (stopping closes the links: the UPTODATEs that follow are not sent).
          adoptConfig(this.ctx, logged, 'the initial history of this epoch');
          void this.stop(
            `established with reconfig ${hex(logged.version)} in its history: re-electing under it`,
          );
          return;
        }
        this.ctx.election.setPeerEpoch(e.epoch);
        void this.serve((s) => {
          this.path = new LeaderWritePath(
            s.view,
            s.sessions,
            { ...serverSettings(this.ctx.cfg, this.ctx.sid, 'leader'), reconfig: this.reconfigHost() },
            s,
            {
              get nextZxid() {
                return core.nextZxid;
              },
              propose: (zxid, data, installs) =>
                this.input({
                  kind: 'propose',
                  zxid,
                  data,
                  ...(installs ? { config: new QuorumVerifier(installs) } : {}),
                }),
            },
            this.ctx.db.tree.lastProcessedZxid,
          );
          return this.path;
        }).catch((err) => void this.stop(`cannot serve clients: ${(err as Error).message}`));
        return;
      }
      case 'activate':
        // The config itself was adopted when the reconfig txn was applied, just before.
        log.info({ zxid: hex(e.zxid), designatedLeader: e.designatedLeader }, 'reconfig committed');
        return;
      case 'stopped':
        void this.stop(e.reason);
        return;
      case 'learner-request':
        this.forwarded(e.conn, e.request);
        return;
      case 'touch': {
        const now = Date.now();
        for (const t of e.touches) this.server?.sessions.touch(t.sessionId, now);
        return;
      }
      case 'revalidate': {
        const valid = this.server?.sessions.touch(e.sessionId, Date.now()) ?? false;
        this.input({ kind: 'revalidated', conn: e.conn, sessionId: e.sessionId, valid });
        return;
      }
      case 'warn':
        log.warn({ mode: 'leader', msg2: e.message }, 'zab');
        return;
    }
  }

  /** What the prep stage of a reconfig asks the leader. */
  private reconfigHost(): ReconfigHost {
    const core = this.core;
    let proposedZxid = -1;
    return {
      enabled: this.ctx.cfg.reconfigEnabled,
      config: () => (core.lastSeenVerifier as QuorumVerifier).config,
      // Also true between this prep and the core seeing the proposal (inputs are queued).
      inProgress: () => core.reconfigInProgress || proposedZxid > core.lastCommittedZxid,
      syncedVoters: () => core.syncedFollowers(),
      proposed: (zxid: number) => {
        proposedZxid = zxid;
      },
    };
  }

  /** A learner's client request: prep and propose it here, or answer a sync in order. */
  private forwarded(conn: number, r: ForwardedRequest): void {
    if (r.type === OpCode.sync) {
      this.input({ kind: 'sync', conn });
      return;
    }
    if (!this.path) return;
    let req: Request | null = null;
    if (r.type === OpCode.createSession) {
      req = r.body.length >= 4 ? { type: OpCode.createSession, timeOut: r.body.readInt32BE(0) } : null;
    } else {
      try {
        req = readRequest(r.type, new JuteReader(r.body));
      } catch {
        req = null;
      }
    }
    this.path.write({
      sessionId: r.sessionId,
      cxid: r.cxid,
      type: r.type,
      req,
      ids: r.authinfo ?? [],
      body: r.body,
    });
  }

  protected async teardown(): Promise<void> {
    await this.port.close('leader stepping down');
  }

  // ---- RoleView (status and metrics) ----
  zabState() {
    return leaderZabState(this.core.phase);
  }
  override learners() {
    return this.port.describe(this.core.learners(), this.ctx.config);
  }
  override establishedAt(): number {
    return this.server?.startedAt ?? 0;
  }
}

class Following extends Role<LearnerInput> {
  readonly mode: 'follower' | 'observer';
  private readonly core: Learner;
  private readonly leaderSid: number;
  private link: QuorumLink | null = null;
  private path: LearnerWritePath | null = null;
  /** An observer with observerMasterPort: the follower it syncs from (null: the leader). */
  private learnerMaster: MasterAddress | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  /** A follower with observerMasterPort: the observers it hosts. */
  private readonly observerMaster: ObserverMasterHost | null;
  /** The last truncation or snapshot this role started: the member waits for it before reloading. */
  private diskWork: Promise<unknown> = Promise.resolve();

  constructor(ctx: RoleContext, leaderSid: number) {
    super(ctx);
    this.leaderSid = leaderSid;
    // The member loop starts a role only while this member is in the config.
    const role = ctx.config.members.get(ctx.sid)!.role;
    this.mode = role === 'observer' ? 'observer' : 'follower';
    this.core = new Learner({
      sid: ctx.sid,
      role: this.mode,
      timing: this.timing,
      acceptedEpoch: ctx.epochs.accepted,
      currentEpoch: ctx.epochs.current,
      lastLoggedZxid: ctx.db.tree.lastProcessedZxid,
      configVersion: ctx.config.version,
      now: Date.now(),
    });
    const omPort = ctx.cfg.observerMasterPort;
    this.observerMaster = this.mode === 'follower' && omPort !== null ? this.hostObservers(omPort) : null;
  }

  /**
   * Whom to sync from: the leader, or with observerMasterPort an observer's next follower, nearest
   * first (measured here when the list asks for it).
   */
  private async syncSource(): Promise<MasterAddress> {
    const { cfg, config } = this.ctx;
    const leader = config.members.get(this.leaderSid);
    if (!leader) throw new Error(`leader ${this.leaderSid} is not a member`);
    let viaMaster: MasterAddress | null = null;
    const port = cfg.observerMasterPort;
    if (this.mode === 'observer' && port !== null) {
      const masters = this.ctx.observerMasters;
      const todo = masters.toMeasure(config, port, this.leaderSid, Date.now());
      if (todo.length > 0) {
        const rtts = await this.probe(todo);
        masters.measured(config, this.leaderSid, rtts, Date.now());
        log.info(
          {
            leader: this.leaderSid,
            rttMs: Object.fromEntries([...rtts].map(([s, ms]) => [s, +ms.toFixed(3)])),
          },
          'measured the round trip to each observer master',
        );
      }
      viaMaster = masters.pick(config, port, this.leaderSid);
    }
    return viaMaster ?? { sid: this.leaderSid, host: leader.host, port: leader.quorumPort };
  }

  protected async begin(): Promise<void> {
    const { cfg, config } = this.ctx;
    const security = learnerSecurityFromConfig(cfg.raw);
    let link: QuorumLink | null = null;
    // Right after an election the leader may not listen yet: retry soon, then back off (about 4.6 s in all).
    for (let attempt = 0; attempt < 9 && !link; attempt++) {
      const source = await this.syncSource();
      try {
        link = await connectToLeader(
          { host: source.host, port: source.port },
          security,
          cfg.tickTime * cfg.initLimit,
          config.members.get(this.ctx.sid)!.host,
        );
        if (source.sid !== this.leaderSid) {
          this.learnerMaster = source;
          log.info({ master: source.sid, leader: this.leaderSid }, 'syncing from an observer master');
          this.settleOnNearestMaster(source.sid);
        }
      } catch (err) {
        if (source.sid !== this.leaderSid) this.ctx.observerMasters.failed(source.sid);
        log.info(
          { leader: this.leaderSid, master: source.sid, attempt, err: (err as Error).message },
          source.sid === this.leaderSid ? 'cannot reach the leader yet' : 'cannot reach the observer master',
        );
        await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 1000)));
      }
    }
    if (!link) throw new Error(`leader ${this.leaderSid} unreachable`);
    this.link = link;
    this.ctx.stats.syncBegan(Date.now(), this.ctx.db.tree.lastProcessedZxid);
    link.start({
      onPacket: (p) => {
        if (p.type === PacketType.SNAP && !this.server) {
          const reader = new SnapStreamReader();
          link.divert((chunk) => {
            if (!reader.feed(chunk)) return null;
            const { tree, sessions } = reader.result();
            tree.lastProcessedZxid = p.zxid;
            this.ctx.db.tree = tree;
            this.ctx.db.sessions = sessions;
            this.ctx.db.treeOnDisk = false;
            this.ctx.db.txnLog.recent.clear();
            this.observerMaster?.step({ kind: 'reset', lastZxid: p.zxid });
            this.input({ kind: 'packet', packet: p });
            return reader.rest;
          });
          return;
        }
        if (this.server) this.ctx.stats.learnerPacket(p.type, p.zxid, Date.now());
        this.input({ kind: 'packet', packet: p });
      },
      onClose: () => this.input({ kind: 'disconnected' }),
    });
    this.input({ kind: 'connected' });
  }

  protected step(i: LearnerInput): void {
    const om = this.observerMaster;
    if (om && i.kind === 'tick') om.step(i);
    else if (om && this.core.serving) {
      // The leader answers syncs and revalidations in the order it is asked, this member's own and
      // its observers' alike: the observer master keeps that order to route each answer.
      if (i.kind === 'request' && i.request.type === OpCode.sync) om.step({ kind: 'local-sync' });
      else if (i.kind === 'revalidate') om.step({ kind: 'local-revalidate', sessionId: i.sessionId });
    }
    for (const e of this.core.step(i)) this.execute(e);
  }

  /** A follower with observerMasterPort serves observers from what it commits (zk-protocol.md §2.9). */
  private hostObservers(port: number): ObserverMasterHost {
    const { ctx } = this;
    const db = ctx.db;
    const me = ctx.config.members.get(ctx.sid)!;
    return new ObserverMasterHost({
      sid: ctx.sid,
      timing: this.timing,
      lastZxid: db.tree.lastProcessedZxid,
      committedLog: committedLogOf(db),
      sizeLimit: ctx.cfg.observerMasterSizeLimit,
      config: () => this.ctx.config,
      listen: { host: ctx.cfg.quorumListenOnAllIPs ? '0.0.0.0' : me.host, port },
      security: learnerSecurityFromConfig(ctx.cfg.raw),
      stats: ctx.stats,
      log,
      toLeader: (p) => this.link?.send(p),
      state: () => this.snapshotState(),
      localSyncDone: () => this.path?.syncDone(),
      localRevalidated: (sessionId, valid) => this.path?.revalidated(sessionId, valid),
      touch: (touches) => {
        const now = Date.now();
        for (const t of touches) this.server?.sessions.touch(t.sessionId, now);
      },
    });
  }

  private execute(e: LearnerEffect): void {
    const db = this.ctx.db;
    switch (e.type) {
      case 'send':
        this.link?.send(e.packet);
        return;
      case 'log-append':
      case 'persist-epoch':
        this.disk.execute(e);
        return;
      case 'truncate-log':
        this.paused = true;
        db.treeOnDisk = false;
        this.diskWork = truncateLog(this.ctx.cfg.dataLogDir, e.zxid)
          .then(() => loadFromDisk(this.ctx.cfg.dataDir, this.ctx.cfg.dataLogDir, db.txnLog.recent))
          .then((r) => {
            // A role that ended meanwhile leaves the database to the member, which reloads it.
            if (this.ended) return;
            db.tree = r.tree;
            db.sessions = r.sessions;
            db.treeOnDisk = true;
            configToTree(this.ctx.config, db.tree);
            this.observerMaster?.step({ kind: 'reset', lastZxid: db.tree.lastProcessedZxid });
            this.paused = false;
            this.input({ kind: 'tick', now: Date.now() });
          })
          .catch((err) => void this.stop(`truncation failed: ${(err as Error).message}`));
        return;
      case 'take-snapshot': {
        const tree = db.tree;
        this.diskWork = writeSnapshot(this.ctx.cfg.dataDir, tree, db.sessions, e.zxid).then(
          () => {
            if (db.tree === tree) db.treeOnDisk = true;
            this.input({ kind: 'snapshotted', zxid: e.zxid });
          },
          (err) => void this.stop(`snapshot failed: ${(err as Error).message}`),
        );
        return;
      }
      case 'apply':
        this.apply(e.data);
        this.observerMaster?.step({ kind: 'committed', zxid: e.zxid, data: e.data });
        return;
      case 'uptodate':
        // The txns of the sync are applied just before UPTODATE: a reconfig among them may have
        // taken this role away (its COMMITANDACTIVATE came while the config was still the old one).
        if (this.leaveIfConfigMovedOn()) return;
        this.ctx.stats.syncEnded(this.mode, this.syncMode(), Date.now());
        this.ctx.election.setPeerEpoch(e.epoch);
        void this.serve((s) => {
          s.sessions.trackTouches();
          this.path = new LearnerWritePath(
            (request) => this.input({ kind: 'request', request }),
            (sessionId, timeout) => this.input({ kind: 'revalidate', sessionId, timeout }),
            s,
          );
          return this.path;
        }).catch((err) => void this.stop(`cannot serve clients: ${(err as Error).message}`));
        void this.observerMaster?.serve(e.epoch);
        return;
      case 'ping':
        this.link?.send(
          packet(PacketType.PING, e.zxid, encodeTouchTable(this.server?.sessions.takeTouched() ?? [])),
        );
        return;
      case 'sync-done':
        if (this.observerMaster) this.observerMaster.step({ kind: 'leader-sync' });
        else this.path?.syncDone();
        return;
      case 'revalidated':
        if (this.observerMaster)
          this.observerMaster.step({ kind: 'leader-revalidated', sessionId: e.sessionId, valid: e.valid });
        else this.path?.revalidated(e.sessionId, e.valid);
        return;
      case 'leader-config': {
        // NEWLEADER carries the leader's config: a learner that missed a reconfig (SNAP) gets it here.
        const leaders = parseConfigText(e.text, 'NEWLEADER');
        this.ctx.joining = leaders !== null && !leaders.members.has(this.ctx.sid);
        if (leaders) adoptConfig(this.ctx, leaders, 'NEWLEADER');
        this.leaveIfConfigMovedOn();
        return;
      }
      case 'activate':
        this.observerMaster?.step({ kind: 'activated', zxid: e.zxid, designatedLeader: e.designatedLeader });
        if (e.designatedLeader !== this.leaderSid) {
          void this.stop(`reconfig: server ${e.designatedLeader} leads the new config`);
          return;
        }
        this.leaveIfConfigMovedOn();
        return;
      case 'stopped':
        void this.stop(e.reason);
        return;
      case 'warn':
        log.warn({ mode: this.mode, msg2: e.message }, 'zab');
        return;
    }
  }

  /** A role this member no longer has under the config in force (removed, or changed type): stops. */
  private leaveIfConfigMovedOn(): boolean {
    const me = this.ctx.config.members.get(this.ctx.sid);
    const mode = me?.role === 'observer' ? 'observer' : 'follower';
    let why: string | null = null;
    if (!me) why = 'reconfig removed this member';
    else if (mode !== this.mode) why = `reconfig made this member a ${me.role}`;
    else if (!this.ctx.config.members.has(this.leaderSid)) why = 'reconfig removed the leader';
    else if (
      this.learnerMaster &&
      this.ctx.config.members.get(this.learnerMaster.sid)?.role !== 'participant'
    )
      why = `reconfig: observer master ${this.learnerMaster.sid} is no longer a voter`;
    if (why !== null) void this.stop(why);
    return why !== null;
  }

  /**
   * A master chosen while some followers did not answer yet (an ensemble starting up) may be the far
   * one: measure again now and then, and move when a nearer master answers. A sync costs a DIFF; a
   * WAN link for the observer's whole life costs more.
   */
  private settleOnNearestMaster(current: number): void {
    const masters = this.ctx.observerMasters;
    const port = this.ctx.cfg.observerMasterPort;
    if (port === null || masters.allMeasured(this.ctx.config, this.leaderSid)) return;
    let rounds = 0;
    this.settleTimer = setInterval(async () => {
      const { config } = this.ctx;
      const rtts = await this.probe(masters.candidates(config, port, this.leaderSid));
      if (this.settleTimer === null) return; // the role ended meanwhile
      masters.measured(config, this.leaderSid, rtts, Date.now());
      const nearer = masters.nearerThan(config, this.leaderSid, current);
      if (nearer !== null) {
        log.info(
          { master: current, nearer, rttMs: rtts.get(nearer) },
          'a nearer observer master answers: moving',
        );
        void this.stop(`moving to the nearer observer master ${nearer}`);
      } else if (masters.allMeasured(config, this.leaderSid) || ++rounds >= SETTLE_ROUNDS)
        this.stopSettling();
    }, SETTLE_EVERY_MS);
    this.settleTimer.unref();
  }

  /** Round trips to these masters, probed from this member's own address (allow-lists check it). */
  private probe(masters: readonly MasterAddress[]): Promise<Map<number, number>> {
    const localAddress = this.ctx.config.members.get(this.ctx.sid)?.host;
    return measureMasters(masters, { ...PROBE_DEFAULTS, ...(localAddress ? { localAddress } : {}) });
  }

  private stopSettling(): void {
    if (this.settleTimer) clearInterval(this.settleTimer);
    this.settleTimer = null;
  }

  override async settled(): Promise<void> {
    await this.diskWork.catch(() => {});
  }

  protected async teardown(): Promise<void> {
    this.stopSettling();
    // Its master went (or this observer left it): measure again before choosing the next one.
    if (this.learnerMaster && !this.ctx.stopping) this.ctx.observerMasters.lost(this.learnerMaster.sid);
    this.path?.abandon();
    // Its observers go looking for another master; the listener closes with the role.
    await this.observerMaster?.stop('the observer master stopped following');
    this.link?.close('leaving role');
    this.link = null;
  }

  // ---- RoleView (status and metrics) ----
  zabState() {
    return learnerZabState(this.core.phase);
  }
  override syncMode() {
    const m = this.core.syncMode;
    return m === 'DIFF' ? 'diff' : m === 'SNAP' ? 'snap' : m === 'TRUNC' ? 'trunc' : null;
  }
  override master() {
    const om = this.learnerMaster;
    if (om) {
      const rttMs = this.ctx.observerMasters.rttOf(om.sid);
      return { sid: om.sid, address: `${om.host}:${om.port}`, leader: this.leaderSid, rttMs };
    }
    const m = this.ctx.config.members.get(this.leaderSid);
    return { sid: this.leaderSid, address: m ? `${m.host}:${m.quorumPort}` : '' };
  }
  override learners() {
    return this.observerMaster?.learners(this.ctx.config) ?? [];
  }
  override hostsObservers() {
    return this.observerMaster !== null;
  }
}
