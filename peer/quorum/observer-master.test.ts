import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeTxnEntry } from '../jute/txn.ts';
import { OpCode } from '../protocol/constants.ts';
import { Learner, type LearnerEffect } from './learner.ts';
import { ObserverMaster, type ObserverMasterEffect } from './observer-master.ts';
import {
  decodeInformAndActivate,
  decodeQuorumPacket,
  decodeRevalidateReply,
  decodeTouchTable,
  encodeAckEpoch,
  encodeLearnerInfo,
  encodeQuorumPacket,
  encodeTouchTable,
  PacketType,
  packet,
  packetTypeName,
  type QuorumPacket,
  requestPacket,
} from './packets.ts';
import type { Proposal } from './zab-common.ts';
import { verifierFor, z } from './zab-testutil.ts';

const timing = { tickTime: 100, initLimit: 10, syncLimit: 5 };
const EPOCH = 3;

/** A txn with a real TxnHeader (the master reads the op code to spot reconfigs). */
function txn(epoch: number, counter: number, type: number = OpCode.setData): Proposal {
  const zxid = z(epoch, counter);
  const header = { clientId: 0x100n, cxid: counter, zxid, time: 1000 + counter, type };
  const body =
    type === OpCode.reconfig
      ? { type: OpCode.reconfig, path: '/zookeeper/config', data: Buffer.from('server.1=x'), version: -1 }
      : { type: OpCode.setData, path: '/a', data: Buffer.from(`v${counter}`), version: -1 };
  return { zxid, data: encodeTxnEntry(header, body as Parameters<typeof encodeTxnEntry>[1], null) };
}

/** An observer: a real Learner core whose disk completes at once and whose tree is the zxids applied. */
interface Obs {
  conn: number;
  learner: Learner;
  applied: number[];
  received: QuorumPacket[];
  activations: number[];
  syncsDone: number;
  revalidated: { sessionId: bigint; valid: boolean }[];
  pings: number;
}

/**
 * A follower's master with observers wired to it: every packet goes through the codec, the
 * observers' disks complete at once, and a snapshot hands the observer the follower's history.
 */
class Rig {
  readonly master: ObserverMaster;
  /** What the follower has applied (its tree, as zxids). */
  readonly history: Proposal[];
  readonly observers = new Map<number, Obs>();
  readonly toLeader: QuorumPacket[] = [];
  readonly local: ObserverMasterEffect[] = [];
  readonly closed = new Map<number, string>();
  readonly snapshots: number[] = [];
  private queue: (() => void)[] = [];
  private readonly answerPings: boolean;
  now = 0;

  constructor(
    history: Proposal[],
    o: { sizeLimit?: number; keep?: number; serving?: boolean; answerPings?: boolean } = {},
  ) {
    this.history = history.slice();
    this.answerPings = o.answerPings ?? false;
    const kept = o.keep === undefined ? history : history.slice(history.length - o.keep);
    this.master = new ObserverMaster({
      sid: 2,
      timing,
      lastZxid: history.at(-1)?.zxid ?? 0,
      committedLog: kept,
      ...(o.sizeLimit === undefined ? {} : { sizeLimit: o.sizeLimit }),
      config: () => verifierFor([1, 2, 3], [4, 5, 6]),
      now: 0,
    });
    if (o.serving ?? true) this.master.step({ kind: 'serving', epoch: EPOCH });
  }

  /** The follower applies a committed txn and tells its master. */
  commit(p: Proposal, designatedLeader?: number): void {
    this.history.push(p);
    this.run(this.master.step({ kind: 'committed', zxid: p.zxid, data: p.data }));
    if (designatedLeader !== undefined)
      this.run(this.master.step({ kind: 'activated', zxid: p.zxid, designatedLeader }));
    this.pump();
  }

  step(input: Parameters<ObserverMaster['step']>[0]): ObserverMasterEffect[] {
    const e = this.master.step(input);
    this.run(e);
    this.pump();
    return e;
  }

