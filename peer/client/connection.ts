// A raw, promise-based ZooKeeper client over node:net, for tests, fuzzing and benchmarks. It speaks
// the wire protocol byte for byte and hides nothing: the caller chooses xids, sessions, passwords and
// the readOnly byte, may pipeline any number of requests, and may write arbitrary bytes. ZooKeeper
// errors are results ({err}), never exceptions; only a lost connection rejects.
//
// Replies to normal requests arrive in request order (ZooKeeper guarantees it), so pending requests
// sit in a FIFO; ping (-2) and auth (-4) replies may overtake, so they have FIFOs of their own. One
// data handler reassembles frames; no timers run per request.

import net from 'node:net';
import { JuteReader, JuteWriter } from '../jute/archive.ts';
import {
  type ACL,
  type ConnectRequest,
  type ConnectResponse,
  type OpResult,
  type Request,
  readConnectResponse,
  readWatcherEvent,
  type Stat,
  type WatcherEvent,
  writeConnectRequest,
  writeRequest,
} from '../jute/records.ts';
import { corkUntilEndOfTurn } from '../net/cork.ts';
import { OpCode, Xid } from '../protocol/constants.ts';
import { type ResponseBody, readResponse } from './responses.ts';

export type { ClientInfo, ResponseBody } from './responses.ts';

export const OPEN_ACL_UNSAFE: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
export const READ_ACL_UNSAFE: ACL[] = [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }];
export const CREATOR_ALL_ACL: ACL[] = [{ perms: 31, id: { scheme: 'auth', id: '' } }];

export interface ReplyHeader {
  xid: number;
  zxid: number;
  err: number;
}

export interface Reply {
  header: ReplyHeader;
  /** The bytes after the ReplyHeader (a view into the frame). */
  body: Buffer;
}

export interface Notification {
  /** The zxid of the ReplyHeader that carried the event (-1 on ZooKeeper 3.8). */
  zxid: number;
  event: WatcherEvent;
}

/** What typed helpers return: the reply header's err and zxid, plus the decoded body on success. */
export type Result = { err: number; zxid: number } & ResponseBody;

export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
}

export interface SocketOptions {
  host?: string;
  port: number;
  /** Bounds the TCP connect plus the handshake. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Frames longer than this close the connection as a protocol error. Default 64 MiB. */
  maxFrame?: number;
}

export interface ConnectOptions extends SocketOptions {
  protocolVersion?: number;
  lastZxidSeen?: number;
  timeOut?: number;
  /** 0n (the default) asks for a new session. */
  sessionId?: bigint;
  /** Default 16 zero bytes. */
  passwd?: Buffer;
  /** The optional trailing byte; undefined omits it. Default false. */
  readOnly?: boolean | undefined;
}

export interface SetWatchesArgs {
  relativeZxid: number;
  data?: string[];
  exist?: string[];
  child?: string[];
  persistent?: string[];
  persistentRecursive?: string[];
}

interface Pending {
  xid: number;
  type: number;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

const MAX_XID = 0x7fffffff;

export class ZkConnection {
  readonly socket: net.Socket;
  /** The ConnectResponse, once the handshake is done. */
  session: ConnectResponse | undefined;
  /** Highest reply-header zxid seen (notifications excluded). */
  lastZxid = 0;
  /** Watch notifications not yet taken. */
  readonly notifications: Notification[] = [];
  /** Replies whose xid matched no pending request. */
  readonly strays: Reply[] = [];
  /** Replies to ordered requests that overtook an earlier ordered request. */
  outOfOrder = 0;
  /** Set when the connection is gone; `closed` resolves then. */
  isClosed = false;
  closeError: Error | undefined;
  readonly closed: Promise<void>;
  /** Called for each notification instead of queueing it, when set. */
  onNotification: ((n: Notification) => void) | undefined;

  private nextXid = 1;
  private readonly maxFrame: number;
  private readonly writer = new JuteWriter(512);
  private ordered: Pending[] = [];
  private orderedHead = 0;
  private readonly unordered = new Map<number, Pending[]>();
  private handshakeWaiter: { resolve: (c: ConnectResponse) => void; reject: (e: Error) => void } | undefined;
  private notificationWaiters: Array<(n: Notification | undefined) => void> = [];
  private chunks: Buffer[] = [];
  private chunkLen = 0;
  private need = 0;
  private resolveClosed!: () => void;

