// Durability under kill -9: several connections stream writes (sequential creates and setData with
// increasing values), the server is SIGKILLed at a random moment, restarted on the same data dir,
// and every write whose success reply had arrived must be there. Three rounds on one data dir, so
// later rounds also recover what earlier rounds wrote and keep numbering sequential nodes after it.
// ZKE_TARGET=zookeeper runs the same test against Apache ZooKeeper (to validate the test itself).

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { OPEN_ACL } from '../bench/loadgen.ts';
import { ZkConnection } from '../bench/zkconn.ts';
import { Err, errorName, OpCode } from '../peer/protocol/constants.ts';
import { type RunningServer, type ServerKind, startServer } from './lib/servers.ts';

const KIND = (process.env.ZKE_TARGET ?? 'peer') as ServerKind;
const ROUNDS = 3;
const WRITERS = 4;
/** Requests in flight per writer connection. */
const INFLIGHT = 8;
/** Writes per writer per round at most; the kill comes well before (see killAfter). */
const MAX_WRITES_PER_ROUND = 3000;
/** Small enough that the server snapshots (ZooKeeper: after snapCount/2..snapCount txns) during the run. */
const CONFIG = { snapCount: 1000 };

const SEQ_PARENT = '/crash/seq';
const valuePath = (w: number) => `/crash/v${w}`;

interface Ledger {
  /** Acknowledged sequential creates: actual path -> data. */
  created: Map<string, string>;
  /** Data of every create ever sent. */
  sentCreates: Set<string>;
  /** Per writer: highest value whose setData was acknowledged, and highest sent. */
  ackedValue: number[];
  sentValue: number[];
  /** Replies with an error other than connection loss. */
  unexpected: string[];
}

async function connect(s: RunningServer): Promise<ZkConnection> {
  return ZkConnection.connectRetry({ host: s.host, port: s.port, sessionTimeout: 10_000 }, 30_000);
}

async function mustCall(c: ZkConnection, q: Parameters<ZkConnection['call']>[0], ok: number[] = [Err.OK]) {
  const r = await c.call(q);
  assert.ok(
    ok.includes(r.err),
    `${JSON.stringify(q, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))}: ${errorName(r.err)}`,
  );
  return r;
}

/**
 * Streams writes from WRITERS connections until they are cut off; calls onAck after every
 * acknowledged write (with the total so far). Resolves when every connection has closed or has
 * finished its quota.
 */
async function stream(s: RunningServer, round: number, ledger: Ledger, onAck: (acks: number) => void) {
  const conns = await Promise.all(Array.from({ length: WRITERS }, () => connect(s)));
  let acks = 0;
  const done = conns.map(
    (conn, w) =>
      new Promise<void>((resolve) => {
        let sent = 0;
        let outstanding = 0;
        const next = () => {
          if (conn.closed || sent >= MAX_WRITES_PER_ROUND) {
            if (outstanding === 0) resolve();
            return;
          }
          sent++;
          outstanding++;
          if (sent % 2 === 1) {
            const data = `r${round}-w${w}-n${sent}`;
            ledger.sentCreates.add(data);
            conn
              .call({
                type: OpCode.create,
                path: `${SEQ_PARENT}/s-`,
                data: Buffer.from(data),
                acl: OPEN_ACL,
                flags: 2, // PERSISTENT_SEQUENTIAL
              })
              .then((r) => {
                outstanding--;
                if (r.err === Err.OK) {
                  ledger.created.set(r.body.string(), data);
                  onAck(++acks);
                } else if (r.err !== Err.CONNECTIONLOSS) {
                  ledger.unexpected.push(`create ${SEQ_PARENT}/s- (${data}): ${errorName(r.err)}`);
                }
                next();
              });
          } else {
            const v = ++ledger.sentValue[w]!;
            conn
              .call({ type: OpCode.setData, path: valuePath(w), data: Buffer.from(String(v)), version: -1 })
              .then((r) => {
                outstanding--;
                if (r.err === Err.OK) {
                  // Replies come in order, so v only grows; max() documents the invariant anyway.
                  ledger.ackedValue[w] = Math.max(ledger.ackedValue[w]!, v);
                  onAck(++acks);
                } else if (r.err !== Err.CONNECTIONLOSS) {
                  ledger.unexpected.push(`setData ${valuePath(w)} = ${v}: ${errorName(r.err)}`);
                }
                next();
              });
          }
        };
        for (let k = 0; k < INFLIGHT; k++) next();
      }),
  );
  await Promise.all(done);
  for (const c of conns) c.destroy();
}

