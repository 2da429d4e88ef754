// Election-port connections between members, as ZooKeeper's QuorumCnxManager keeps them: one
// connection per pair, initiated by the higher sid (a lower sid that connects is dialled back),
// an initial message naming the sender, then length-prefixed frames. Like ZooKeeper, only the
// newest unsent message to a member is kept: an election only cares about the latest vote.
// With quorum TLS (sslQuorum) connections are mutual TLS, as learner links are, and the learner
// allow-list applies here too: a member refused here cannot even vote or learn who leads.

import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log.ts';
import {
  decodeInitialMessage,
  ElectionWireError,
  encodeFrame,
  encodeInitialMessage,
  type InetAddr,
  incomingConnectionAction,
  readFrame,
  shouldInitiateConnection,
} from '../quorum/election-wire.ts';
import {
  bindAddress,
  clientTlsOptions,
  type LearnerSecurity,
  quorumServer,
  screenConnection,
} from './learner-guard.ts';

/** What the election port checks: the learner allow-list and quorum TLS (no shared secret). */
export type ElectionSecurity = Pick<LearnerSecurity, 'allowList' | 'tls'>;

export interface ElectionTransportOptions {
  mySid: number;
  /** Where this member listens; null for a member without an election port (an observer). */
  listen: InetAddr | null;
  /** Election address of a member, or null when it has none. */
  addressOf: (sid: number) => InetAddr | null;
  onMessage: (sid: number, body: Buffer) => void;
  onConnected?: (sid: number) => void;
  onDisconnected?: (sid: number) => void;
  log: Logger;
  connectTimeoutMs?: number;
  /** Default: plain TCP, anyone may connect. */
  security?: ElectionSecurity;
  /** Called for every refused incoming connection (for logs and a counter). */
  onRefused?: (reason: string, address: string) => void;
  /**
   * This member's own address, to dial from when an allow-list is in force (the members' allow-lists
   * check the source address; a host name is resolved first).
   */
  localAddress?: string;
}

export class ElectionTransport {
  private readonly opts: ElectionTransportOptions;
  private server: net.Server | null = null;
  /** The one connection kept per member, by sid. */
  private readonly links = new Map<number, net.Socket>();
  private readonly pending = new Map<number, Buffer>();
  private readonly dialing = new Set<number>();
  private closed = false;

  constructor(opts: ElectionTransportOptions) {
    this.opts = opts;
  }

  private get security(): ElectionSecurity {
    return this.opts.security ?? { allowList: null, tls: null };
  }

  private refused(reason: string, address: string): void {
    this.opts.onRefused?.(reason, address);
  }

