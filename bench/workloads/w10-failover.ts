// W10 session-scale-failover: S sessions (30 s timeout) spread over every member, one ephemeral
// znode each; a few of them ("workers") keep a 30%-write load going; then the leader is killed with
// SIGKILL. Every session that loses its connection reconnects to the next member in its list with
// its session id and password, as ZooKeeper's clients do (after a random pause of up to 1 s, as the
// Java client does; workers retry every 50 ms so that the first write measures the servers, not
// the client's back-off). Measured: time from the kill to the first successful write sent after
// it, sessions the servers expired (target 0), reconnect times, ephemerals left, and memory per
// session. The killed member is restarted and rejoins before the next S.

import { Err, OpCode } from '../../peer/protocol/constants.ts';
import { memberRoles, sleep, waitServing } from '../cluster.ts';
import { Histogram } from '../histogram.ts';
import { isWrite, valueOfSize } from '../loadgen.ts';
import type { CellContext } from '../suite/types.ts';
import { type CallResult, SessionExpiredError, ZkConnection } from '../zkconn.ts';
import { ensureNode, inBatches, OPEN_ACL } from './common.ts';

interface Endpoint {
  host: string;
  port: number;
}

/** A session that survives connection losses by moving to the next server, as real clients do. */
class Session {
  conn: ZkConnection | null = null;
  expired = false;
  disconnectedAt: number | null = null;
  /** ms from each loss to the session's re-establishment. */
  readonly reconnects: number[] = [];
  private next: number;
  private closing = false;
  private readonly endpoints: Endpoint[];
  private readonly timeoutMs: number;
  private readonly retryMs: () => number;

  constructor(endpoints: Endpoint[], first: number, timeoutMs: number, retryMs: () => number) {
    this.endpoints = endpoints;
    this.next = first;
    this.timeoutMs = timeoutMs;
    this.retryMs = retryMs;
  }

  async open(): Promise<void> {
    const ep = this.endpoints[this.next % this.endpoints.length]!;
    this.attach(await ZkConnection.connectRetry({ ...ep, sessionTimeout: this.timeoutMs }, 20_000));
  }

  private attach(conn: ZkConnection): void {
    this.conn = conn;
    void conn.waitClosed().then(() => {
      if (this.closing || this.conn !== conn) return;
      this.disconnectedAt = performance.now();
      void this.reconnect(conn);
    });
  }

  private async reconnect(old: ZkConnection): Promise<void> {
    const deadline = performance.now() + this.timeoutMs * 2;
    while (!this.closing && performance.now() < deadline) {
      await sleep(this.retryMs());
      this.next++;
      const ep = this.endpoints[this.next % this.endpoints.length]!;
      try {
        const conn = await ZkConnection.connect({
          ...ep,
          sessionTimeout: this.timeoutMs,
          connectTimeout: 3000,
          session: { id: old.sessionId, passwd: old.passwd },
          lastZxidSeen: old.lastZxid,
        });
        if (this.closing) {
          conn.destroy();
          return;
        }
        this.reconnects.push(performance.now() - this.disconnectedAt!);
        this.disconnectedAt = null;
        this.attach(conn);
        return;
      } catch (err) {
        if (err instanceof SessionExpiredError) {
          this.expired = true;
          return;
        }
      }
    }
  }

  get connected(): boolean {
    return !!this.conn && !this.conn.closed;
  }

  call(q: Parameters<ZkConnection['call']>[0]): Promise<CallResult> {
    if (!this.connected) return Promise.resolve({ err: Err.CONNECTIONLOSS, zxid: 0, body: null as never });
    return this.conn!.call(q);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.connected) await this.conn!.close(5000);
    else this.conn?.destroy();
  }
}