  /** An observer with this history connects as conn; returns it once the handshake has run. */
  connect(conn: number, sid: number, observerHistory: number[], acceptedEpoch = 2): Obs {
    const last = observerHistory.at(-1) ?? 0;
    const o: Obs = {
      conn,
      learner: new Learner({
        sid,
        role: 'observer',
        timing,
        acceptedEpoch,
        currentEpoch: acceptedEpoch,
        lastLoggedZxid: last,
        configVersion: 0,
        now: this.now,
      }),
      applied: observerHistory.slice(),
      received: [],
      activations: [],
      syncsDone: 0,
      revalidated: [],
      pings: 0,
    };
    this.observers.set(conn, o);
    this.run(this.master.step({ kind: 'connected', conn }));
    this.toObserver(o, o.learner.step({ kind: 'connected' }));
    this.pump();
    return o;
  }

  /** The observer's core asks for something (a request, a revalidation). */
  observerInput(o: Obs, input: Parameters<Learner['step']>[0]): void {
    this.toObserver(o, o.learner.step(input));
    this.pump();
  }

  pump(): void {
    while (this.queue.length > 0) this.queue.shift()!();
  }

  private run(effects: ObserverMasterEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'send': {
          const o = this.observers.get(e.conn);
          const bytes = encodeQuorumPacket(e.packet);
          if (o) this.queue.push(() => this.deliver(o, decodeQuorumPacket(bytes)));
          break;
        }
        case 'send-snapshot': {
          this.snapshots.push(e.zxid);
          const o = this.observers.get(e.conn);
          if (!o) break;
          this.queue.push(() => {
            // The shell loads the snapshot body as the observer's tree, then hands SNAP to the core.
            o.applied = this.history.filter((p) => p.zxid <= e.zxid).map((p) => p.zxid);
            this.deliver(o, packet(PacketType.SNAP, e.zxid));
          });
          break;
        }
        case 'close':
          this.closed.set(e.conn, e.reason);
          this.observers.delete(e.conn);
          break;
        case 'to-leader':
          this.toLeader.push(e.packet);
          break;
        default:
          this.local.push(e);
      }
    }
  }

  private deliver(o: Obs, p: QuorumPacket): void {
    if (!this.observers.has(o.conn)) return;
    o.received.push(p);
    this.toObserver(o, o.learner.step({ kind: 'packet', packet: p }));
  }

  private toObserver(o: Obs, effects: LearnerEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'send': {
          const bytes = encodeQuorumPacket(e.packet);
          this.queue.push(() => {
            if (this.observers.has(o.conn))
              this.run(this.master.step({ kind: 'packet', conn: o.conn, packet: decodeQuorumPacket(bytes) }));
          });
          break;
        }
        case 'log-append':
          this.queue.push(() => this.toObserver(o, o.learner.step({ kind: 'fsynced', zxid: e.zxid })));
          break;
        case 'persist-epoch':
          this.queue.push(() =>
            this.toObserver(o, o.learner.step({ kind: 'persisted', which: e.which, epoch: e.epoch })),
          );
          break;
        case 'take-snapshot':
          this.queue.push(() => this.toObserver(o, o.learner.step({ kind: 'snapshotted', zxid: e.zxid })));
          break;
        case 'truncate-log':
          o.applied = o.applied.filter((zxid) => zxid <= e.zxid);
          break;
        case 'apply':
          o.applied.push(e.zxid);
          break;
        case 'activate':
          o.activations.push(e.designatedLeader);
          break;
        case 'sync-done':
          o.syncsDone++;
          break;
        case 'revalidated':
          o.revalidated.push({ sessionId: e.sessionId, valid: e.valid });
          break;
        case 'ping':
          o.pings++;
          if (this.answerPings)
            this.toObserver(o, [{ type: 'send', packet: packet(PacketType.PING, e.zxid) }]);
          break;
        case 'stopped':
          throw new Error(`observer ${o.conn} stopped: ${e.reason}`);
        default:
          break;
      }
    }
  }
}

const history = (n: number) => Array.from({ length: n }, (_, i) => txn(2, i + 1));
const zxids = (ps: readonly Proposal[]) => ps.map((p) => p.zxid);
const types = (ps: readonly QuorumPacket[]) => ps.map((p) => packetTypeName(p.type));

