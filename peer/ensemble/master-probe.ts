// How far an observer is from each observer master: a few probes per master, all masters at once,
// each probe a TCP connection to the master's observer-master port that the observer closes as soon
// as it is open. The round trip timed is that of the close: from our FIN to the master's, which the
// master sends once its listener has read our end of the connection. Not the connect: a TCP proxy
// or load balancer in the path (or the tests' delay relay) completes the connect itself, and only
// the close travels end to end. The listener treats a connection closed before any byte as no
// learner at all (peer/net/learner-guard.ts): probes are neither admitted nor counted as refused.
//
// A master that does not answer (not listening yet, the leader, a dead host, a reset) is left
// unmeasured; the ranking (peer/quorum/observer-master-list.ts) puts it last.

import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { MasterAddress } from '../quorum/observer-master-list.ts';

export interface ProbeOptions {
  /** Probes per master; the smallest round trip counts. */
  probes: number;
  /** Per probe (and per name lookup). */
  timeoutMs: number;
  /** The observer's own address, to probe from (allow-lists check it); a host name is resolved. */
  localAddress?: string;
}

export const PROBE_DEFAULTS: ProbeOptions = { probes: 3, timeoutMs: 1000 };

/** Round trips in ms by sid, for the masters that answered every probe up to their first failure. */
export async function measureMasters(
  masters: readonly MasterAddress[],
  opts: ProbeOptions = PROBE_DEFAULTS,
): Promise<Map<number, number>> {
  const local = opts.localAddress ? await resolve(opts.localAddress, opts.timeoutMs) : null;
  const out = new Map<number, number>();
  await Promise.all(
    masters.map(async (m) => {
      const address = await resolve(m.host, opts.timeoutMs);
      if (!address) return;
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < opts.probes; i++) {
        const rtt = await probeRoundTrip(address, m.port, opts.timeoutMs, local ?? undefined);
        if (rtt === null) break;
        best = Math.min(best, rtt);
      }
      if (Number.isFinite(best)) out.set(m.sid, best);
    }),
  );
  return out;
}

/** One probe: ms from our FIN to the peer's, or null (refused, reset, timed out). */
export function probeRoundTrip(
  host: string,
  port: number,
  timeoutMs: number,
  localAddress?: string,
): Promise<number | null> {
  return new Promise((resolve) => {
    let finSentAt = 0;
    let settled = false;
    const socket = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    const finish = (rtt: number | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(rtt);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.setNoDelay(true);
    socket.once('connect', () => {
      finSentAt = performance.now();
      socket.end();
    });
    // Only a clean close from the peer is an answer: a proxy whose backend is gone resets.
    socket.once('end', () => finish(finSentAt > 0 ? performance.now() - finSentAt : null));
    socket.once('error', () => finish(null));
    socket.once('close', () => finish(null));
    // Whatever the master sends first (a shared-secret challenge) is read and dropped.
    socket.resume();
  });
}

async function resolve(host: string, timeoutMs: number): Promise<string | null> {
  if (net.isIP(host)) return host;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), timeoutMs);
  });
  try {
    return await Promise.race([lookup(host).then((a) => a.address), timeout]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}