async function round(ctx: CellContext, s: number): Promise<void> {
  const p = ctx.params.w10;
  const sids = [...ctx.e.members.keys()];
  const endpoints = sids.map((sid) => ctx.endpoint(sid));
  const setup = await ZkConnection.connectRetry(ctx.endpoint(ctx.leaderSid));
  await ensureNode(setup, '/w10');
  await ensureNode(setup, `/w10/s${s}`);
  const data = valueOfSize(100);
  for (let k = 0; k < p.workers; k++) await ensureNode(setup, `/w10/data${k}`, data);
  await setup.close();
  await sleep(p.settleMs);
  const rssBefore = ctx.rssMiB();

  const sessions = Array.from(
    { length: s },
    (_, i) => new Session(endpoints, i, p.timeoutMs, i < p.workers ? () => 50 : () => Math.random() * 1000),
  );
  let stopWorkers = false;
  try {
    await inBatches(sessions, 100, async (x, i) => {
      await x.open();
      const r = await x.call({
        type: OpCode.create,
        path: `/w10/s${s}/e${i}`,
        data: null,
        acl: OPEN_ACL,
        flags: 1,
      });
      if (r.err !== Err.OK) throw new Error(`W10 ephemeral ${i}: error ${r.err}`);
    });
    await sleep(p.settleMs);
    const rssAfter = ctx.rssMiB();

    // Workers: one request at a time each, 30% writes, a short pause between requests.
    let killAt = 0;
    let firstWriteAt = 0;
    let workerOps = 0;
    let workerErrors = 0;
    const write = sessions.slice(0, p.workers).map((x, k) => {
      const path = `/w10/data${k}`;
      return (async () => {
        for (let i = k; !stopWorkers; i++) {
          const w = isWrite(i, p.writePercent);
          const sent = performance.now();
          const r = await x.call(
            w
              ? { type: OpCode.setData, path, data, version: -1 }
              : { type: OpCode.getData, path, watch: false },
          );
          workerOps++;
          if (r.err !== Err.OK) workerErrors++;
          else if (w && killAt && sent >= killAt && !firstWriteAt) firstWriteAt = performance.now();
          await sleep(r.err === Err.OK ? p.thinkMs : 20);
        }
      })();
    });
    await sleep(p.killAfterMs);
    const leader = ctx.leaderSid;
    killAt = performance.now();
    await ctx.e.kill9(leader);
    ctx.log(`    W10 S=${s}: killed leader ${leader}`);
    // When the survivors elect a leader and serve again (srvr), apart from the clients' reconnects.
    const alive = sids.filter((sid) => sid !== leader);
    let leaderServingAt = 0;
    let allServingAt = 0;
    let watching = true;
    const watchModes = (async () => {
      while (watching && !allServingAt) {
        const modes = await Promise.all(alive.map((sid) => ctx.e.mode(sid)));
        const now = performance.now();
        if (!leaderServingAt && modes.includes('leader')) leaderServingAt = now;
        if (modes.every((m) => m !== null) && modes.includes('leader')) allServingAt = now;
        await sleep(50);
      }
    })();
    const deadline = killAt + p.recoverTimeoutMs;
    while (performance.now() < deadline) {
      const settled = sessions.every((x) => x.expired || x.connected);
      if (settled && firstWriteAt && allServingAt) break;
      await sleep(100);
    }
    watching = false;
    await watchModes;
    const settledMs = performance.now() - killAt;
    await sleep(p.settleMs);
    stopWorkers = true;
    await Promise.all(write);

    const expired = sessions.filter((x) => x.expired).length;
    const stillDown = sessions.filter((x) => !x.expired && !x.connected).length;
    const reconnect = new Histogram();
    let lost = 0;
    for (const x of sessions) {
      if (x.reconnects.length) lost++;
      for (const ms of x.reconnects) reconnect.record(ms * 1000);
    }
    // The ephemerals that are left, read through any live member.
    const reader = await ZkConnection.connectRetry(ctx.endpoint(alive[0]!));
    const kids = await reader.call({ type: OpCode.getChildren, path: `/w10/s${s}`, watch: false });
    const children = kids.err === Err.OK ? kids.body.int() : -1;
    await reader.close();
    const r = reconnect.summary();
    const perSession = (sid: number) => {
      const a = rssBefore[sid];
      const b = rssAfter[sid];
      return a == null || b == null ? null : ((b - a) * 1024 * 1024) / s;
    };
    const per = sids.map(perSession);
    ctx.record({
      workload: 'W10',
      variant: `S=${s}`,
      values: {
        sessions: s,
        firstWriteMs: firstWriteAt ? Math.round(firstWriteAt - killAt) : null,
        newLeaderServingMs: leaderServingAt ? Math.round(leaderServingAt - killAt) : null,
        allServingMs: allServingAt ? Math.round(allServingAt - killAt) : null,
        expired,
        stillDisconnected: stillDown,
        sessionsThatReconnected: lost,
        reconnectP50: r.p50,
        reconnectP99: r.p99,
        reconnectMax: r.max,
        allSettledMs: Math.round(settledMs),
        ephemeralsLeft: children,
        workerOps,
        workerErrors,
        rssBytesPerSession: per.some((x) => x === null)
          ? null
          : Math.round(per.reduce<number>((a, b) => a + b!, 0) / per.length),
      },
      histogram: reconnect,
      detail: { killedLeader: leader, rssMiBBefore: rssBefore, rssMiBAfter: rssAfter },
    });
    ctx.log(
      `    W10 S=${s}: first write ${firstWriteAt ? Math.round(firstWriteAt - killAt) : 'none'} ms after the kill ` +
        `(new leader serving after ${leaderServingAt ? Math.round(leaderServingAt - killAt) : 'never'} ms, ` +
        `all after ${allServingAt ? Math.round(allServingAt - killAt) : 'never'} ms); ` +
        `${expired} expired, ${stillDown} still down; reconnect p99 ${r.p99} ms; ephemerals ${children}/${s}`,
    );
  } finally {
    stopWorkers = true;
    await inBatches(sessions, 200, (x) => x.close());
  }
  // Bring the killed member back and find the new leader for the next round.
  ctx.e.start(ctx.leaderSid);
  ctx.leaderSid = await waitServing(ctx.e, ctx.params.formTimeoutMs);
  Object.assign(ctx.roles, await memberRoles(ctx.e));
}

export async function runW10(ctx: CellContext): Promise<void> {
  for (const s of ctx.params.w10.sessions) await round(ctx, s);
}