describe('ObserverMaster: syncing an observer', () => {
  test('an observer where the follower is: LEADERINFO of the leader epoch, empty DIFF, NEWLEADER, UPTODATE', () => {
    const rig = new Rig(history(5));
    const o = rig.connect(1, 4, zxids(history(5)));
    assert.deepEqual(types(o.received), ['LEADERINFO', 'DIFF', 'NEWLEADER', 'UPTODATE']);
    assert.equal(o.received[0]!.zxid, z(EPOCH, 0));
    assert.equal(o.received[1]!.zxid, z(2, 5));
    assert.equal(o.received[2]!.data!.toString(), verifierFor([1, 2, 3], [4, 5, 6]).toString());
    assert.ok(o.learner.serving);
    assert.equal(o.learner.epoch, EPOCH);
    assert.deepEqual(rig.master.learners(), [
      { conn: 1, sid: 4, kind: 'observer', phase: 'uptodate', syncMode: 'DIFF', peerLastZxid: z(2, 5) },
    ]);
  });

  test('an observer that missed a few txns gets DIFF and them as INFORM, never PROPOSAL or COMMIT', () => {
    const rig = new Rig(history(10));
    const o = rig.connect(1, 4, zxids(history(6)));
    assert.deepEqual(types(o.received), [
      'LEADERINFO',
      'DIFF',
      'INFORM',
      'INFORM',
      'INFORM',
      'INFORM',
      'NEWLEADER',
      'UPTODATE',
    ]);
    assert.deepEqual(o.applied, zxids(history(10)));
    assert.equal(rig.snapshots.length, 0);
  });

  test('when the kept txns no longer reach back to the observer: SNAP of the tree', () => {
    // The follower keeps only its last 3 txns.
    const rig = new Rig(history(10), { keep: 3 });
    assert.deepEqual(rig.master.keptZxids, zxids(history(10).slice(7)));
    const o = rig.connect(1, 4, zxids(history(4)));
    assert.deepEqual(rig.snapshots, [z(2, 10)]);
    assert.deepEqual(types(o.received), ['LEADERINFO', 'SNAP', 'NEWLEADER', 'UPTODATE']);
    assert.deepEqual(o.applied, zxids(history(10)));
    assert.ok(o.learner.serving);
  });

  test('the kept txns are bounded in bytes (observerMaster.sizeLimit): the oldest go first', () => {
    const one = txn(2, 1).data.length + 24;
    const rig = new Rig([], { sizeLimit: 3 * one });
    for (const p of history(8)) rig.commit(p);
    assert.deepEqual(rig.master.keptZxids, zxids(history(8).slice(5)));
    assert.ok(rig.master.keptBytes <= 3 * one);
    // An observer at txn 6 still gets a DIFF, one at txn 4 a snapshot.
    const near = rig.connect(1, 4, zxids(history(6)));
    assert.equal(near.received[1]!.type, PacketType.DIFF);
    const far = rig.connect(2, 5, zxids(history(4)));
    assert.equal(far.received[1]!.type, PacketType.SNAP);
    assert.deepEqual(far.applied, zxids(history(8)));
  });

  test('an observer ahead of the follower (it came from a master further on) is truncated to it', () => {
    const rig = new Rig(history(5));
    const o = rig.connect(1, 4, zxids(history(7)));
    assert.equal(o.received[1]!.type, PacketType.TRUNC);
    assert.equal(o.received[1]!.zxid, z(2, 5));
    // ...and gets the txns again as the follower commits them.
    rig.commit(txn(2, 6));
    rig.commit(txn(2, 7));
    assert.deepEqual(o.applied, zxids(history(7)));
  });

  test('a master that was created with a log not ending at its tree keeps none of it (SNAP, not a wrong DIFF)', () => {
    const log = history(5);
    const m = new ObserverMaster({
      sid: 2,
      timing,
      lastZxid: z(2, 9),
      committedLog: log,
      config: () => verifierFor([1, 2, 3], [4]),
      now: 0,
    });
    assert.deepEqual(m.keptZxids, []);
  });

  test('a resync of the follower (SNAP or TRUNC from its leader) drops what it kept', () => {
    const rig = new Rig(history(5), { serving: false });
    rig.step({ kind: 'reset', lastZxid: z(2, 9) });
    assert.deepEqual(rig.master.keptZxids, []);
    assert.equal(rig.master.lastCommittedZxid, z(2, 9));
  });
});

