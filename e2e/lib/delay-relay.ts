// A userspace stand-in for a WAN link (this machine's kernel has no netem): a TCP relay that listens
// on an address of its own, forwards each connection to a target address on the same port, and
// delays everything in each direction by delayMs — every chunk, the close (FIN) and a reset —
// keeping their order. The TCP handshake with the relay itself is not delayed: a connect completes
// at once, as through any TCP proxy; only what crosses the relay takes the delay.

import net from 'node:net';

export interface DelayRelayOptions {
  /** The relay's own address (a loopback address nobody else uses). */
  host: string;
  /** Where connections go, on the port they came in on. */
  target: string;
  ports: readonly number[];
  /** One way: a round trip through the relay takes twice this. */
  delayMs: number;
}

export interface DelayRelay {
  readonly host: string;
  /** Stops listening and drops every relayed connection. */
  close(): Promise<void>;
}

/** due: performance.now() time; Date.now() is whole milliseconds and would cut a delay by up to one. */
type Item = { due: number } & ({ kind: 'data'; chunk: Buffer } | { kind: 'end' } | { kind: 'reset' });

export async function startDelayRelay(o: DelayRelayOptions): Promise<DelayRelay> {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
  };

  /** Relays from → to, delayed. */
  const pipe = (from: net.Socket, to: net.Socket) => {
    const queue: Item[] = [];
    let timer: NodeJS.Timeout | null = null;
    let ended = false;
    const schedule = () => {
      if (timer || closed || queue.length === 0) return;
      timer = setTimeout(
        () => {
          timers.delete(timer!);
          timer = null;
          const now = performance.now();
          while (queue.length > 0 && queue[0]!.due <= now) deliver(queue.shift()!);
          schedule();
        },
        Math.max(0, queue[0]!.due - performance.now()),
      );
      timers.add(timer);
    };
    const deliver = (item: Item) => {
      if (to.destroyed) return;
      if (item.kind === 'data') {
        if (!to.write(item.chunk) && !from.isPaused()) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      } else if (item.kind === 'end') to.end();
      else {
        try {
          to.resetAndDestroy();
        } catch {
          to.destroy();
        }
      }
    };
    const push = (item: Item) => {
      queue.push(item);
      schedule();
    };
    from.on('data', (chunk: Buffer) => push({ due: performance.now() + o.delayMs, kind: 'data', chunk }));
    from.once('end', () => {
      ended = true;
      push({ due: performance.now() + o.delayMs, kind: 'end' });
    });
    // Closed without an end of stream: reset, refused or destroyed. The other side sees a reset.
    from.once('close', () => {
      if (!ended) push({ due: performance.now() + o.delayMs, kind: 'reset' });
    });
  };

  for (const port of o.ports) {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      track(client);
      if (closed) {
        client.destroy();
        return;
      }
      const upstream = net.connect({ host: o.target, port, allowHalfOpen: true, noDelay: true });
      track(upstream);
      pipe(client, upstream);
      pipe(upstream, client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, o.host, () => resolve());
    });
    servers.push(server);
  }

  return {
    host: o.host,
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
