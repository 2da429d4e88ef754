// A standalone ZooKeeper server: the client port, sessions, the request pipeline
// (prep → txn log with group commit → apply → reply) and the data tree.
// Reads run against the applied tree; a read waits behind earlier writes of its own connection.
// In read-only mode (a member cut off from its quorum) writes and syncs are refused up front and
// sessions live on this server only; see peer/server/read-only.ts.

import net from 'node:net';
import { JuteError, JuteReader, JuteWriter } from '../jute/archive.ts';
import {
  type ACL,
  type ConnectRequest,
  type OpResult,
  type Request,
  readConnectRequest,
  readRequest,
  type Stat,
  writeAclList,
  writeConnectResponse,
  writeMultiResponse,
  writeStat,
  writeWatcherEvent,
} from '../jute/records.ts';
import type { Txn, TxnHeader } from '../jute/txn.ts';
import { log } from '../log.ts';
import { Err, KeeperError, KeeperState, OpCode, Perms, WatcherType, Xid } from '../protocol/constants.ts';
import { type ApplyResult, type DataTree, NO_NODE } from '../tree/datatree.ts';
import { type AuthSettings, checkACL, permitted, providerFor, userName } from './auth.ts';
import { type Awaiting, AwaitingReplies } from './awaiting.ts';
import {
  type ClientConnection,
  ClientConnection as Connection,
  type ConnectionHost,
  type Pending,
} from './connection.ts';
import { PendingView } from './prep.ts';
import { sessionPassword } from './session-ids.ts';
import { SessionTracker } from './sessions.ts';
import { RequestStats } from './stats.ts';
import { WatchManager } from './watches.ts';
import type { WritePath } from './write-path.ts';

export type ServerMode = 'standalone' | 'leader' | 'follower' | 'observer' | 'read-only';

export interface ServerSettings {
  serverId: number;
  mode: ServerMode;
  tickTime: number;
  minSessionTimeout: number;
  maxSessionTimeout: number;
  maxClientCnxns: number;
  maxBuffer: number;
  extendedTypes: boolean;
  auth: AuthSettings;
  sessionlessCnxnTimeoutMs: number;
  containerCheckIntervalMs: number;
  containerMaxPerMinute: number;
  containerMaxNeverUsedIntervalMs: number;
}

export class ZkServer implements ConnectionHost {
  readonly tree: DataTree;
  readonly sessions: SessionTracker;
  readonly watches = new WatchManager<ClientConnection>();
  readonly view: PendingView;
  readonly settings: ServerSettings;
  readonly maxBuffer: number;
  private readonly writePath: WritePath;
  private readonly awaiting = new AwaitingReplies();
  private readonly connections = new Set<ClientConnection>();
  private readonly bySession = new Map<bigint, ClientConnection>();
  private readonly perIp = new Map<string, number>();
  private server: net.Server | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly writer = new JuteWriter(64 * 1024);
  readonly startedAt = Date.now();
  /** Txns applied since start (for snapshot scheduling by the owner). */
  onApplied: (header: TxnHeader) => void = () => {};
  /** Answers four-letter words; the owner sets it (peer/admin/observability.ts). */
  fourLetterWord: (word: string) => string = (word) => `${word} is not supported by this server.\n`;
  readonly stats = new RequestStats();
  private closingDown = false;
  /**
   * Read-only mode, as ZooKeeper's ReadOnlyZooKeeperServer: only clients that accept it, writes
   * and sync answered NOTREADONLY, sessions created and expired here without a txn.
   */
  readonly readOnly: boolean;
  /** Read-only mode: the quorum's sessions as this member last knew them. */
  private readonly quorumSessions: ReadonlySet<bigint>;

