// One client TCP connection: splits the byte stream into frames, recognises four-letter words,
// keeps the connection's requests in order, and batches replies into few socket writes.

import type net from 'node:net';
import type { Id } from '../jute/records.ts';
import { corkUntilEndOfTurn } from '../net/cork.ts';
import { FOUR_LETTER_WORDS } from '../protocol/constants.ts';
import { javaSetOrder, remoteIp } from './auth.ts';
import { RequestStats } from './stats.ts';

/** A request waiting for its turn (reads) or its commit (writes) on this connection. */
export interface Pending {
  xid: number;
  type: number;
  /** Executes a read at the head of the queue and returns its reply frame. */
  run: (() => Buffer) | null;
  /** The reply of a write, set when its txn is applied. */
  reply: Buffer | null;
  /** Close the connection after sending this reply. */
  closeAfter: boolean;
  receivedAt: number;
}

export interface ConnectionHost {
  readonly maxBuffer: number;
  onConnectRequest(conn: ClientConnection, frame: Buffer): void;
  onRequest(conn: ClientConnection, frame: Buffer): void;
  onFourLetterWord(conn: ClientConnection, word: string): void;
  onClosed(conn: ClientConnection, reason: string): void;
  onSent(conn: ClientConnection, p: Pending): void;
}

const FOUR_LETTER = new Map<number, string>(
  FOUR_LETTER_WORDS.map((w) => [Buffer.from(w, 'ascii').readInt32BE(0), w] as const),
);
const TELNET_CLOSE = 0xfff4fffd | 0;

/** Stop reading from a client with this many requests queued, until half have been answered. */
const MAX_QUEUED = 1000;
/** Stop reading from a client that does not read its replies. */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;

let nextConnectionId = 1;

export class ClientConnection {
  readonly id = nextConnectionId++;
  readonly socket: net.Socket;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly host: ConnectionHost;
  readonly established = Date.now();
  /** Set once a session is attached. */
  sessionId = 0n;
  sessionTimeout = 0;
  /** Authenticated ids in the order ZooKeeper would iterate them; starts with ip:<address>. */
  ids: Id[];
  /** The same ids in the order they were added. */
  private readonly addedIds: Id[];
  /** 'new' until ConnectRequest, 'waiting' while the session is being created, then 'open'. */
  state: 'new' | 'waiting' | 'open' | 'closed' = 'new';
  readonly queue: Pending[] = [];
  private head = 0;
  private unread: Buffer[] = [];
  private unreadBytes = 0;
  /** Bytes needed before the next frame can be parsed. */
  private need = 4;
  private pausedForQueue = false;
  private pausedForWrites = false;
  readonly stats = new RequestStats();
  private framesReceived = 0;
  lastZxid = -1;
  lastCxid = -1;
  lastOp = 'NA';

  constructor(socket: net.Socket, host: ConnectionHost) {
    this.socket = socket;
    this.host = host;
    this.remoteAddress = remoteIp(socket.remoteAddress);
    this.remotePort = socket.remotePort ?? 0;
    this.addedIds = [{ scheme: 'ip', id: this.remoteAddress }];
    this.ids = this.addedIds.slice();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.close(`socket error: ${e.message}`));
    socket.on('close', () => this.close('closed by peer'));
    socket.on('drain', () => {
      if (this.pausedForWrites) {
        this.pausedForWrites = false;
        this.resumeIfAllowed();
      }
    });
  }

  addIds(ids: readonly Id[]): void {
    for (const id of ids) {
      if (!this.addedIds.some((x) => x.scheme === id.scheme && x.id === id.id)) this.addedIds.push(id);
    }
    this.ids = javaSetOrder(this.addedIds);
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  private onData(chunk: Buffer): void {
    this.unread.push(chunk);
    this.unreadBytes += chunk.length;
    // A large frame arrives in many chunks: gather them and join once, not once per chunk.
    if (this.unreadBytes >= this.need && this.state !== 'waiting') this.parse();
  }

  private parse(): void {
    const buf = this.unread.length === 1 ? this.unread[0]! : Buffer.concat(this.unread, this.unreadBytes);
    this.unread = [];
    this.unreadBytes = 0;
    this.need = 4;
    let off = 0;
    while (this.state !== 'closed' && this.state !== 'waiting') {
      if (buf.length - off < 4) break;
      const len = buf.readInt32BE(off);
      if (this.state === 'new' && off === 0 && this.framesReceived === 0) {
        const word = FOUR_LETTER.get(len);
        if (word !== undefined) {
          this.host.onFourLetterWord(this, word);
          return;
        }
        if (len === TELNET_CLOSE) return;
      }
      if (len < 0 || len > this.host.maxBuffer) {
        this.close(`frame length ${len} out of bounds (jute.maxbuffer ${this.host.maxBuffer})`);
        return;
      }
      if (buf.length - off - 4 < len) {
        this.need = 4 + len;
        break;
      }
      const frame = buf.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      this.framesReceived++;
      this.stats.received++;
      if (this.state === 'new') this.host.onConnectRequest(this, frame);
      else this.host.onRequest(this, frame);
    }
    if (off < buf.length && this.state !== 'closed') {
      const rest = buf.subarray(off);
      // Copy a small tail so it does not pin a large chunk in memory.
      const kept = rest.length * 2 < buf.length ? Buffer.from(rest) : rest;
      this.unread.push(kept);
      this.unreadBytes = kept.length;
    }
  }

  /** Stops reading frames until resume(): the session is being created. */
  hold(): void {
    this.state = 'waiting';
    this.socket.pause();
  }

  resume(): void {
    if (this.state !== 'waiting') return;
    this.state = 'open';
    this.resumeIfAllowed();
    if (this.unreadBytes >= this.need) this.parse();
  }

  enqueue(p: Pending): void {
    this.queue.push(p);
    if (this.queued >= MAX_QUEUED && !this.pausedForQueue) {
      this.pausedForQueue = true;
      this.socket.pause();
    }
  }

  /** Sends replies in request order: runs reads at the head, stops at a write not yet applied. */
  pump(): void {
    while (this.head < this.queue.length && this.state !== 'closed') {
      const p = this.queue[this.head]!;
      if (p.reply === null) {
        if (p.run === null) break;
        p.reply = p.run();
      }
      this.head++;
      this.send(p.reply);
      this.host.onSent(this, p);
      if (p.closeAfter) {
        this.closeAfterFlush('closed after reply');
        return;
      }
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 256) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.pausedForQueue && this.queued < MAX_QUEUED / 2) {
      this.pausedForQueue = false;
      this.resumeIfAllowed();
    }
  }

  private resumeIfAllowed(): void {
    if (!this.pausedForQueue && !this.pausedForWrites && this.state !== 'closed') this.socket.resume();
  }

  send(frame: Buffer): void {
    if (this.state === 'closed') return;
    corkUntilEndOfTurn(this.socket);
    this.stats.sent++;
    if (!this.socket.write(frame) && !this.pausedForWrites && this.socket.writableLength > MAX_UNSENT_BYTES) {
      this.pausedForWrites = true;
      this.socket.pause();
    }
  }

  /** Writes what is queued, then closes. */
  closeAfterFlush(reason: string): void {
    if (this.state === 'closed') return;
    this.socket.end();
    this.close(reason);
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.unread = [];
    this.unreadBytes = 0;
    if (!this.socket.writableEnded) this.socket.end();
    // Give a polite close a moment to flush, then make sure the descriptor goes away.
    const t = setTimeout(() => this.socket.destroy(), 1000);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
    this.host.onClosed(this, reason);
  }
}