  private constructor(socket: net.Socket, maxFrame: number) {
    this.socket = socket;
    this.maxFrame = maxFrame;
    this.closed = new Promise((r) => {
      this.resolveClosed = r;
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => {
      this.closeError ??= e;
    });
    socket.on('close', () => this.onClose());
  }

  /** Opens a TCP connection without sending anything. */
  static open(opts: SocketOptions): Promise<ZkConnection> {
    const socket = net.connect({ host: opts.host ?? '127.0.0.1', port: opts.port });
    const conn = new ZkConnection(socket, opts.maxFrame ?? 64 * 1024 * 1024);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${opts.port} timed out`));
      }, opts.connectTimeoutMs ?? 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(conn);
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** Opens a connection and performs the handshake. The ConnectResponse is in `session`. */
  static async connect(opts: ConnectOptions): Promise<ZkConnection> {
    const conn = await ZkConnection.open(opts);
    try {
      await conn.handshake(
        {
          protocolVersion: opts.protocolVersion ?? 0,
          lastZxidSeen: opts.lastZxidSeen ?? 0,
          timeOut: opts.timeOut ?? 30_000,
          sessionId: opts.sessionId ?? 0n,
          passwd: opts.passwd ?? Buffer.alloc(16),
          readOnly: 'readOnly' in opts ? opts.readOnly : false,
        },
        opts.connectTimeoutMs ?? 10_000,
      );
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return conn;
  }

  get sessionId(): bigint {
    return this.session?.sessionId ?? 0n;
  }

  get passwd(): Buffer {
    return this.session?.passwd ?? Buffer.alloc(16);
  }

  /** Sends a ConnectRequest; resolves with the ConnectResponse (timeOut 0 when refused). */
  handshake(req: ConnectRequest, timeoutMs = 10_000): Promise<ConnectResponse> {
    if (this.isClosed) return Promise.reject(this.closedError());
    const w = this.writer;
    w.reset();
    const mark = w.beginFrame();
    writeConnectRequest(w, req);
    w.endFrame(mark);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.handshakeWaiter = undefined;
        reject(new Error('handshake timed out'));
      }, timeoutMs);
      this.handshakeWaiter = {
        resolve: (c) => {
          clearTimeout(timer);
          this.session = c;
          resolve(c);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.write(w.toBuffer());
    });
  }

  /**
   * Sends RequestHeader(xid, type) + body and resolves with the reply. `body` is a request record
   * (encoded with writeRequest), raw bytes, or nothing. The xid defaults to the next in sequence.
   */
  request(type: number, body?: Request | Uint8Array | null, xid?: number): Promise<Reply> {
    if (this.isClosed) return Promise.reject(this.closedError());
    const id = xid ?? this.allocXid();
    const w = this.writer;
    w.reset();
    const mark = w.beginFrame();
    w.int(id).int(type);
    if (body instanceof Uint8Array) w.raw(body);
    else if (body) writeRequest(w, body);
    w.endFrame(mark);
    const frame = w.toBuffer();
    return new Promise((resolve, reject) => {
      this.enqueue({ xid: id, type, resolve, reject });
      this.write(frame);
    });
  }

  /** Like request, but decodes the reply into a Result. */
  async call(type: number, body?: Request | Uint8Array | null, xid?: number): Promise<Result> {
    const reply = await this.request(type, body, xid);
    return decodeReply(type, reply);
  }

  /** Writes bytes as they are. With `expectXid`, resolves with the reply carrying that xid. */
  sendRaw(bytes: Uint8Array, expectXid?: number, type = -999): Promise<Reply> | undefined {
    if (this.isClosed) return expectXid === undefined ? undefined : Promise.reject(this.closedError());
    const buf = Buffer.from(bytes);
    if (expectXid === undefined) {
      this.write(buf);
      return undefined;
    }
    return new Promise((resolve, reject) => {
      this.enqueue({ xid: expectXid, type, resolve, reject });
      this.write(buf);
    });
  }

  /** Frames a body with its 4-byte length (for sendRaw). */
  static frame(payload: Uint8Array): Buffer {
    const b = Buffer.allocUnsafe(4 + payload.length);
    b.writeInt32BE(payload.length, 0);
    b.set(payload, 4);
    return b;
  }

  // ---- typed helpers ----------------------------------------------------------------------

  ping(): Promise<Result> {
    return this.call(OpCode.ping, null, Xid.ping);
  }

  auth(scheme: string, auth: string | Buffer, authType = 0): Promise<Result> {
    const a = typeof auth === 'string' ? Buffer.from(auth) : auth;
    return this.call(OpCode.auth, { type: 100, authType, scheme, auth: a }, Xid.auth);
  }

  /** SetWatches (101), or SetWatches2 (105) when persistent lists are given or `v2` is set. */
  setWatches(args: SetWatchesArgs, v2?: boolean): Promise<Result> {
    const useV2 = v2 ?? (args.persistent !== undefined || args.persistentRecursive !== undefined);
    const lists = {
      relativeZxid: args.relativeZxid,
      data: args.data ?? [],
      exist: args.exist ?? [],
      child: args.child ?? [],
      persistent: args.persistent ?? [],
      persistentRecursive: args.persistentRecursive ?? [],
    };
    return useV2
      ? this.call(OpCode.setWatches2, { type: 105, ...lists }, Xid.setWatches)
      : this.call(OpCode.setWatches, { type: 101, ...lists }, Xid.setWatches);
  }

  closeSession(): Promise<Result> {
    return this.call(OpCode.closeSession, { type: -11 });
  }

  create(path: string, data: Buffer | string | null = null, acl: ACL[] | null = OPEN_ACL_UNSAFE, flags = 0) {
    return this.call(OpCode.create, { type: 1, path, data: buf(data), acl, flags });
  }

  create2(path: string, data: Buffer | string | null = null, acl: ACL[] | null = OPEN_ACL_UNSAFE, flags = 0) {
    return this.call(OpCode.create2, { type: 15, path, data: buf(data), acl, flags });
  }

  createContainer(
    path: string,
    data: Buffer | string | null = null,
    acl: ACL[] | null = OPEN_ACL_UNSAFE,
    flags = 4,
  ) {
    return this.call(OpCode.createContainer, { type: 19, path, data: buf(data), acl, flags });
  }

  createTTL(path: string, data: Buffer | string | null, acl: ACL[] | null, flags: number, ttl: number) {
    return this.call(OpCode.createTTL, { type: 21, path, data: buf(data), acl, flags, ttl });
  }

  delete(path: string, version = -1) {
    return this.call(OpCode.delete, { type: 2, path, version });
  }

  exists(path: string, watch = false) {
    return this.call(OpCode.exists, { type: 3, path, watch });
  }

  getData(path: string, watch = false) {
    return this.call(OpCode.getData, { type: 4, path, watch });
  }

  setData(path: string, data: Buffer | string | null, version = -1) {
    return this.call(OpCode.setData, { type: 5, path, data: buf(data), version });
  }

  getACL(path: string) {
    return this.call(OpCode.getACL, { type: 6, path });
  }

  setACL(path: string, acl: ACL[] | null, version = -1) {
    return this.call(OpCode.setACL, { type: 7, path, acl, version });
  }

  getChildren(path: string, watch = false) {
    return this.call(OpCode.getChildren, { type: 8, path, watch });
  }

  getChildren2(path: string, watch = false) {
    return this.call(OpCode.getChildren2, { type: 12, path, watch });
  }

  sync(path: string) {
    return this.call(OpCode.sync, { type: 9, path });
  }

  multi(ops: Request[]) {
    return this.call(OpCode.multi, { type: 14, ops });
  }

  multiRead(ops: Request[]) {
    return this.call(OpCode.multiRead, { type: 22, ops });
  }

  addWatch(path: string, mode: number) {
    return this.call(OpCode.addWatch, { type: 106, path, mode });
  }

  removeWatches(path: string, watcherType: number) {
    return this.call(OpCode.removeWatches, { type: 18, path, watcherType });
  }

  checkWatches(path: string, watcherType: number) {
    return this.call(OpCode.checkWatches, { type: 17, path, watcherType });
  }

  getEphemerals(prefixPath: string) {
    return this.call(OpCode.getEphemerals, { type: 103, prefixPath });
  }

  getAllChildrenNumber(path: string) {
    return this.call(OpCode.getAllChildrenNumber, { type: 104, path });
  }

  whoAmI() {
    return this.call(OpCode.whoAmI, { type: 107 });
  }

  // ---- notifications ----------------------------------------------------------------------

  /** Removes and returns every queued notification. */
  takeNotifications(): Notification[] {
    return this.notifications.splice(0);
  }

  /** The next notification; undefined if the connection closes or `timeoutMs` passes first. */
  nextNotification(timeoutMs?: number): Promise<Notification | undefined> {
    const queued = this.notifications.shift();
    if (queued) return Promise.resolve(queued);
    if (this.isClosed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (n: Notification | undefined) => {
        if (timer) clearTimeout(timer);
        resolve(n);
      };
      this.notificationWaiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const i = this.notificationWaiters.indexOf(waiter);
          if (i >= 0) this.notificationWaiters.splice(i, 1);
          resolve(undefined);
        }, timeoutMs);
      }
    });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Notification> {
    for (;;) {
      const n = await this.nextNotification();
      if (!n) return;
      yield n;
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Number of requests awaiting a reply. */
  get inFlight(): number {
    let n = this.ordered.length - this.orderedHead;
    for (const q of this.unordered.values()) n += q.length;
    return n;
  }

  /** Half-closes the socket (FIN) and resolves once it is fully closed. */
  close(): Promise<void> {
    if (!this.isClosed) this.socket.end();
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Waits for the connection to close; resolves false if it is still open after `timeoutMs`. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.isClosed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      void this.closed.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  // ---- internals --------------------------------------------------------------------------

  private allocXid(): number {
    const x = this.nextXid;
    this.nextXid = x >= MAX_XID ? 1 : x + 1;
    return x;
  }

  private enqueue(p: Pending): void {
    if (p.xid === Xid.ping || p.xid === Xid.auth) {
      let q = this.unordered.get(p.xid);
      if (!q) this.unordered.set(p.xid, (q = []));
      q.push(p);
    } else {
      this.ordered.push(p);
    }
  }

  private write(frame: Buffer): void {
    corkUntilEndOfTurn(this.socket);
    this.socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    let buf: Buffer;
    if (this.chunks.length > 0) {
      this.chunks.push(chunk);
      this.chunkLen += chunk.length;
      if (this.chunkLen < this.need) return;
      buf = Buffer.concat(this.chunks, this.chunkLen);
      this.chunks = [];
      this.chunkLen = 0;
    } else {
      buf = chunk;
    }
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readInt32BE(off);
      if (len < 0 || len > this.maxFrame) {
        this.protocolError(new Error(`bad frame length ${len}`));
        return;
      }
      if (buf.length - off - 4 < len) break;
      const frame = buf.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      try {
        this.onFrame(frame);
      } catch (e) {
        this.protocolError(e as Error);
        return;
      }
      if (this.isClosed) return;
    }
    const rest = buf.length - off;
    if (rest > 0) {
      this.chunks = [buf.subarray(off)];
      this.chunkLen = rest;
      this.need = rest >= 4 ? 4 + buf.readInt32BE(off) : 4;
    }
  }

  private onFrame(frame: Buffer): void {
    const waiter = this.handshakeWaiter;
    if (waiter) {
      this.handshakeWaiter = undefined;
      waiter.resolve(readConnectResponse(new JuteReader(frame)));
      return;
    }
    if (frame.length < 16) throw new Error(`reply frame of ${frame.length} bytes`);
    const xid = frame.readInt32BE(0);
    const r = new JuteReader(frame, 4);
    const zxid = r.long();
    const err = frame.readInt32BE(12);
    const body = frame.subarray(16);
    if (xid === Xid.notification) {
      const n: Notification = { zxid, event: readWatcherEvent(new JuteReader(body)) };
      const w = this.notificationWaiters.shift();
      if (w) w(n);
      else if (this.onNotification) this.onNotification(n);
      else this.notifications.push(n);
      return;
    }
    if (zxid > this.lastZxid) this.lastZxid = zxid;
    const reply: Reply = { header: { xid, zxid, err }, body };
    const p = this.takePending(xid);
    if (p) p.resolve(reply);
    else this.strays.push(reply);
  }

  private takePending(xid: number): Pending | undefined {
    const uq = this.unordered.get(xid);
    if (uq && uq.length > 0) return uq.shift();
    const head = this.ordered[this.orderedHead];
    if (head && head.xid === xid) {
      this.orderedHead++;
      if (this.orderedHead === this.ordered.length) {
        this.ordered = [];
        this.orderedHead = 0;
      } else if (this.orderedHead > 1024 && this.orderedHead * 2 > this.ordered.length) {
        this.ordered = this.ordered.slice(this.orderedHead);
        this.orderedHead = 0;
      }
      return head;
    }
    for (let i = this.orderedHead + 1; i < this.ordered.length; i++) {
      const p = this.ordered[i]!;
      if (p.xid === xid) {
        this.outOfOrder++;
        this.ordered.splice(i, 1);
        return p;
      }
    }
    return undefined;
  }

  private protocolError(e: Error): void {
    this.closeError ??= e;
    this.socket.destroy();
  }

  private closedError(): Error {
    const why = this.closeError ? `: ${this.closeError.message}` : '';
    return new ConnectionClosedError(`connection closed${why}`);
  }

  private onClose(): void {
    this.isClosed = true;
    const e = this.closedError();
    if (this.handshakeWaiter) {
      this.handshakeWaiter.reject(e);
      this.handshakeWaiter = undefined;
    }
    const ordered = this.ordered.slice(this.orderedHead);
    this.ordered = [];
    this.orderedHead = 0;
    for (const p of ordered) p.reject(e);
    for (const q of this.unordered.values()) for (const p of q.splice(0)) p.reject(e);
    for (const w of this.notificationWaiters.splice(0)) w(undefined);
    this.resolveClosed();
  }
}

function buf(d: Buffer | string | null): Buffer | null {
  return typeof d === 'string' ? Buffer.from(d) : d;
}

/** Turns a reply into a Result, decoding the body when the request succeeded (a short body throws). */
export function decodeReply(type: number, reply: Reply): Result {
  const { err, zxid } = reply.header;
  if (err !== 0) return { err, zxid };
  return { err, zxid, ...readResponse(type, new JuteReader(reply.body)) };
}

export type { ACL, OpResult, Request, Stat, WatcherEvent };