  constructor(
    tree: DataTree,
    sessions: Map<bigint, number>,
    settings: ServerSettings,
    writePath: (server: ZkServer) => WritePath,
  ) {
    this.tree = tree;
    this.settings = settings;
    this.maxBuffer = settings.maxBuffer;
    this.view = new PendingView(tree);
    const now = Date.now();
    this.sessions = new SessionTracker(settings.serverId, settings.tickTime, now);
    this.readOnly = settings.mode === 'read-only';
    // A read-only server tracks only its own sessions; the quorum's are not its to keep alive.
    this.quorumSessions = this.readOnly ? new Set(sessions.keys()) : new Set();
    if (!this.readOnly) for (const [id, timeout] of sessions) this.sessions.add(id, timeout, now);
    tree.trigger = (path, type, zxid, acl) => this.fire(path, type, zxid, acl);
    this.writePath = writePath(this);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  async listen(host: string, port: number): Promise<net.AddressInfo> {
    const server = net.createServer({ noDelay: true }, (s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, backlog: 1024 }, () => resolve());
    });
    const tick = this.settings.tickTime;
    this.timers.push(setInterval(() => this.expireSessions(), Math.max(50, Math.min(tick, 1000))));
    this.timers.push(setInterval(() => this.checkContainers(), this.settings.containerCheckIntervalMs));
    for (const t of this.timers) t.unref();
    return server.address() as net.AddressInfo;
  }

  async close(): Promise<void> {
    this.closingDown = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const srv = this.server;
    this.server = null;
    for (const c of [...this.connections]) c.close('server shutting down');
    // The port is free as soon as the listener closes; the clients' answers to our FINs are not
    // waited for. After a leader failure with 5,000 sessions that wait took a member 0.1-0.2 s
    // before it could vote.
    srv?.close();
    await this.writePath.drain();
  }

  private accept(socket: net.Socket): void {
    if (this.closingDown) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, this);
    const max = this.settings.maxClientCnxns;
    const n = (this.perIp.get(conn.remoteAddress) ?? 0) + 1;
    if (max > 0 && n > max) {
      log.warn({ ip: conn.remoteAddress, max }, 'too many connections from one address; closing');
      socket.destroy();
      return;
    }
    this.perIp.set(conn.remoteAddress, n);
    this.connections.add(conn);
    const t = setTimeout(() => {
      if (conn.state === 'new') conn.close('no ConnectRequest within sessionlessCnxnTimeout');
    }, this.settings.sessionlessCnxnTimeoutMs);
    t.unref();
    socket.once('close', () => clearTimeout(t));
  }

  onClosed(conn: ClientConnection, reason: string): void {
    if (!this.connections.delete(conn)) return;
    const n = (this.perIp.get(conn.remoteAddress) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(conn.remoteAddress);
    else this.perIp.set(conn.remoteAddress, n);
    this.watches.removeWatcher(conn);
    if (conn.sessionId !== 0n && this.bySession.get(conn.sessionId) === conn)
      this.bySession.delete(conn.sessionId);
    log.debug({ conn: conn.id, session: hex(conn.sessionId), reason }, 'connection closed');
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  allConnections(): Iterable<ClientConnection> {
    return this.connections;
  }

  get lastProcessedZxid(): number {
    return this.tree.lastProcessedZxid;
  }

  get outstanding(): number {
    let n = 0;
    for (const c of this.connections) n += c.queued;
    return n;
  }

  // ---- frames -----------------------------------------------------------------------------

  /** A reply stamped with the last applied zxid; an error reply has no body. */
  private frame(xid: number, err: number, body?: (w: JuteWriter) => void): Buffer {
    return this.frameWithZxid(xid, this.tree.lastProcessedZxid, err, err === Err.OK ? body : undefined);
  }

  private statFrame(xid: number, stat: Stat): Buffer {
    return this.frame(xid, Err.OK, (w) => writeStat(w, stat));
  }

  onConnectRequest(conn: ClientConnection, frame: Buffer): void {
    let req: ConnectRequest;
    try {
      req = readConnectRequest(new JuteReader(frame, 0, frame.length, this.maxBuffer));
    } catch (e) {
      conn.close(`malformed ConnectRequest: ${(e as Error).message}`);
      return;
    }
    if (this.readOnly && req.readOnly !== true) {
      log.info({ conn: conn.id }, 'refusing a client that does not accept a read-only server');
      conn.close('not a read-only client');
      return;
    }
    if (req.lastZxidSeen > this.tree.lastProcessedZxid) {
      log.info(
        { conn: conn.id, clientZxid: hex(req.lastZxidSeen), serverZxid: hex(this.tree.lastProcessedZxid) },
        'client has seen a newer zxid than this server; refusing it so it tries another server',
      );
      conn.close('client zxid ahead');
      return;
    }
    const timeout = Math.min(
      Math.max(req.timeOut, this.settings.minSessionTimeout),
      this.settings.maxSessionTimeout,
    );
    conn.sessionTimeout = timeout;
    if (this.readOnly) {
      this.connectReadOnly(conn, req, timeout);
      return;
    }
    if (req.sessionId === 0n) {
      const id = this.sessions.newSessionId();
      conn.hold();
      this.awaiting.expect(id, 0, {
        conn,
        done: () => this.finishSession(conn, id, timeout, req.readOnly, true),
      });
      this.writePath.write({
        sessionId: id,
        cxid: 0,
        type: OpCode.createSession,
        req: { type: OpCode.createSession, timeOut: timeout },
        ids: [],
      });
      return;
    }
    // The session's current connection goes first, whether or not this one proves itself.
    const previous = this.bySession.get(req.sessionId);
    if (previous && previous !== conn) previous.close('client reconnected');
    if (!req.passwd.equals(sessionPassword(req.sessionId))) {
      this.finishSession(conn, req.sessionId, timeout, req.readOnly, false);
      return;
    }
    const revalidate = this.writePath.revalidate;
    if (!revalidate) {
      this.finishSession(
        conn,
        req.sessionId,
        timeout,
        req.readOnly,
        this.sessions.touch(req.sessionId, Date.now()),
      );
      return;
    }
    // On a learner the leader owns sessions: ask it (REVALIDATE) before letting the client back in.
    conn.hold();
    const id = req.sessionId;
    revalidate.call(this.writePath, id, timeout).then(
      (valid) => {
        if (valid && !this.sessions.touch(id, Date.now())) this.sessions.add(id, timeout, Date.now());
        this.finishSession(conn, id, timeout, req.readOnly, valid);
      },
      () => conn.close('session revalidation failed'),
    );
  }

  /**
   * Read-only mode: a new session is created here, without a txn, and dies with this server (the
   * quorum never hears of it). A quorum session is refused without a verdict, as ZooKeeper does:
   * only the quorum knows whether it is alive, and the client tries another server.
   */
  private connectReadOnly(conn: ClientConnection, req: ConnectRequest, timeout: number): void {
    const now = Date.now();
    if (req.sessionId === 0n) {
      const id = this.sessions.newSessionId();
      this.sessions.add(id, timeout, now);
      this.finishSession(conn, id, timeout, req.readOnly, true);
      return;
    }
    if (this.quorumSessions.has(req.sessionId)) {
      log.info(
        { conn: conn.id, session: hex(req.sessionId) },
        'refusing to renew a quorum session in read-only mode',
      );
      conn.close('quorum session on a read-only server');
      return;
    }
    const previous = this.bySession.get(req.sessionId);
    if (previous && previous !== conn) previous.close('client reconnected');
    const valid =
      req.passwd.equals(sessionPassword(req.sessionId)) && this.sessions.touch(req.sessionId, now);
    this.finishSession(conn, req.sessionId, timeout, req.readOnly, valid);
  }

  private finishSession(
    conn: ClientConnection,
    id: bigint,
    timeout: number,
    readOnlyByte: boolean | undefined,
    valid: boolean,
  ): void {
    if (conn.state === 'closed') return;
    const w = this.writer;
    w.reset();
    const mark = w.beginFrame();
    writeConnectResponse(w, {
      protocolVersion: 0,
      timeOut: valid ? timeout : 0,
      sessionId: valid ? id : 0n,
      passwd: valid ? sessionPassword(id) : Buffer.alloc(16),
      readOnly: readOnlyByte === undefined ? undefined : this.readOnly,
    });
    w.endFrame(mark);
    conn.send(w.toBuffer());
    if (!valid) {
      log.info({ conn: conn.id, session: hex(id) }, 'session expired or invalid password on reconnect');
      conn.closeAfterFlush('invalid session');
      return;
    }
    const previous = this.bySession.get(id);
    if (previous && previous !== conn) previous.close('session moved to a new connection');
    conn.sessionId = id;
    this.bySession.set(id, conn);
    if (conn.state === 'waiting') conn.resume();
    else conn.state = 'open';
  }

  onRequest(conn: ClientConnection, frame: Buffer): void {
    const r = new JuteReader(frame, 0, frame.length, this.maxBuffer);
    let xid: number;
    let type: number;
    let req: Request;
    try {
      xid = r.int();
      type = r.int();
    } catch {
      conn.close('truncated request header');
      return;
    }
    this.stats.received++;
    const receivedAt = Date.now();
    this.sessions.touch(conn.sessionId, receivedAt);
    if (!VALID_OPS.has(type)) {
      conn.send(this.frameWithZxid(xid, -1, Err.UNIMPLEMENTED));
      conn.closeAfterFlush(`unsupported opcode ${type}`);
      return;
    }
    if (this.readOnly && REFUSED_WHEN_READ_ONLY.has(type)) {
      // ZooKeeper's ReadOnlyRequestProcessor: refused by opcode, before the body is even parsed.
      this.pendingFor(conn, xid, type, () => this.frame(xid, Err.NOTREADONLY), receivedAt);
      conn.pump();
      return;
    }
    try {
      req = readRequest(type, r);
    } catch (e) {
      if (!(e instanceof JuteError)) throw e;
      // Like ZooKeeper: answer MARSHALLINGERROR in order and keep the connection; a write still
      // becomes an error txn, so it uses up a zxid.
      log.info({ conn: conn.id, xid, type, err: e.message }, 'malformed request');
      if (WRITE_OPS.has(type)) this.submitWrite(conn, xid, type, null, receivedAt, frame.subarray(8));
      else this.pendingFor(conn, xid, type, () => this.frame(xid, Err.MARSHALLINGERROR), receivedAt);
      conn.pump();
      return;
    }
    conn.lastCxid = xid;
    conn.lastOp = opName(type);
    switch (req.type) {
      case OpCode.auth:
        this.authenticate(conn, xid, req.scheme, req.auth);
        return;
      case OpCode.sasl:
        // No SASL server is configured: ZooKeeper answers with an empty token and carries on.
        conn.send(this.frameWithZxid(xid, 0, Err.OK, (w) => w.buffer(null)));
        return;
      case OpCode.sync: {
        const path = req.path;
        const pending = this.pendingFor(conn, xid, type, null, receivedAt);
        this.awaiting.expect(conn.sessionId, xid, {
          conn,
          done: () => {
            pending.reply = this.frame(xid, Err.OK, (w) => w.ustring(path));
          },
        });
        this.writePath.sync(conn.sessionId, xid);
        return;
      }
      case OpCode.closeSession:
        if (this.readOnly) this.closeReadOnlySession(conn, xid, receivedAt);
        else this.submitWrite(conn, xid, req.type, req, receivedAt, frame.subarray(8));
        return;
      default:
        if (WRITE_OPS.has(req.type))
          this.submitWrite(conn, xid, req.type, req, receivedAt, frame.subarray(8));
        else {
          const q = req;
          this.pendingFor(conn, xid, type, () => this.read(conn, xid, q), receivedAt);
          conn.pump();
        }
    }
  }

  private pendingFor(
    conn: ClientConnection,
    xid: number,
    type: number,
    run: (() => Buffer) | null,
    receivedAt: number,
  ): Pending {
    const p: Pending = { xid, type, run, reply: null, closeAfter: false, receivedAt };
    conn.enqueue(p);
    return p;
  }

  /** Read-only mode: the session is this server's alone, so it ends here, in request order. */
  private closeReadOnlySession(conn: ClientConnection, xid: number, receivedAt: number): void {
    const id = conn.sessionId;
    const close = () => {
      this.sessions.remove(id);
      return this.frame(xid, Err.OK);
    };
    this.pendingFor(conn, xid, OpCode.closeSession, close, receivedAt).closeAfter = true;
    conn.pump();
  }

  onSent(conn: ClientConnection, p: Pending): void {
    this.stats.sent++;
    conn.lastZxid = this.tree.lastProcessedZxid;
    const ms = Date.now() - p.receivedAt;
    conn.stats.record(ms);
    this.stats.record(ms);
  }

  private authenticate(conn: ClientConnection, xid: number, scheme: string, auth: Buffer): void {
    const provider = providerFor(scheme);
    const ids = provider?.authenticate(auth, conn.remoteAddress, this.settings.auth) ?? null;
    if (ids === null) {
      this.stats.authFailed++;
      log.warn({ conn: conn.id, scheme }, 'authentication failed; closing connection');
      conn.send(this.frameWithZxid(xid, 0, Err.AUTHFAILED));
      conn.closeAfterFlush('auth failed');
      return;
    }
    conn.addIds(ids);
    conn.send(this.frameWithZxid(xid, 0, Err.OK));
  }

  private frameWithZxid(xid: number, zxid: number, err: number, body?: (w: JuteWriter) => void): Buffer {
    const w = this.writer;
    w.reset();
    const mark = w.beginFrame();
    w.int(xid).long(zxid).int(err);
    body?.(w);
    w.endFrame(mark);
    return w.toBuffer();
  }

  // ---- writes -----------------------------------------------------------------------------

  /** Hands a write to the write path; a null request (malformed) becomes a MARSHALLINGERROR txn. */
  private submitWrite(
    conn: ClientConnection,
    xid: number,
    opType: number,
    req: Request | null,
    receivedAt: number,
    body: Buffer,
  ): void {
    const pending = this.pendingFor(conn, xid, opType, null, receivedAt);
    if (opType === OpCode.closeSession) pending.closeAfter = true;
    this.awaiting.expect(conn.sessionId, xid, {
      conn,
      done: (rc) => {
        pending.reply = this.writeReply(xid, opType, rc!);
      },
    });
    this.writePath.write({ sessionId: conn.sessionId, cxid: xid, type: opType, req, ids: conn.ids, body });
  }

  /** Applies a committed txn and answers the client waiting for it, if it is connected here. */
  commit(header: TxnHeader, txn: Txn): void {
    const waiting = this.awaiting.take(header.clientId, header.cxid);
    // Reads queued on this connection before the write must not see it.
    waiting?.conn.pump();
    const rc = this.tree.applyTxn(header, txn);
    this.view.applied(header.zxid);
    if (header.type === OpCode.createSession && txn.type === OpCode.createSession) {
      this.sessions.add(header.clientId, txn.timeOut, Date.now());
    } else if (header.type === OpCode.closeSession) {
      this.sessions.remove(header.clientId);
      const c = this.bySession.get(header.clientId);
      if (c && c !== waiting?.conn) c.closeAfterFlush('session closed');
    }
    this.onApplied(header);
    if (waiting) this.answer(waiting, rc);
  }

  /** A reply that cannot be built is that client's problem: its connection closes, the server goes on. */
  private answer(waiting: Awaiting, rc: ApplyResult | null): void {
    try {
      waiting.done(rc);
    } catch (err) {
      log.error(
        { conn: waiting.conn.id, err: (err as Error).message },
        'cannot build a reply; closing connection',
      );
      waiting.conn.close('reply failed');
      return;
    }
    waiting.conn.pump();
  }

  synced(sessionId: bigint, cxid: number): void {
    const waiting = this.awaiting.take(sessionId, cxid);
    if (waiting) this.answer(waiting, null);
  }

  private writeReply(xid: number, type: number, rc: ApplyResult): Buffer {
    if (rc.type === OpCode.error) return this.frame(xid, rc.err);
    switch (type) {
      case OpCode.create:
        return this.frame(xid, rc.err, (w) => w.ustring(rc.path));
      case OpCode.create2:
      case OpCode.createTTL:
      case OpCode.createContainer:
        return this.frame(xid, rc.err, (w) => {
          w.ustring(rc.path);
          writeStat(w, rc.stat!);
        });
      case OpCode.setData:
      case OpCode.setACL:
        return rc.stat ? this.statFrame(xid, rc.stat) : this.frame(xid, rc.err);
      case OpCode.multi:
        return this.frame(xid, Err.OK, (w) => writeMultiResponse(w, rc.multi ?? []));
      case OpCode.reconfig: {
        // GetDataResponse: the config now in /zookeeper/config and its stat.
        const node = this.tree.slotOf(rc.path);
        if (node === NO_NODE || !rc.stat) return this.frame(xid, rc.err);
        return this.frame(xid, rc.err, (w) => {
          w.buffer(this.tree.fields.data(node));
          writeStat(w, rc.stat!);
        });
      }
      default:
        return this.frame(xid, rc.err);
    }
  }

  // ---- reads ------------------------------------------------------------------------------

  private read(conn: ClientConnection, xid: number, req: Request): Buffer {
    try {
      return this.readOrThrow(conn, xid, req);
    } catch (e) {
      if (!(e instanceof KeeperError)) throw e;
      return this.frame(xid, e.code);
    }
  }

  /** The node's slot in the tree. */
  private node(path: string): number {
    const n = this.tree.slotOf(path);
    if (n === NO_NODE) throw new KeeperError(Err.NONODE, path);
    return n;
  }

  private checkRead(conn: ClientConnection, n: number, perm: number = Perms.READ): void {
    checkACL(this.tree.aclOf(n), perm, conn.ids, this.settings.auth);
  }

  private readOrThrow(conn: ClientConnection, xid: number, req: Request): Buffer {
    switch (req.type) {
      case OpCode.ping:
        return this.frame(Xid.ping, Err.OK);
      case OpCode.exists: {
        if (req.path.includes('\0')) throw new KeeperError(Err.BADARGUMENTS);
        const n = this.tree.slotOf(req.path);
        if (n !== NO_NODE) this.checkRead(conn, n);
        if (req.watch) this.watches.addData(req.path, conn);
        if (n === NO_NODE) throw new KeeperError(Err.NONODE);
        return this.statFrame(xid, this.tree.statOf(n));
      }
      case OpCode.getData: {
        const n = this.node(req.path);
        this.checkRead(conn, n);
        if (req.watch) this.watches.addData(req.path, conn);
        return this.frame(xid, Err.OK, (w) => {
          w.buffer(this.tree.fields.data(n));
          writeStat(w, this.tree.statOf(n));
        });
      }
      case OpCode.getChildren:
      case OpCode.getChildren2: {
        const n = this.node(req.path);
        this.checkRead(conn, n);
        if (req.watch) this.watches.addChild(req.path, conn);
        const withStat = req.type === OpCode.getChildren2;
        return this.frame(xid, Err.OK, (w) => {
          const children = this.tree.fields.children(n);
          w.int(children.size);
          for (const c of children) w.ustring(c);
          if (withStat) writeStat(w, this.tree.statOf(n));
        });
      }
      case OpCode.getACL: {
        const n = this.node(req.path);
        this.checkRead(conn, n, Perms.READ | Perms.ADMIN);
        let acl: readonly ACL[] = this.tree.aclOf(n);
        if (!permitted(acl, Perms.ADMIN, conn.ids, this.settings.auth)) {
          acl = acl.map((a) =>
            a.id.scheme === 'digest'
              ? { perms: a.perms, id: { scheme: 'digest', id: a.id.id.replace(/:.*/s, ':x') } }
              : a,
          );
        }
        return this.frame(xid, Err.OK, (w) => {
          writeAclList(w, acl);
          writeStat(w, this.tree.statOf(n));
        });
      }
      case OpCode.getAllChildrenNumber: {
        const n = this.node(req.path);
        this.checkRead(conn, n);
        const count = this.tree.countDescendants(req.path);
        return this.frame(xid, Err.OK, (w) => w.int(count));
      }
      case OpCode.getEphemerals: {
        const prefix = req.prefixPath;
        const all = [...(this.tree.ephemerals.get(conn.sessionId) ?? [])];
        const list =
          prefix.trim() === '' || prefix.trim() === '/' ? all : all.filter((p) => p.startsWith(prefix));
        return this.frame(xid, Err.OK, (w) => w.vector(list, (x, s) => x.ustring(s)));
      }
      case OpCode.multiRead: {
        const results: OpResult[] = req.ops.map((op) => this.readOp(conn, op));
        return this.frame(xid, Err.OK, (w) => writeMultiResponse(w, results));
      }
      case OpCode.checkWatches:
      case OpCode.removeWatches: {
        if (!Object.values(WatcherType).includes(req.watcherType as 1))
          throw new KeeperError(Err.MARSHALLINGERROR);
        const found = this.watches.matchWatch(
          req.path,
          conn,
          req.watcherType,
          req.type === OpCode.removeWatches,
        );
        if (!found) throw new KeeperError(Err.NOWATCHER);
        return this.frame(xid, Err.OK);
      }
      case OpCode.addWatch: {
        if (req.mode !== 0 && req.mode !== 1) throw new KeeperError(Err.MARSHALLINGERROR);
        this.watches.addPersistent(req.path, conn, req.mode === 1);
        return this.frame(xid, Err.OK, (w) => w.int(0));
      }
      case OpCode.whoAmI:
        return this.frame(xid, Err.OK, (w) =>
          w.vector(conn.ids, (x, id) => {
            x.ustring(id.scheme).ustring(userName(id));
          }),
        );
      case OpCode.setWatches:
      case OpCode.setWatches2:
        this.setWatches(conn, req);
        // The request's own xid, as ZooKeeper answers (FinalRequestProcessor): the Java client
        // sends -8, node-zookeeper-client its next xid, and both match replies on it.
        return this.frame(xid, Err.OK);
      default:
        throw new KeeperError(Err.UNIMPLEMENTED);
    }
  }

  private readOp(conn: ClientConnection, op: Request): OpResult {
    try {
      if (op.type === OpCode.getData) {
        // ZooKeeper drops the watch flags of multiRead ops when it parses them.
        const n = this.node(op.path);
        this.checkRead(conn, n);
        return { type: 4, data: this.tree.fields.data(n), stat: this.tree.statOf(n) };
      }
      if (op.type === OpCode.getChildren) {
        const n = this.node(op.path);
        this.checkRead(conn, n);
        return { type: 8, children: [...this.tree.fields.children(n)] };
      }
      throw new KeeperError(Err.BADARGUMENTS);
    } catch (e) {
      if (!(e instanceof KeeperError)) throw e;
      return { type: -1, err: e.code };
    }
  }

  private setWatches(conn: ClientConnection, req: Extract<Request, { type: 101 | 105 }>): void {
    const rel = req.relativeZxid;
    for (const path of req.data) {
      const n = this.tree.slotOf(path);
      if (n === NO_NODE) this.sendEvent(conn, 2, path, -1);
      else if (this.tree.fields.mzxid(n) > rel) this.sendEvent(conn, 3, path, -1);
      else this.watches.addData(path, conn);
    }
    for (const path of req.exist) {
      if (this.tree.slotOf(path) !== NO_NODE) this.sendEvent(conn, 1, path, -1);
      else this.watches.addData(path, conn);
    }
    for (const path of req.child) {
      const n = this.tree.slotOf(path);
      if (n === NO_NODE) this.sendEvent(conn, 2, path, -1);
      else if (this.tree.fields.pzxid(n) > rel) this.sendEvent(conn, 4, path, -1);
      else this.watches.addChild(path, conn);
    }
    for (const path of req.persistent) this.watches.addPersistent(path, conn, false);
    for (const path of req.persistentRecursive) this.watches.addPersistent(path, conn, true);
  }

  // ---- watches ----------------------------------------------------------------------------

  private fire(path: string, type: number, zxid: number, acl: readonly ACL[]): void {
    const watchers = this.watches.trigger(path, type);
    for (const conn of watchers) {
      if (!permitted(acl, Perms.READ, conn.ids, this.settings.auth)) continue;
      this.sendEvent(conn, type, path, zxid);
    }
  }

  private sendEvent(conn: ClientConnection, type: number, path: string, zxid: number): void {
    const w = this.writer;
    w.reset();
    const mark = w.beginFrame();
    w.int(Xid.notification).long(zxid).int(Err.OK);
    writeWatcherEvent(w, { type, state: KeeperState.SyncConnected, path });
    w.endFrame(mark);
    conn.send(w.toBuffer());
  }

  // ---- background work ----------------------------------------------------------------------

  private expireSessions(): void {
    if (this.readOnly) {
      // Its own sessions: nothing to log, and nothing of theirs in the tree.
      for (const id of this.sessions.expire(Date.now())) {
        log.info({ session: hex(id) }, 'read-only session expired');
        this.sessions.remove(id);
        this.bySession.get(id)?.close('session expired');
      }
      return;
    }
    if (!this.writePath.authoritative) return;
    for (const id of this.sessions.expire(Date.now())) {
      log.info({ session: hex(id) }, 'session expired');
      this.writePath.write({
        sessionId: id,
        cxid: 0,
        type: OpCode.closeSession,
        req: { type: OpCode.closeSession },
        ids: [],
        internal: true,
      });
    }
  }

  /** Deletes empty containers that have had children, and expired empty TTL nodes (ContainerManager). */
  checkContainers(): void {
    if (!this.writePath.authoritative) return;
    const now = Date.now();
    const candidates: string[] = [];
    for (const path of this.tree.containers) {
      const n = this.tree.slotOf(path);
      if (n === NO_NODE || this.tree.fields.childCount(n) > 0) continue;
      const neverUsed = this.settings.containerMaxNeverUsedIntervalMs;
      if (this.tree.fields.cversion(n) > 0 || (neverUsed > 0 && now - this.tree.fields.mtime(n) > neverUsed))
        candidates.push(path);
    }
    for (const path of this.tree.ttls) {
      const n = this.tree.slotOf(path);
      if (n === NO_NODE || this.tree.fields.childCount(n) > 0) continue;
      const ttl = Number(this.tree.fields.owner(n) & 0xffffffffffn);
      if (now - this.tree.fields.mtime(n) > ttl) candidates.push(path);
    }
    for (const path of candidates.slice(0, this.settings.containerMaxPerMinute)) {
      this.writePath.write({
        sessionId: 0n,
        cxid: 0,
        type: OpCode.deleteContainer,
        req: { type: OpCode.deleteContainer, path },
        ids: [],
        internal: true,
      });
    }
  }

  // ---- four-letter words ------------------------------------------------------------------

  /** Four-letter words: the whitelist and the replies live in peer/admin (four-letter.ts). */
  onFourLetterWord(conn: ClientConnection, word: string): void {
    conn.send(Buffer.from(this.fourLetterWord(word), 'utf8'));
    conn.closeAfterFlush('four-letter word');
  }
}

/** Client opcodes that go through the txn log. */
const WRITE_OPS = new Set<number>([
  OpCode.create,
  OpCode.create2,
  OpCode.createTTL,
  OpCode.createContainer,
  OpCode.delete,
  OpCode.deleteContainer,
  OpCode.setData,
  OpCode.setACL,
  OpCode.multi,
  OpCode.reconfig,
  OpCode.closeSession,
  OpCode.createSession,
]);

/** Refused with NOTREADONLY in read-only mode (ReadOnlyRequestProcessor's list, createSession too). */
const REFUSED_WHEN_READ_ONLY = new Set<number>([
  ...[...WRITE_OPS].filter((op) => op !== OpCode.closeSession),
  OpCode.sync,
]);

/** Opcodes a client may send (ZooKeeper's Request.isValid); anything else is UNIMPLEMENTED. */
const VALID_OPS = new Set<number>([
  ...WRITE_OPS,
  OpCode.exists,
  OpCode.getACL,
  OpCode.getChildren,
  OpCode.getAllChildrenNumber,
  OpCode.getChildren2,
  OpCode.getData,
  OpCode.getEphemerals,
  OpCode.multiRead,
  OpCode.ping,
  OpCode.setWatches,
  OpCode.setWatches2,
  OpCode.sync,
  OpCode.checkWatches,
  OpCode.removeWatches,
  OpCode.addWatch,
  OpCode.whoAmI,
  OpCode.auth,
  OpCode.sasl,
]);

const OP_NAMES: Record<number, string> = {
  [OpCode.create]: 'CREA',
  [OpCode.create2]: 'CREA',
  [OpCode.createTTL]: 'CREA',
  [OpCode.createContainer]: 'CREA',
  [OpCode.delete]: 'DELE',
  [OpCode.exists]: 'EXIS',
  [OpCode.getData]: 'GETD',
  [OpCode.setData]: 'SETD',
  [OpCode.getACL]: 'GACL',
  [OpCode.setACL]: 'SACL',
  [OpCode.getChildren]: 'GETC',
  [OpCode.getChildren2]: 'GETC',
  [OpCode.sync]: 'SYNC',
  [OpCode.ping]: 'PING',
  [OpCode.multi]: 'MULT',
  [OpCode.multiRead]: 'MLTR',
  [OpCode.closeSession]: 'CLOS',
  [OpCode.setWatches]: 'SETW',
  [OpCode.setWatches2]: 'STW2',
  [OpCode.addWatch]: 'ADDW',
  [OpCode.whoAmI]: 'HOMI',
};

function opName(type: number): string {
  return OP_NAMES[type] ?? 'NA';
}

/** Unsigned hex with 0x, as ZooKeeper prints session ids and zxids (also in four-letter words). */
export function hex(v: bigint | number): string {
  return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
}