  async start(): Promise<void> {
    const at = this.opts.listen;
    if (!at) return;
    const server = quorumServer(
      this.security.tls,
      (s) => this.accept(s),
      (reason, s) => this.refused(reason, s.remoteAddress ?? 'unknown'),
    );
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => resolve());
    });
  }

  get listenPort(): number | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : null;
  }

  connectedSids(): number[] {
    return [...this.links.keys()];
  }

  isConnected(sid: number): boolean {
    return this.links.has(sid);
  }

  /** Queues a message for sid (replacing an unsent older one) and connects when needed. */
  send(sid: number, body: Buffer): void {
    if (this.closed || sid === this.opts.mySid) return;
    const link = this.links.get(sid);
    if (link) {
      link.write(encodeFrame(body));
      return;
    }
    this.pending.set(sid, body);
    this.connect(sid);
  }

  /** Dials sid (ZooKeeper's connectOne). A lower-sid dialler only announces itself and waits to be dialled back. */
  connect(sid: number): void {
    if (this.closed || this.links.has(sid) || this.dialing.has(sid) || sid === this.opts.mySid) return;
    const addr = this.opts.addressOf(sid);
    if (!addr) return;
    this.dialing.add(sid);
    this.localBinding().then(
      (local) => this.dial(sid, addr, local),
      () => this.dial(sid, addr, {}),
    );
  }

  /** Where to dial from: this member's own address when an allow-list is in force, else anywhere. */
  private async localBinding(): Promise<{ localAddress?: string }> {
    const own = this.opts.localAddress;
    if (!own || !this.security.allowList) return {};
    return { localAddress: await bindAddress(own) };
  }

  private dial(sid: number, addr: InetAddr, local: { localAddress?: string }): void {
    if (this.closed) {
      this.dialing.delete(sid);
      return;
    }
    const t = this.security.tls;
    const socket = t
      ? tls.connect({
          host: addr.host,
          port: addr.port,
          ...(net.isIP(addr.host) ? {} : { servername: addr.host }),
          ...local,
          ...clientTlsOptions(t),
        })
      : net.connect({ host: addr.host, port: addr.port, ...local });
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(), this.opts.connectTimeoutMs ?? 5000);
    // The dial ends once: connected, failed, or destroyed by the timer (which emits no error).
    let pending = true;
    const settle = () => {
      if (!pending) return;
      pending = false;
      clearTimeout(timer);
      this.dialing.delete(sid);
    };
    socket.once(t ? 'secureConnect' : 'connect', () => {
      settle();
      const me = this.opts.listen ? [this.opts.listen] : [];
      socket.write(encodeInitialMessage(this.opts.mySid, me));
      if (shouldInitiateConnection(this.opts.mySid, sid)) this.adopt(sid, socket);
      else socket.end(); // the other side dials back
    });
    socket.once('error', (e) => {
      settle();
      socket.destroy();
      if (t) this.opts.log.debug({ sid, err: e.message }, 'election connection failed');
    });
    socket.once('close', settle);
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const screened = screenConnection(socket, this.security);
    if (screened) {
      this.refused(screened, socket.remoteAddress ?? 'unknown');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), this.opts.connectTimeoutMs ?? 5000);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      let decoded: ReturnType<typeof decodeInitialMessage>;
      try {
        decoded = decodeInitialMessage(buf);
      } catch (e) {
        this.opts.log.warn(
          { err: (e as Error).message, from: socket.remoteAddress },
          'bad election handshake',
        );
        clearTimeout(timer);
        socket.destroy();
        return;
      }
      if (!decoded.complete) return;
      clearTimeout(timer);
      socket.off('data', onData);
      const sid = decoded.message.sid;
      const action = Number.isNaN(sid) ? 'refuse' : incomingConnectionAction(this.opts.mySid, sid);
      if (action === 'refuse') {
        this.opts.log.warn({ sid, from: socket.remoteAddress }, 'refusing election connection');
        socket.destroy();
      } else if (action === 'dial-back') {
        socket.destroy();
        this.connect(sid);
      } else {
        const rest = buf.subarray(decoded.length);
        this.adopt(sid, socket);
        if (rest.length > 0) socket.emit('data', rest);
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  }

  /** Makes socket the one link to sid, replacing an older one, and flushes the queued message. */
  private adopt(sid: number, socket: net.Socket): void {
    const old = this.links.get(sid);
    this.links.set(sid, socket);
    if (old) old.destroy();
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
      let off = 0;
      try {
        for (;;) {
          const f = readFrame(buf, off);
          if (!f) break;
          off = f.next;
          this.opts.onMessage(sid, Buffer.from(f.body));
        }
      } catch (e) {
        if (!(e instanceof ElectionWireError)) throw e;
        this.opts.log.warn({ sid, err: e.message }, 'bad election frame; dropping connection');
        socket.destroy();
        return;
      }
      buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
    });
    socket.on('close', () => {
      if (this.links.get(sid) === socket) {
        this.links.delete(sid);
        this.opts.onDisconnected?.(sid);
      }
    });
    socket.on('error', () => socket.destroy());
    this.opts.onConnected?.(sid);
    const queued = this.pending.get(sid);
    if (queued) {
      this.pending.delete(sid);
      socket.write(encodeFrame(queued));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.links.values()) s.destroy();
    this.links.clear();
    const srv = this.server;
    this.server = null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}
