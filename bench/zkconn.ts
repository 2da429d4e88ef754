// A lean pipelined ZooKeeper client connection over a raw socket, for the load generator and the
// crash/fuzz tests: connect handshake, then any number of requests in flight, replies matched in
// order by xid. Frames written in one turn of the event loop go out in one socket write.

import net from 'node:net';
import { JuteReader, JuteWriter } from '../peer/jute/archive.ts';
import {
  type Request,
  readConnectResponse,
  writeConnectRequest,
  writeRequest,
} from '../peer/jute/records.ts';
import { Err, OpCode, Xid } from '../peer/protocol/constants.ts';

/** Called once per request: err is the reply's error code, or CONNECTIONLOSS if the socket died. */
export type ReplyCallback = (err: number, body: JuteReader, zxid: number, sentAt: number) => void;

export interface ConnectOptions {
  host: string;
  port: number;
  /** Requested session timeout in ms. */
  sessionTimeout?: number;
  /** Give up on the TCP connect + handshake after this many ms. */
  connectTimeout?: number;
  /** Send pings when idle (default true). */
  ping?: boolean;
  /** Re-attach to this session (after a connection loss) instead of creating one. */
  session?: { id: bigint; passwd: Buffer };
  /** The highest zxid this client has seen: a server behind it refuses the handshake. */
  lastZxidSeen?: number;
}

/** The server answered the handshake with a zero timeout: the session has expired (or was refused). */
export class SessionExpiredError extends Error {
  readonly expired = true;
}

export interface CallResult {
  err: number;
  zxid: number;
  body: JuteReader;
}

const EMPTY = Buffer.alloc(0);

/** Encodes a request record once so that the load generator can send it again and again. */
export function encodeBody(q: Request): Buffer {
  const w = new JuteWriter(64);
  writeRequest(w, q);
  return w.toBuffer();
}

/** A FIFO of pending requests, kept in parallel arrays that grow but are never shifted. */
class Pending {
  private xids: number[] = [];
  private cbs: ReplyCallback[] = [];
  private times: number[] = [];
  private head = 0;

  get size(): number {
    return this.xids.length - this.head;
  }

  push(xid: number, cb: ReplyCallback, t: number): void {
    this.xids.push(xid);
    this.cbs.push(cb);
    this.times.push(t);
  }

  peekXid(): number | undefined {
    return this.xids[this.head];
  }

  shift(): [ReplyCallback, number] {
    const cb = this.cbs[this.head]!;
    const t = this.times[this.head]!;
    this.head++;
    if (this.head > 4096 && this.head * 2 > this.xids.length) {
      this.xids = this.xids.slice(this.head);
      this.cbs = this.cbs.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return [cb, t];
  }
}

export class ZkConnection {
  sessionId = 0n;
  passwd: Buffer = Buffer.alloc(16);
  negotiatedTimeout = 0;
  /** The highest zxid in any reply so far (what a reconnect hands the next server). */
  lastZxid = 0;
  /** Why the connection closed, once it has. */
  closedReason: string | null = null;
  /** Set when a reply arrived whose xid did not match the oldest request in flight. */
  protocolError: string | null = null;
  onWatch: ((type: number, state: number, path: string) => void) | null = null;

  private readonly sock: net.Socket;
  private readonly pending = new Pending();
  private readonly out = new JuteWriter(64 * 1024);
  private flushQueued = false;
  private nextXid = 1;
  private inbuf: Buffer = EMPTY;
  private lastSend = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly closeWaiters: Array<() => void> = [];

  private constructor(sock: net.Socket) {
    this.sock = sock;
  }