/** Checks every acknowledged write against the restarted server; returns a list of violations. */
async function verify(s: RunningServer, ledger: Ledger): Promise<string[]> {
  const c = await connect(s);
  const problems: string[] = [];
  try {
    const checks: Promise<void>[] = [];
    for (const [path, data] of ledger.created) {
      checks.push(
        c.call({ type: OpCode.getData, path, watch: false }).then((r) => {
          if (r.err !== Err.OK)
            problems.push(`acknowledged create ${path} (${data}): getData ${errorName(r.err)}`);
          else {
            const got = r.body.buffer()?.toString() ?? null;
            if (got !== data) problems.push(`acknowledged create ${path}: data ${got}, expected ${data}`);
          }
        }),
      );
    }
    for (let w = 0; w < WRITERS; w++) {
      checks.push(
        c.call({ type: OpCode.getData, path: valuePath(w), watch: false }).then((r) => {
          if (r.err !== Err.OK) return void problems.push(`${valuePath(w)}: getData ${errorName(r.err)}`);
          const got = Number(r.body.buffer()?.toString());
          if (!(got >= ledger.ackedValue[w]! && got <= ledger.sentValue[w]!)) {
            problems.push(
              `${valuePath(w)} = ${got}, expected between acknowledged ${ledger.ackedValue[w]} and sent ${ledger.sentValue[w]}`,
            );
          }
        }),
      );
    }
    // Nothing may appear that was never sent, nor twice.
    const kids = await mustCall(c, { type: OpCode.getChildren, path: SEQ_PARENT, watch: false });
    const children = kids.body.vector((r) => r.string()) ?? [];
    const seen = new Map<string, string>();
    for (const name of children) {
      const path = `${SEQ_PARENT}/${name}`;
      if (ledger.created.has(path)) continue; // checked above
      checks.push(
        c.call({ type: OpCode.getData, path, watch: false }).then((r) => {
          if (r.err !== Err.OK)
            return void problems.push(`child ${path} listed but getData ${errorName(r.err)}`);
          const data = r.body.buffer()?.toString() ?? '';
          if (!ledger.sentCreates.has(data))
            problems.push(`child ${path} holds ${data}, which was never sent`);
          const dup = seen.get(data);
          if (dup) problems.push(`children ${dup} and ${path} both hold ${data}`);
          seen.set(data, path);
        }),
      );
    }
    await Promise.all(checks);
    for (const [path, data] of ledger.created) {
      const dup = seen.get(data);
      if (dup) problems.push(`children ${dup} and ${path} both hold ${data}`);
    }
  } finally {
    await c.close();
  }
  return problems;
}

test(`acknowledged writes survive kill -9 and restart (${KIND})`, { timeout: 240_000 }, async (t) => {
  let server = await startServer(KIND, { keepData: true, config: CONFIG });
  const dataDir = server.dataDir;
  const ledger: Ledger = {
    created: new Map(),
    sentCreates: new Set(),
    ackedValue: new Array(WRITERS).fill(0),
    sentValue: new Array(WRITERS).fill(0),
    unexpected: [],
  };
  try {
    const c = await connect(server);
    await mustCall(c, { type: OpCode.create, path: '/crash', data: null, acl: OPEN_ACL, flags: 0 });
    await mustCall(c, { type: OpCode.create, path: SEQ_PARENT, data: null, acl: OPEN_ACL, flags: 0 });
    for (let w = 0; w < WRITERS; w++) {
      await mustCall(c, {
        type: OpCode.create,
        path: valuePath(w),
        data: Buffer.from('0'),
        acl: OPEN_ACL,
        flags: 0,
      });
    }
    await c.close();

    for (let round = 1; round <= ROUNDS; round++) {
      // Kill once a random number of writes has been acknowledged, plus a random sub-millisecond
      // to few-millisecond delay, so the kill lands at a different point of the stream each round.
      const killAfter = 50 + Math.floor(Math.random() * 2500);
      const extraDelay = Math.random() < 0.5 ? 0 : Math.floor(Math.random() * 5);
      let killing: Promise<void> | null = null;
      const victim = server;
      const ackedBefore = ledger.created.size;
      await stream(victim, round, ledger, (acks) => {
        if (acks === killAfter && !killing) {
          killing = new Promise((r) => setTimeout(r, extraDelay)).then(() => victim.kill9());
        }
      });
      assert.ok(
        killing,
        `round ${round}: the stream ended before ${killAfter} acknowledgements (writes failing?)`,
      );
      await killing;
      t.diagnostic(
        `round ${round}: killed after ${killAfter} acks (+${extraDelay} ms); acknowledged creates so far ` +
          `${ledger.created.size} (+${ledger.created.size - ackedBefore}), values acked/sent ` +
          `${ledger.ackedValue.join(',')} / ${ledger.sentValue.join(',')}`,
      );
      server = await startServer(KIND, { dataDir, config: CONFIG });
      const problems = await verify(server, ledger);
      assert.deepEqual(problems.slice(0, 20), [], `round ${round}: ${problems.length} lost or wrong writes`);
    }
    assert.deepEqual(
      ledger.unexpected.slice(0, 20),
      [],
      'writes failed with errors other than connection loss',
    );
    // The recovered server still takes writes.
    const c2 = await connect(server);
    await mustCall(c2, {
      type: OpCode.create,
      path: '/crash/after',
      data: Buffer.from('x'),
      acl: OPEN_ACL,
      flags: 0,
    });
    await c2.close();
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