describe('ObserverMaster: forwarding', () => {
  test('every txn the follower commits goes to its observers as INFORM, in zxid order', () => {
    const rig = new Rig(history(3));
    const a = rig.connect(1, 4, zxids(history(3)));
    const b = rig.connect(2, 5, zxids(history(2)));
    for (let i = 4; i <= 9; i++) rig.commit(txn(2, i));
    assert.deepEqual(a.applied, zxids(rig.history));
    assert.deepEqual(b.applied, zxids(rig.history));
    const informs = a.received.filter((p) => p.type === PacketType.INFORM).map((p) => p.zxid);
    assert.deepEqual(informs, zxids(rig.history.slice(3)));
  });

  test('txns committed while an observer syncs reach it after its sync stream, none missing or doubled', () => {
    const rig = new Rig(history(5));
    const o = new Learner({
      sid: 4,
      role: 'observer',
      timing,
      acceptedEpoch: 2,
      currentEpoch: 2,
      lastLoggedZxid: z(2, 3),
      configVersion: 0,
      now: 0,
    });
    const sent: QuorumPacket[] = [];
    const send = (effects: ObserverMasterEffect[]) => {
      for (const e of effects) if (e.type === 'send') sent.push(e.packet);
    };
    rig.master.step({ kind: 'connected', conn: 1 });
    const info = packet(
      PacketType.OBSERVERINFO,
      z(2, 0),
      encodeLearnerInfo({ sid: 4, protocolVersion: 0x10000, configVersion: 0 }),
    );
    send(rig.master.step({ kind: 'packet', conn: 1, packet: info }));
    send(
      rig.master.step({
        kind: 'packet',
        conn: 1,
        packet: packet(PacketType.ACKEPOCH, z(2, 3), encodeAckEpoch(2)),
      }),
    );
    // Two commits before the observer's NEWLEADER ACK, one after.
    send(rig.master.step({ kind: 'committed', zxid: z(2, 6), data: txn(2, 6).data }));
    send(rig.master.step({ kind: 'committed', zxid: z(2, 7), data: txn(2, 7).data }));
    send(rig.master.step({ kind: 'packet', conn: 1, packet: packet(PacketType.ACK, z(EPOCH, 0)) }));
    send(rig.master.step({ kind: 'committed', zxid: z(2, 8), data: txn(2, 8).data }));
    const label = (p: QuorumPacket) =>
      `${packetTypeName(p.type)} ${p.zxid === z(EPOCH, 0) ? 'E' : p.zxid < 0 ? '-' : p.zxid - z(2, 0)}`;
    assert.deepEqual(sent.map(label), [
      'LEADERINFO E',
      'DIFF 5',
      'INFORM 4',
      'INFORM 5',
      'NEWLEADER E',
      'INFORM 6',
      'INFORM 7',
      'UPTODATE -',
      'INFORM 8',
    ]);
    // The real learner takes that stream and applies everything once, in order.
    const applied: number[] = [];
    const feed = (effects: LearnerEffect[]) => {
      for (const e of effects) {
        if (e.type === 'apply') applied.push(e.zxid);
        if (e.type === 'log-append') feed(o.step({ kind: 'fsynced', zxid: e.zxid }));
        if (e.type === 'persist-epoch') feed(o.step({ kind: 'persisted', which: e.which, epoch: e.epoch }));
        if (e.type === 'stopped') throw new Error(e.reason);
      }
    };
    feed(o.step({ kind: 'connected' }));
    for (const p of sent) feed(o.step({ kind: 'packet', packet: p }));
    assert.deepEqual(applied, [z(2, 4), z(2, 5), z(2, 6), z(2, 7), z(2, 8)]);
  });

  test('a reconfig goes out as INFORMANDACTIVATE naming the leader of the new config', () => {
    const rig = new Rig(history(3));
    const o = rig.connect(1, 4, zxids(history(3)));
    const r = txn(2, 4, OpCode.reconfig);
    rig.commit(r, 3);
    const last = o.received.at(-1)!;
    assert.equal(last.type, PacketType.INFORMANDACTIVATE);
    assert.deepEqual(decodeInformAndActivate(last.data), { designatedLeader: 3, txn: r.data });
    assert.deepEqual(o.activations, [3]);
    assert.deepEqual(o.applied.at(-1), r.zxid);
    // A later observer gets it in its DIFF as a plain INFORM (NEWLEADER carries the config).
    const late = rig.connect(2, 5, zxids(history(3)));
    assert.deepEqual(types(late.received).slice(1, 3), ['DIFF', 'INFORM']);
    assert.deepEqual(late.applied.at(-1), r.zxid);
  });

  test('the master pings its observers every half tick with its last zxid; their touches join the follower table', () => {
    const rig = new Rig(history(2));
    const o = rig.connect(1, 4, zxids(history(2)));
    rig.now = 60;
    rig.step({ kind: 'tick', now: 60 });
    assert.equal(o.received.at(-1)!.type, PacketType.PING);
    assert.equal(o.received.at(-1)!.zxid, z(2, 2));
    assert.equal(o.pings, 1);
    const touches = [
      { sessionId: 0x400000001n, timeout: 4000 },
      { sessionId: 0x400000002n, timeout: 6000 },
    ];
    rig.step({
      kind: 'packet',
      conn: 1,
      packet: packet(PacketType.PING, z(2, 2), encodeTouchTable(touches)),
    });
    assert.deepEqual(rig.local, [{ type: 'touch', touches }]);
    // An empty table is nothing to report.
    rig.step({ kind: 'packet', conn: 1, packet: packet(PacketType.PING, z(2, 2), encodeTouchTable([])) });
    assert.equal(rig.local.length, 1);
    assert.deepEqual(decodeTouchTable(encodeTouchTable(touches)), touches);
  });
});

