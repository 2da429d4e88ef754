// A leader–learner connection on the quorum port: back-to-back QuorumPackets in both directions,
// after admission (allow-list, TLS client certificate, shared secret). Packets written in one turn
// of the event loop go out in one write. A SNAP's raw snapshot body can be diverted to a reader.

import net from 'node:net';
import tls from 'node:tls';
import { JuteError } from '../jute/archive.ts';
import type { Logger } from '../log.ts';
import type { InetAddr } from '../quorum/election-wire.ts';
import { encodeQuorumPacket, type QuorumPacket, QuorumPacketDecoder } from '../quorum/packets.ts';
import { corkUntilEndOfTurn } from './cork.ts';
import {
  admitLearner,
  bindAddress,
  clientTlsOptions,
  type LearnerSecurity,
  proveToLeader,
  quorumServer,
} from './learner-guard.ts';

/** Takes raw bytes after a SNAP; returns the bytes past the snapshot once it is complete, else null. */
export type RawReader = (chunk: Buffer) => Buffer | null;

export interface LinkHandlers {
  onPacket: (p: QuorumPacket) => void;
  onClose: (reason: string) => void;
}

/** stream() waits for the socket to drain below this before the next chunk. */
const STREAM_HIGH_WATER = 4 << 20;

export class QuorumLink {
  readonly socket: net.Socket;
  readonly remote: string;
  /** When the link was admitted (ms since the epoch), for status. */
  readonly established = Date.now();
  private readonly decoder = new QuorumPacketDecoder();
  private handlers: LinkHandlers | null = null;
  private raw: RawReader | null = null;
  private closed = false;
  private closeReason = 'closed by peer';
  /** A snapshot being sent (stream()), and the writes held until it is out. */
  private streaming: { chunks: Iterator<Buffer>; stillValid: () => boolean } | null = null;
  private held: Buffer[] = [];

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('error', (e) => {
      this.closeReason = e.message;
    });
    socket.on('close', () => this.finish());
    socket.pause();
  }

  /** Starts delivering packets (bytes that arrived before are kept). */
  start(handlers: LinkHandlers): void {
    this.handlers = handlers;
    this.socket.resume();
  }

  /** Sends the bytes that follow to reader until it reports the end of the snapshot. */
  divert(reader: RawReader): void {
    this.raw = reader;
    const buffered = this.decoder.takeRest();
    if (buffered.length > 0) this.feedRaw(buffered);
  }

  private onData(chunk: Buffer): void {
    if (this.raw) {
      this.feedRaw(chunk);
      return;
    }
    this.decoder.push(chunk);
    this.deliver();
  }

  private feedRaw(chunk: Buffer): void {
    const rest = this.raw!(chunk);
    if (rest === null) return;
    this.raw = null;
    if (rest.length > 0) this.decoder.push(rest);
    this.deliver();
  }

  private deliver(): void {
    try {
      while (!this.closed && !this.raw) {
        const p = this.decoder.next();
        if (!p) return;
        this.handlers?.onPacket(p);
      }
    } catch (e) {
      if (!(e instanceof JuteError)) throw e;
      this.close(`malformed quorum packet: ${e.message}`);
    }
  }

  send(p: QuorumPacket): void {
    this.write(encodeQuorumPacket(p));
  }

  write(bytes: Buffer): void {
    if (this.closed) return;
    if (this.streaming) {
      this.held.push(bytes);
      return;
    }
    corkUntilEndOfTurn(this.socket);
    this.socket.write(bytes);
  }

  /**
   * Sends `chunks` (a snapshot body) one at a time, a turn of the event loop apart and no faster
   * than the socket drains; what is written meanwhile goes out after the last chunk, in order.
   * `stillValid` is asked before each chunk: false closes the link (the data under it went away).
   */
  stream(chunks: Iterator<Buffer>, stillValid: () => boolean): void {
    if (this.closed) return;
    this.streaming = { chunks, stillValid };
    this.pump();
  }

  private pump(): void {
    const s = this.streaming;
    if (this.closed || !s) return;
    if (this.socket.writableLength >= STREAM_HIGH_WATER) {
      this.socket.once('drain', () => this.pump());
      return;
    }
    if (!s.stillValid()) {
      this.close('the data a snapshot was being sent from was replaced');
      return;
    }
    const next = s.chunks.next();
    if (next.done) {
      this.streaming = null;
      const held = this.held;
      this.held = [];
      for (const b of held) this.write(b);
      return;
    }
    this.socket.write(next.value);
    setImmediate(() => this.pump());
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closeReason = reason;
    this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.onClose(this.closeReason);
  }
}

export interface LearnerListenerOptions {
  listen: InetAddr;
  security: LearnerSecurity;
  log: Logger;
  onLink: (link: QuorumLink) => void;
  /** Called for every refused connection (for logs and a counter). */
  onRefused: (reason: string, address: string) => void;
}

/** The leader's (or an observer master's) quorum-port listener. */
export async function listenForLearners(opts: LearnerListenerOptions): Promise<net.Server> {
  // A connection closed before sending anything is a probe (learner-guard.ts), not a refusal.
  const quiet = (address: string) => opts.log.debug({ address }, 'connection closed before sending anything');
  const admit = (socket: net.Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    admitLearner(socket, opts.security, opts.onRefused).then(
      (r) => {
        if (r === 'admitted') opts.onLink(new QuorumLink(socket));
        else if (r === 'closed') quiet(address);
      },
      (err) => {
        opts.onRefused(`admission failed: ${(err as Error).message}`, address);
        socket.destroy();
      },
    );
  };
  const server = quorumServer(opts.security.tls, admit, (reason, socket) => {
    // The TLS socket counts no bytes before the handshake; the TCP socket under it (_parent,
    // internal to node:tls, so read defensively) does.
    const raw = (socket as unknown as { _parent?: net.Socket })._parent;
    if (raw?.bytesRead === 0) quiet(raw.remoteAddress ?? 'unknown');
    else opts.onRefused(reason, socket.remoteAddress ?? 'unknown');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => resolve());
  });
  return server;
}

/** A learner's connection to its leader or observer master, admitted and ready for packets. */
export async function connectToLeader(
  addr: InetAddr,
  security: LearnerSecurity,
  timeoutMs: number,
  localAddress?: string,
): Promise<QuorumLink> {
  const bindTo = localAddress ? await bindAddress(localAddress) : undefined;
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const local = bindTo ? { localAddress: bindTo } : {};
    const s = security.tls
      ? tls.connect({
          host: addr.host,
          port: addr.port,
          servername: addr.host,
          ...local,
          ...clientTlsOptions(security.tls),
        })
      : net.connect({ host: addr.host, port: addr.port, ...local });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connecting to ${addr.host}:${addr.port} timed out`));
    }, timeoutMs);
    s.once(security.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  try {
    await proveToLeader(socket, security, timeoutMs);
  } catch (e) {
    socket.destroy();
    throw e;
  }
  return new QuorumLink(socket);
}