  /** Opens a TCP connection and establishes a new session. */
  static connect(opts: ConnectOptions): Promise<ZkConnection> {
    const timeout = opts.sessionTimeout ?? 30_000;
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: opts.host, port: opts.port, noDelay: true });
      const conn = new ZkConnection(sock);
      let buf: Buffer = EMPTY;
      const fail = (e: Error) => {
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new Error(`connect to ${opts.host}:${opts.port} timed out`)),
        opts.connectTimeout ?? 10_000,
      );
      const onData = (chunk: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        if (buf.length < 4) return;
        const len = buf.readInt32BE(0);
        if (len < 0 || len > 0x100000) return fail(new Error(`bad ConnectResponse length ${len}`));
        if (buf.length < 4 + len) return;
        sock.off('data', onData);
        sock.off('error', fail);
        sock.off('close', onEarlyClose);
        clearTimeout(timer);
        let resp: ReturnType<typeof readConnectResponse>;
        try {
          resp = readConnectResponse(new JuteReader(buf, 4, 4 + len));
        } catch (e) {
          return fail(e as Error);
        }
        if (resp.timeOut <= 0)
          return fail(new SessionExpiredError('session refused (ConnectResponse timeOut 0)'));
        conn.sessionId = resp.sessionId;
        conn.passwd = resp.passwd;
        conn.lastZxid = opts.lastZxidSeen ?? 0;
        conn.negotiatedTimeout = resp.timeOut;
        conn.attach(buf.subarray(4 + len), opts.ping ?? true);
        resolve(conn);
      };
      const onEarlyClose = () => fail(new Error('connection closed during handshake'));
      sock.on('data', onData);
      sock.on('error', fail);
      sock.on('close', onEarlyClose);
      sock.on('connect', () => {
        const w = new JuteWriter(64);
        const mark = w.beginFrame();
        writeConnectRequest(w, {
          protocolVersion: 0,
          lastZxidSeen: opts.lastZxidSeen ?? 0,
          timeOut: timeout,
          sessionId: opts.session?.id ?? 0n,
          passwd: opts.session?.passwd ?? Buffer.alloc(16),
          readOnly: false,
        });
        w.endFrame(mark);
        sock.write(w.toBuffer());
      });
    });
  }

  /**
   * connect, retried until withinMs has passed: a server may answer ruok before it accepts
   * sessions (ZooKeeper closes handshakes while it is still loading its database).
   */
  static async connectRetry(opts: ConnectOptions, withinMs = 15_000): Promise<ZkConnection> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        return await ZkConnection.connect(opts);
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private attach(rest: Buffer, ping: boolean): void {
    this.sock.on('data', (c: Buffer) => this.onData(c));
    this.sock.on('error', (e) => this.shutdown(`socket error: ${e.message}`));
    this.sock.on('close', () => this.shutdown('socket closed'));
    this.lastSend = performance.now();
    if (ping) {
      const every = Math.max(200, Math.floor(this.negotiatedTimeout / 3));
      this.pingTimer = setInterval(() => {
        if (performance.now() - this.lastSend >= every) this.sendPing();
      }, every);
      this.pingTimer.unref();
    }
    if (rest.length) this.onData(rest);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** Sends a request whose record is already encoded (null: no body). */
  send(type: number, body: Buffer | null, cb: ReplyCallback): void {
    const now = performance.now();
    if (this.closedReason !== null) {
      cb(Err.CONNECTIONLOSS, new JuteReader(EMPTY), 0, now);
      return;
    }
    const xid = this.nextXid;
    this.nextXid = xid === 0x7fffffff ? 1 : xid + 1;
    const w = this.out;
    w.int(body ? 8 + body.length : 8)
      .int(xid)
      .int(type);
    if (body) w.raw(body);
    this.pending.push(xid, cb, now);
    this.lastSend = now;
    this.scheduleFlush();
  }

  /** Promise form of send, for tests and setup. */
  call(q: Request): Promise<CallResult> {
    const body = encodeBody(q);
    return new Promise((resolve) => {
      this.send(q.type, body.length ? body : null, (err, r, zxid) => resolve({ err, zxid, body: r }));
    });
  }

  /** Writes raw bytes as they are (fuzzing). */
  writeRaw(b: Buffer): void {
    this.flush();
    if (!this.sock.destroyed) this.sock.write(b);
  }

  private sendPing(): void {
    if (this.closedReason !== null) return;
    this.out.int(8).int(Xid.ping).int(OpCode.ping);
    this.lastSend = performance.now();
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.out.length === 0) return;
    const b = this.out.toBuffer();
    this.out.reset();
    if (!this.sock.destroyed) this.sock.write(b);
  }

  private onData(chunk: Buffer): void {
    const buf = this.inbuf.length ? Buffer.concat([this.inbuf, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readInt32BE(off);
      if (len < 16 || len > 0x7fffffff) {
        this.fatal(`bad reply frame length ${len}`);
        return;
      }
      if (buf.length - off - 4 < len) break;
      const start = off + 4;
      const end = start + len;
      off = end;
      const xid = buf.readInt32BE(start);
      const zxid = buf.readInt32BE(start + 4) * 0x1_0000_0000 + buf.readUInt32BE(start + 8);
      const err = buf.readInt32BE(start + 12);
      if (zxid > this.lastZxid) this.lastZxid = zxid;
      if (xid === Xid.notification) {
        if (this.onWatch) {
          try {
            const r = new JuteReader(buf, start + 16, end);
            this.onWatch(r.int(), r.int(), r.ustring() ?? '');
          } catch {
            this.fatal('malformed watch event');
            return;
          }
        }
        continue;
      }
      if (xid === Xid.ping || xid === Xid.auth) continue;
      const expect = this.pending.peekXid();
      if (expect !== xid) {
        this.protocolError = `reply xid ${xid} but oldest request in flight has xid ${expect ?? 'none'}`;
        this.fatal(this.protocolError);
        return;
      }
      const [cb, t] = this.pending.shift();
      cb(err, new JuteReader(buf, start + 16, end), zxid, t);
      if (this.closedReason !== null) return;
    }
    this.inbuf = off === buf.length ? EMPTY : buf.subarray(off);
  }

  private fatal(reason: string): void {
    this.sock.destroy();
    this.shutdown(reason);
  }

  private shutdown(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.sock.destroy();
    const empty = new JuteReader(EMPTY);
    while (this.pending.size > 0) {
      const [cb, t] = this.pending.shift();
      cb(Err.CONNECTIONLOSS, empty, 0, t);
    }
    for (const w of this.closeWaiters.splice(0)) w();
  }

  /** Resolves when the connection has closed, for whatever reason. */
  waitClosed(): Promise<void> {
    if (this.closedReason !== null) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }

  /** Ends the session with closeSession (bounded wait), then closes the socket. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closedReason !== null) return;
    const t = setTimeout(() => this.shutdown('close timed out'), timeoutMs);
    await new Promise<void>((resolve) => this.send(OpCode.closeSession, null, () => resolve()));
    clearTimeout(t);
    this.shutdown('closed by client');
  }

  /** Drops the connection without ending the session. */
  destroy(): void {
    this.shutdown('destroyed by client');
  }
}