describe('ObserverMaster: relaying to the leader', () => {
  const req = (cxid: number, type: number) => ({
    sessionId: 0x400000001n,
    cxid,
    type,
    body: Buffer.from('body'),
    authinfo: [{ scheme: 'ip', id: '127.0.0.9' }],
  });

  test("an observer's writes go to the leader unchanged, on the follower's connection", () => {
    const rig = new Rig(history(1));
    const o = rig.connect(1, 4, zxids(history(1)));
    rig.observerInput(o, { kind: 'request', request: req(7, OpCode.create) });
    assert.deepEqual(rig.toLeader, [requestPacket(req(7, OpCode.create))]);
  });

  test('SYNC answers go back to whoever asked, in order: the follower itself or an observer', () => {
    const rig = new Rig(history(1));
    const a = rig.connect(1, 4, zxids(history(1)));
    const b = rig.connect(2, 5, zxids(history(1)));
    rig.step({ kind: 'local-sync' });
    rig.observerInput(b, { kind: 'request', request: req(1, OpCode.sync) });
    rig.observerInput(a, { kind: 'request', request: req(2, OpCode.sync) });
    rig.step({ kind: 'local-sync' });
    assert.equal(rig.toLeader.length, 2);
    rig.step({ kind: 'leader-sync' });
    assert.deepEqual(rig.local, [{ type: 'local-sync-done' }]);
    rig.step({ kind: 'leader-sync' });
    assert.deepEqual([a.syncsDone, b.syncsDone], [0, 1]);
    rig.step({ kind: 'leader-sync' });
    assert.deepEqual([a.syncsDone, b.syncsDone], [1, 1]);
    rig.step({ kind: 'leader-sync' });
    assert.deepEqual(rig.local, [{ type: 'local-sync-done' }, { type: 'local-sync-done' }]);
  });

  test("an observer's SYNC comes after every INFORM the leader committed before answering it", () => {
    const rig = new Rig(history(1));
    const o = rig.connect(1, 4, zxids(history(1)));
    rig.observerInput(o, { kind: 'request', request: req(1, OpCode.sync) });
    // The leader's COMMIT reaches the follower before its SYNC (one connection, in order).
    rig.commit(txn(2, 2));
    rig.step({ kind: 'leader-sync' });
    assert.deepEqual(types(o.received.slice(-2)), ['INFORM', 'SYNC']);
    assert.equal(o.syncsDone, 1);
    assert.equal(o.applied.at(-1), z(2, 2));
  });

  test('an answer for an observer that left is dropped, and later answers still go to the right asker', () => {
    const rig = new Rig(history(1));
    const a = rig.connect(1, 4, zxids(history(1)));
    rig.observerInput(a, { kind: 'request', request: req(1, OpCode.sync) });
    rig.step({ kind: 'local-sync' });
    rig.step({ kind: 'disconnected', conn: 1 });
    rig.observers.delete(1);
    rig.step({ kind: 'leader-sync' });
    assert.deepEqual(rig.local, []);
    rig.step({ kind: 'leader-sync' });
    assert.deepEqual(rig.local, [{ type: 'local-sync-done' }]);
  });

  test('REVALIDATE is relayed and its answer routed back by session, the follower keeping its own', () => {
    const rig = new Rig(history(1));
    const o = rig.connect(1, 4, zxids(history(1)));
    rig.step({ kind: 'local-revalidate', sessionId: 0x10n });
    rig.observerInput(o, { kind: 'revalidate', sessionId: 0x20n, timeout: 4000 });
    assert.equal(rig.toLeader.length, 1);
    assert.equal(rig.toLeader[0]!.type, PacketType.REVALIDATE);
    rig.step({ kind: 'leader-revalidated', sessionId: 0x10n, valid: true });
    assert.deepEqual(rig.local, [{ type: 'local-revalidated', sessionId: 0x10n, valid: true }]);
    rig.step({ kind: 'leader-revalidated', sessionId: 0x20n, valid: false });
    assert.deepEqual(o.revalidated, [{ sessionId: 0x20n, valid: false }]);
    const reply = o.received.at(-1)!;
    assert.deepEqual(decodeRevalidateReply(reply.data), { sessionId: 0x20n, valid: false });
  });
});

describe('ObserverMaster: who may sync from it', () => {
  const info = (sid: number, configVersion = 0) =>
    encodeLearnerInfo({ sid, protocolVersion: 0x10000, configVersion });

  function closeReason(rig: Rig, p: QuorumPacket): string {
    rig.step({ kind: 'connected', conn: 9 });
    rig.step({ kind: 'packet', conn: 9, packet: p });
    return rig.closed.get(9) ?? '';
  }

  test('observers only: a follower is turned away', () => {
    const rig = new Rig(history(1));
    assert.match(
      closeReason(rig, packet(PacketType.FOLLOWERINFO, z(2, 0), info(3))),
      /expected OBSERVERINFO/,
    );
  });

  test('nobody before the follower serves', () => {
    const rig = new Rig(history(1), { serving: false });
    const e = rig.step({ kind: 'connected', conn: 1 });
    assert.deepEqual(e, [{ type: 'close', conn: 1, reason: 'not synced with a leader yet' }]);
  });

  test('an observer with a later config, or claiming the master sid, is refused', () => {
    assert.match(
      closeReason(new Rig(history(1)), packet(PacketType.OBSERVERINFO, z(2, 0), info(4, 7))),
      /later activated configuration/,
    );
    assert.match(
      closeReason(new Rig(history(1)), packet(PacketType.OBSERVERINFO, z(2, 0), info(2))),
      /own sid 2/,
    );
  });

  test('an observer fed by a later epoch than the follower follows is refused (this master is behind)', () => {
    const rig = new Rig(history(1));
    rig.step({ kind: 'connected', conn: 1 });
    rig.step({ kind: 'packet', conn: 1, packet: packet(PacketType.OBSERVERINFO, z(5, 0), info(4)) });
    rig.step({ kind: 'packet', conn: 1, packet: packet(PacketType.ACKEPOCH, z(5, 2), encodeAckEpoch(5)) });
    assert.match(rig.closed.get(1)!, /epoch 5/);
  });

  test('a second connection from the same sid replaces the first', () => {
    const rig = new Rig(history(1));
    rig.connect(1, 4, zxids(history(1)));
    rig.connect(2, 4, zxids(history(1)));
    assert.match(rig.closed.get(1)!, /replaced/);
    assert.deepEqual(
      rig.master.learners().map((l) => l.conn),
      [2],
    );
  });

  test('a silent observer is dropped after observerSyncLimit ticks (initLimit while it syncs)', () => {
    const rig = new Rig(history(1));
    rig.connect(1, 4, zxids(history(1)));
    rig.step({ kind: 'connected', conn: 2 });
    rig.step({ kind: 'tick', now: 5 * 100 });
    assert.equal(rig.closed.size, 0);
    rig.step({ kind: 'tick', now: 5 * 100 + 1 });
    assert.equal(rig.closed.get(1), 'read timeout');
    assert.equal(rig.closed.has(2), false);
    rig.step({ kind: 'tick', now: 10 * 100 + 1 });
    assert.equal(rig.closed.get(2), 'read timeout');
  });

  test('an ACK for a txn is a protocol error (observers never ack)', () => {
    const rig = new Rig(history(1));
    rig.connect(1, 4, zxids(history(1)));
    rig.step({ kind: 'packet', conn: 1, packet: packet(PacketType.ACK, z(2, 1)) });
    assert.match(rig.closed.get(1)!, /ACK 0x200000001 from an observer/);
  });
});

describe('ObserverMaster: random schedules', () => {
  /** mulberry32: a small seeded PRNG, so a failing seed replays. */
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  test('observers joining, leaving and coming back at any point end with exactly the follower history', () => {
    const one = txn(2, 1).data.length + 24;
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const int = (n: number) => Math.floor(r() * n);
      // The txns the leader will commit, in order; a few are reconfigs.
      const future = Array.from({ length: 60 }, (_, i) =>
        txn(2, i + 1, int(12) === 0 ? OpCode.reconfig : OpCode.setData),
      );
      const start = int(15);
      const rig = new Rig(future.slice(0, start), {
        keep: int(start + 1),
        sizeLimit: (2 + int(20)) * one,
        answerPings: true,
      });
      let next = start;
      let conn = 0;
      const connected = new Map<number, Obs>();
      /** What each observer holds on disk, kept across its connections. */
      const disk = new Map<number, number[]>([4, 5, 6].map((sid) => [sid, [] as number[]]));
      try {
        for (let step = 0; step < 80; step++) {
          const sid = 4 + int(3);
          const roll = int(10);
          if (roll < 5 && next < future.length) {
            const p = future[next++]!;
            rig.commit(p, txnType(p) === OpCode.reconfig ? 1 : undefined);
          } else if (roll < 7 && !connected.has(sid)) {
            // Sometimes it comes from a master further on (a few txns ahead of this one).
            const ahead = int(4) === 0 ? future.slice(0, Math.min(future.length, next + 1 + int(3))) : null;
            const history = ahead ? zxids(ahead) : disk.get(sid)!;
            connected.set(sid, rig.connect(++conn, sid, history));
          } else if (roll < 9 && connected.has(sid)) {
            const o = connected.get(sid)!;
            disk.set(sid, o.applied.slice());
            connected.delete(sid);
            rig.observers.delete(o.conn);
            rig.step({ kind: 'disconnected', conn: o.conn });
          } else {
            rig.now += 30;
            rig.step({ kind: 'tick', now: rig.now });
          }
          for (const [s, o] of connected) {
            assert.ok(!rig.closed.has(o.conn), `observer ${s} dropped: ${rig.closed.get(o.conn)}`);
            assert.deepEqual(o.applied, zxids(rig.history), `observer ${s} after step ${step}`);
          }
        }
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}`);
      }
    }
  });
});

function txnType(p: Proposal): number {
  return p.data.readInt32BE(28);
}
