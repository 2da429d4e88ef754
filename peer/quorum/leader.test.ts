import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Leader, type LeaderEffect } from './leader.ts';
import {
  decodeLeaderInfo,
  encodeAckEpoch,
  encodeCommitAndActivate,
  encodeInformAndActivate,
  encodeLearnerInfo,
  PacketType,
  packet,
  packetTypeName,
  type QuorumPacket,
  requestPacket,
} from './packets.ts';
import type { ZabTiming } from './zab-common.ts';
import { prop, verifierFor, z } from './zab-testutil.ts';

const timing = { tickTime: 100, initLimit: 10, syncLimit: 5 };

function sends(effects: LeaderEffect[], conn?: number): QuorumPacket[] {
  return effects
    .filter((e): e is Extract<LeaderEffect, { type: 'send' }> => e.type === 'send')
    .filter((e) => conn === undefined || e.conn === conn)
    .map((e) => e.packet);
}

function types(ps: QuorumPacket[]): string[] {
  return ps.map((p) => packetTypeName(p.type));
}

function learnerInfo(type: number, sid: number, acceptedEpoch: number): QuorumPacket {
  return packet(
    type,
    z(acceptedEpoch, 0),
    encodeLearnerInfo({ sid, protocolVersion: 0x10000, configVersion: 0 }),
  );
}

/** Leader 1 of voters 1..3 (+ observer 4), with history (1,1)..(1,3). */
function newLeader(opts: { acceptedEpoch?: number; currentEpoch?: number; timing?: ZabTiming } = {}) {
  return new Leader({
    sid: 1,
    verifier: verifierFor([1, 2, 3], [4]),
    timing: opts.timing ?? timing,
    acceptedEpoch: opts.acceptedEpoch ?? 1,
    currentEpoch: opts.currentEpoch ?? 1,
    lastZxid: z(1, 3),
    committedLog: [prop(1, 1), prop(1, 2), prop(1, 3)],
    now: 0,
  });
}

/** Drives leader 1 with follower 2 (conn 2) to the broadcast phase; returns all effects. */
function establish(l: Leader, peerLastZxid = z(1, 3)): LeaderEffect[] {
  const all: LeaderEffect[] = [];
  const run = (e: LeaderEffect[]) => {
    all.push(...e);
    return e;
  };
  run(l.start());
  run(l.step({ kind: 'connected', conn: 2 }));
  run(l.step({ kind: 'packet', conn: 2, packet: learnerInfo(PacketType.FOLLOWERINFO, 2, 1) }));
  run(l.step({ kind: 'persisted', which: 'accepted', epoch: 2 }));
  run(
    l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACKEPOCH, peerLastZxid, encodeAckEpoch(1)) }),
  );
  run(l.step({ kind: 'persisted', which: 'current', epoch: 2 }));
  run(l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 0)) }));
  return all;
}

/** A learner with this sid (on conn `sid`) joins an established leader of epoch 2 and acks NEWLEADER. */
function join(l: Leader, sid: number, info: number = PacketType.FOLLOWERINFO): void {
  l.step({ kind: 'connected', conn: sid });
  l.step({ kind: 'packet', conn: sid, packet: learnerInfo(info, sid, 1) });
  l.step({ kind: 'packet', conn: sid, packet: packet(PacketType.ACKEPOCH, z(1, 3), encodeAckEpoch(1)) });
  l.step({ kind: 'packet', conn: sid, packet: packet(PacketType.ACK, z(2, 0)) });
}

/** Leader 1 of voters 1..3 with follower 2 and observer 4 connected and up to date. */
function withObserver(): Leader {
  const l = newLeader();
  establish(l);
  join(l, 4, PacketType.OBSERVERINFO);
  return l;
}

describe('Leader: discovery and synchronization', () => {
  test('settles the epoch with a quorum of voters, then LEADERINFO, ACKEPOCH, sync, NEWLEADER, UPTODATE', () => {
    const l = newLeader({ acceptedEpoch: 2 });
    assert.deepEqual(l.start(), [], 'alone it is no quorum');
    l.step({ kind: 'connected', conn: 7 });
    // Follower 2 accepted epoch 4 from some failed attempt: the new epoch must be above it.
    const e1 = l.step({ kind: 'packet', conn: 7, packet: learnerInfo(PacketType.FOLLOWERINFO, 2, 4) });
    assert.deepEqual(e1, [{ type: 'persist-epoch', which: 'accepted', epoch: 5 }]);
    assert.equal(l.epoch, 5);
    const e2 = l.step({ kind: 'persisted', which: 'accepted', epoch: 5 });
    assert.deepEqual(sends(e2), [packet(PacketType.LEADERINFO, z(5, 0), Buffer.from([0, 1, 0, 0]))]);
    assert.equal(decodeLeaderInfo(sends(e2)[0]!.data), 0x10000);
    assert.equal(l.phase, 'epoch-ack');
    const e3 = l.step({
      kind: 'packet',
      conn: 7,
      packet: packet(PacketType.ACKEPOCH, z(1, 2), encodeAckEpoch(1)),
    });
    assert.deepEqual(e3[0], { type: 'persist-epoch', which: 'current', epoch: 5 });
    assert.deepEqual(types(sends(e3, 7)), ['DIFF', 'PROPOSAL', 'COMMIT', 'NEWLEADER']);
    const [diff, proposal, commit, newLeaderPacket] = sends(e3, 7);
    assert.equal(diff!.zxid, z(1, 3));
    assert.equal(proposal!.zxid, z(1, 3));
    assert.deepEqual(proposal!.data, Buffer.from('txn 1.3'));
    assert.equal(commit!.zxid, z(1, 3));
    assert.equal(newLeaderPacket!.zxid, z(5, 0));
    assert.match(newLeaderPacket!.data!.toString(), /^server\.1=127\.0\.0\.1:2898:3898:participant\n/);
    assert.equal(l.phase, 'sync');
    // The NEWLEADER ACK alone is not enough: the leader's own currentEpoch must be durable.
    assert.deepEqual(l.step({ kind: 'packet', conn: 7, packet: packet(PacketType.ACK, z(5, 0)) }), []);
    const e4 = l.step({ kind: 'persisted', which: 'current', epoch: 5 });
    assert.deepEqual(e4, [
      { type: 'established', epoch: 5, lastZxid: z(1, 3) },
      { type: 'send', conn: 7, packet: packet(PacketType.UPTODATE, -1) },
    ]);
    assert.equal(l.phase, 'broadcast');
    assert.equal(l.nextZxid, z(5, 1));
    // The ACK after UPTODATE (counter 0) is ignored.
    assert.deepEqual(l.step({ kind: 'packet', conn: 7, packet: packet(PacketType.ACK, z(5, 0)) }), []);
  });

  test('observers push the epoch up but never count towards a quorum', () => {
    const l = newLeader();
    l.start();
    l.step({ kind: 'connected', conn: 4 });
    assert.deepEqual(
      l.step({ kind: 'packet', conn: 4, packet: learnerInfo(PacketType.OBSERVERINFO, 4, 6) }),
      [],
    );
    // A voter that sends OBSERVERINFO is an observer too.
    l.step({ kind: 'connected', conn: 3 });
    assert.deepEqual(
      l.step({ kind: 'packet', conn: 3, packet: learnerInfo(PacketType.OBSERVERINFO, 3, 1) }),
      [],
    );
    l.step({ kind: 'connected', conn: 2 });
    const e = l.step({ kind: 'packet', conn: 2, packet: learnerInfo(PacketType.FOLLOWERINFO, 2, 1) });
    assert.deepEqual(e, [{ type: 'persist-epoch', which: 'accepted', epoch: 7 }]);
    const e2 = l.step({ kind: 'persisted', which: 'accepted', epoch: 7 });
    assert.deepEqual(
      sends(e2).map((p) => p.type),
      [17, 17, 17],
    );
    // The observer's epoch ack does not make a quorum with the leader.
    const ackEpoch = (zxid: number) => packet(PacketType.ACKEPOCH, zxid, encodeAckEpoch(1));
    assert.deepEqual(l.step({ kind: 'packet', conn: 4, packet: ackEpoch(z(1, 1)) }), []);
    assert.deepEqual(l.step({ kind: 'packet', conn: 3, packet: ackEpoch(z(1, 1)) }), []);
    assert.equal(l.phase, 'epoch-ack');
    const e3 = l.step({ kind: 'packet', conn: 2, packet: ackEpoch(z(1, 1)) });
    assert.equal(l.phase, 'sync');
    // Observers are synced with INFORMs, never PROPOSALs; followers with PROPOSAL+COMMIT.
    assert.deepEqual(types(sends(e3, 4)), ['DIFF', 'INFORM', 'INFORM', 'NEWLEADER']);
    assert.deepEqual(types(sends(e3, 2)), ['DIFF', 'PROPOSAL', 'COMMIT', 'PROPOSAL', 'COMMIT', 'NEWLEADER']);
    // NEWLEADER acks from observers do not count either.
    l.step({ kind: 'persisted', which: 'current', epoch: 7 });
    assert.deepEqual(l.step({ kind: 'packet', conn: 4, packet: packet(PacketType.ACK, z(7, 0)) }), []);
    assert.deepEqual(l.step({ kind: 'packet', conn: 3, packet: packet(PacketType.ACK, z(7, 0)) }), []);
    const e4 = l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(7, 0)) });
    assert.equal(e4[0]?.type, 'established');
    assert.deepEqual(
      sends(e4).map((p) => p.type),
      [12, 12, 12],
    );
  });

  test('an ACKEPOCH of -1 (epoch already accepted) does not count', () => {
    const l = newLeader();
    l.start();
    l.step({ kind: 'connected', conn: 2 });
    l.step({ kind: 'packet', conn: 2, packet: learnerInfo(PacketType.FOLLOWERINFO, 2, 1) });
    l.step({ kind: 'persisted', which: 'accepted', epoch: 2 });
    assert.deepEqual(
      l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACKEPOCH, 0, encodeAckEpoch(-1)) }),
      [],
    );
    assert.equal(l.phase, 'epoch-ack');
  });

  test('drops a learner that is more recent than the leader (Follower is ahead)', () => {
    const l = newLeader();
    l.start();
    l.step({ kind: 'connected', conn: 2 });
    l.step({ kind: 'packet', conn: 2, packet: learnerInfo(PacketType.FOLLOWERINFO, 2, 1) });
    l.step({ kind: 'persisted', which: 'accepted', epoch: 2 });
    // Same currentEpoch, longer log.
    const e = l.step({
      kind: 'packet',
      conn: 2,
      packet: packet(PacketType.ACKEPOCH, z(1, 4), encodeAckEpoch(1)),
    });
    assert.equal(e.length, 1);
    assert.equal(e[0]!.type, 'close');
    assert.match((e[0] as { reason: string }).reason, /Follower is ahead of the leader/);
    assert.equal(l.phase, 'epoch-ack');
    // Higher currentEpoch, shorter log.
    l.step({ kind: 'connected', conn: 3 });
    l.step({ kind: 'packet', conn: 3, packet: learnerInfo(PacketType.FOLLOWERINFO, 3, 1) });
    const e2 = l.step({
      kind: 'packet',
      conn: 3,
      packet: packet(PacketType.ACKEPOCH, z(1, 1), encodeAckEpoch(2)),
    });
    assert.equal(e2[0]!.type, 'close');
  });

  test('refuses bad first packets, pre-1.0 learners, configs ahead of its own', () => {
    const l = newLeader();
    l.start();
    const first = (p: QuorumPacket) => {
      const conn = Math.floor(Math.random() * 1e9);
      l.step({ kind: 'connected', conn });
      return l.step({ kind: 'packet', conn, packet: p });
    };
    assert.match(JSON.stringify(first(packet(PacketType.ACK, 0))), /expected FOLLOWERINFO or OBSERVERINFO/);
    assert.match(JSON.stringify(first(packet(PacketType.FOLLOWERINFO, 0, null))), /without a server id/);
    const old = Buffer.alloc(12);
    old.writeBigInt64BE(2n, 0);
    old.writeInt32BE(1, 8);
    assert.match(JSON.stringify(first(packet(PacketType.FOLLOWERINFO, 0, old))), /pre-Zab 1\.0/);
    const ahead = encodeLearnerInfo({ sid: 2, protocolVersion: 0x10000, configVersion: 5 });
    assert.match(JSON.stringify(first(packet(PacketType.FOLLOWERINFO, 0, ahead))), /Follower is ahead/);
  });

  test('gives up when no quorum shows up within initLimit ticks', () => {
    const l = newLeader();
    l.start();
    assert.deepEqual(l.step({ kind: 'tick', now: 1000 }), []);
    const e = l.step({ kind: 'tick', now: 1001 });
    assert.deepEqual(e, [{ type: 'stopped', reason: 'Timeout while waiting for epoch from quorum' }]);
    assert.equal(l.phase, 'stopped');
    assert.deepEqual(l.step({ kind: 'connected', conn: 9 }), [
      { type: 'close', conn: 9, reason: 'not leading' },
    ]);
  });
});

describe('Leader: broadcast', () => {
  test('proposes to followers, commits on a voter quorum in zxid order, COMMIT to followers, INFORM to observers', () => {
    const l = withObserver();
    const a = Buffer.from('a');
    const b = Buffer.from('b');
    const p1 = l.step({ kind: 'propose', zxid: z(2, 1), data: a });
    assert.deepEqual(p1, [
      { type: 'log-append', zxid: z(2, 1), data: a },
      { type: 'send', conn: 2, packet: packet(PacketType.PROPOSAL, z(2, 1), a) },
    ]);
    l.step({ kind: 'propose', zxid: z(2, 2), data: b });
    assert.throws(() => l.step({ kind: 'propose', zxid: z(2, 5), data: b }), /expected 0x200000003/);
    // The follower acks the second one first; the leader's own fsync covers both.
    assert.deepEqual(l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 2)) }), []);
    const f = l.step({ kind: 'fsynced', zxid: z(2, 2) });
    assert.deepEqual(f, [], '(2,1) has only the leader, so (2,2) must wait too');
    const c = l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 1)) });
    assert.deepEqual(c, [
      { type: 'apply', zxid: z(2, 1), data: a },
      { type: 'send', conn: 2, packet: packet(PacketType.COMMIT, z(2, 1)) },
      { type: 'send', conn: 4, packet: packet(PacketType.INFORM, z(2, 1), a) },
      { type: 'apply', zxid: z(2, 2), data: b },
      { type: 'send', conn: 2, packet: packet(PacketType.COMMIT, z(2, 2)) },
      { type: 'send', conn: 4, packet: packet(PacketType.INFORM, z(2, 2), b) },
    ]);
    assert.equal(l.lastCommittedZxid, z(2, 2));
  });

  test('an observer ACK for a txn, or a PROPOSAL from a learner, drops that learner', () => {
    const l = withObserver();
    l.step({ kind: 'propose', zxid: z(2, 1), data: Buffer.from('x') });
    const e = l.step({ kind: 'packet', conn: 4, packet: packet(PacketType.ACK, z(2, 1)) });
    assert.deepEqual(e, [
      { type: 'close', conn: 4, reason: 'protocol error: ACK 0x200000001 from an observer' },
    ]);
    const e2 = l.step({
      kind: 'packet',
      conn: 2,
      packet: packet(PacketType.PROPOSAL, z(2, 9), Buffer.from('?')),
    });
    assert.equal(e2[0]!.type, 'close');
    assert.match(
      (e2[0] as { reason: string }).reason,
      /protocol error: PROPOSAL 0x200000009 .* from a learner/,
    );
  });

  test('a learner joining during broadcast gets the committed txns, then the outstanding proposals', () => {
    const l = newLeader();
    establish(l);
    l.step({ kind: 'propose', zxid: z(2, 1), data: Buffer.from('1') });
    l.step({ kind: 'fsynced', zxid: z(2, 1) });
    l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 1)) });
    l.step({ kind: 'propose', zxid: z(2, 2), data: Buffer.from('2') });
    l.step({ kind: 'connected', conn: 3 });
    const info = l.step({ kind: 'packet', conn: 3, packet: learnerInfo(PacketType.FOLLOWERINFO, 3, 1) });
    assert.deepEqual(types(sends(info)), ['LEADERINFO']);
    const e = l.step({
      kind: 'packet',
      conn: 3,
      packet: packet(PacketType.ACKEPOCH, z(1, 2), encodeAckEpoch(1)),
    });
    assert.deepEqual(types(sends(e)), [
      'DIFF',
      'PROPOSAL',
      'COMMIT',
      'PROPOSAL',
      'COMMIT',
      'PROPOSAL',
      'NEWLEADER',
    ]);
    assert.deepEqual(
      sends(e).map((p) => p.zxid),
      [z(2, 1), z(1, 3), z(1, 3), z(2, 1), z(2, 1), z(2, 2), z(2, 0)],
    );
    // Its ACK of the outstanding proposal counts once it has acked NEWLEADER.
    assert.deepEqual(
      types(sends(l.step({ kind: 'packet', conn: 3, packet: packet(PacketType.ACK, z(2, 0)) }))),
      ['UPTODATE'],
    );
    l.step({ kind: 'fsynced', zxid: z(2, 2) });
    const c = l.step({ kind: 'packet', conn: 3, packet: packet(PacketType.ACK, z(2, 2)) });
    assert.deepEqual(c[0], { type: 'apply', zxid: z(2, 2), data: Buffer.from('2') });
  });

  test('a follower that reconnects loses the ACKs it sent before: it may truncate them away', () => {
    // Found by the simulation (the bug seems to exist in ZooKeeper's Leader too): follower 2 logs and
    // acks (2,1); it reconnects, gets TRUNC to the last committed zxid (its log is past it) and the
    // proposal again; if it crashed before logging it anew, a commit counted on its old ACK would rest
    // on one copy only.
    const l = newLeader();
    establish(l);
    l.step({ kind: 'propose', zxid: z(2, 1), data: Buffer.from('1') });
    assert.deepEqual(l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 1)) }), []);
    l.step({ kind: 'connected', conn: 12 });
    const info = l.step({ kind: 'packet', conn: 12, packet: learnerInfo(PacketType.FOLLOWERINFO, 2, 2) });
    assert.deepEqual(info[0], { type: 'close', conn: 2, reason: 'replaced by a new connection from sid 2' });
    const sync = l.step({
      kind: 'packet',
      conn: 12,
      packet: packet(PacketType.ACKEPOCH, z(2, 1), encodeAckEpoch(-1)),
    });
    assert.deepEqual(types(sends(sync)), ['TRUNC', 'PROPOSAL', 'NEWLEADER']);
    assert.deepEqual(l.step({ kind: 'fsynced', zxid: z(2, 1) }), [], 'the old ACK does not count any more');
    l.step({ kind: 'packet', conn: 12, packet: packet(PacketType.ACK, z(2, 0)) });
    const c = l.step({ kind: 'packet', conn: 12, packet: packet(PacketType.ACK, z(2, 1)) });
    assert.equal(c[0]?.type, 'apply');
  });

  test('a learner far behind gets a snapshot; one ahead in the same epoch is truncated', () => {
    const l = new Leader({
      sid: 1,
      verifier: verifierFor([1, 2, 3]),
      timing,
      acceptedEpoch: 1,
      currentEpoch: 1,
      lastZxid: z(1, 3),
      committedLog: [prop(1, 2), prop(1, 3)],
      now: 0,
    });
    const e = establish(l, z(1, 1)).filter((x) => x.type === 'send-snapshot');
    assert.deepEqual(e, [{ type: 'send-snapshot', conn: 2, zxid: z(1, 3) }]);
    l.step({ kind: 'connected', conn: 3 });
    l.step({ kind: 'packet', conn: 3, packet: learnerInfo(PacketType.FOLLOWERINFO, 3, 1) });
    const t = l.step({
      kind: 'packet',
      conn: 3,
      packet: packet(PacketType.ACKEPOCH, z(1, 7), encodeAckEpoch(1)),
    });
    assert.deepEqual(types(sends(t)), ['TRUNC', 'NEWLEADER']);
    assert.equal(sends(t)[0]!.zxid, z(1, 3));
  });

  test('steps down for a voter that accepted a later epoch, so that the next election lets it in', () => {
    const l = newLeader();
    establish(l);
    l.step({ kind: 'connected', conn: 3 });
    // Acceptance of this very epoch is fine (a reconnect): it acks with -1.
    assert.deepEqual(
      types(sends(l.step({ kind: 'packet', conn: 3, packet: learnerInfo(PacketType.FOLLOWERINFO, 3, 2) }))),
      ['LEADERINFO'],
    );
    l.step({ kind: 'connected', conn: 5 });
    const e = l.step({ kind: 'packet', conn: 5, packet: learnerInfo(PacketType.FOLLOWERINFO, 3, 3) });
    assert.equal(l.phase, 'stopped');
    assert.match(l.stopReason!, /voter 3 accepted epoch 3, above this epoch 2/);
    assert.ok(e.some((x) => x.type === 'close' && x.conn === 2));
    // An observer with a later accepted epoch does not disturb the leader.
    const k = newLeader();
    establish(k);
    k.step({ kind: 'connected', conn: 4 });
    const o = k.step({ kind: 'packet', conn: 4, packet: learnerInfo(PacketType.OBSERVERINFO, 4, 9) });
    assert.deepEqual(types(sends(o)), ['LEADERINFO']);
    assert.equal(k.phase, 'broadcast');
  });

  test('sync requests are answered once the proposals outstanding at that time commit', () => {
    const l = newLeader();
    establish(l);
    assert.deepEqual(l.step({ kind: 'sync', conn: 2 }), [
      { type: 'send', conn: 2, packet: packet(PacketType.SYNC, 0) },
    ]);
    l.step({ kind: 'propose', zxid: z(2, 1), data: Buffer.from('1') });
    assert.deepEqual(l.step({ kind: 'sync', conn: 2 }), []);
    l.step({ kind: 'fsynced', zxid: z(2, 1) });
    const e = l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 1)) });
    assert.deepEqual(types(sends(e)), ['COMMIT', 'SYNC']);
  });

  test('forwards learner requests, touches and revalidations to the shell', () => {
    const l = newLeader();
    establish(l);
    const req = requestPacket({ sessionId: 5n, cxid: 1, type: 1, body: Buffer.from([1]), authinfo: [] });
    assert.deepEqual(l.step({ kind: 'packet', conn: 2, packet: req }), [
      {
        type: 'learner-request',
        conn: 2,
        sid: 2,
        request: { sessionId: 5n, cxid: 1, type: 1, body: Buffer.from([1]), authinfo: [] },
      },
    ]);
    const table = Buffer.alloc(12);
    table.writeBigInt64BE(5n, 0);
    table.writeInt32BE(4000, 8);
    assert.deepEqual(l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.PING, z(2, 0), table) }), [
      { type: 'touch', sid: 2, touches: [{ sessionId: 5n, timeout: 4000 }] },
    ]);
    const rv = Buffer.alloc(12);
    rv.writeBigInt64BE(5n, 0);
    rv.writeInt32BE(4000, 8);
    assert.deepEqual(l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.REVALIDATE, -1, rv) }), [
      { type: 'revalidate', conn: 2, sid: 2, sessionId: 5n, timeout: 4000 },
    ]);
    const reply = l.step({ kind: 'revalidated', conn: 2, sessionId: 5n, valid: true });
    assert.deepEqual(sends(reply)[0]!.data, Buffer.from('000000000000000501', 'hex'));
  });

  test('pings learners every half tick and stops when the synced voters are no quorum', () => {
    const l = newLeader();
    establish(l);
    const e = l.step({ kind: 'tick', now: 50 });
    assert.deepEqual(sends(e), [packet(PacketType.PING, z(2, 0))]);
    l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.PING, z(2, 0), Buffer.alloc(0)) });
    // Follower 2 goes silent: after syncLimit ticks it is no longer synced and is dropped.
    const out: LeaderEffect[] = [];
    for (let t = 100; t <= 700; t += 50) out.push(...l.step({ kind: 'tick', now: t }));
    assert.equal(l.phase, 'stopped');
    assert.match(l.stopReason!, /Not sufficient followers synced|read timeout/);
    assert.ok(out.some((x) => x.type === 'stopped'));
  });
});

describe('Leader: observer timeouts', () => {
  test('a silent observer is dropped after observerSyncLimit ticks, not syncLimit', () => {
    const t = { ...timing, observerSyncLimit: 20 };
    const l = newLeader({ timing: t });
    establish(l);
    join(l, 4, PacketType.OBSERVERINFO);
    const closedObserver = (effects: LeaderEffect[]) =>
      effects.some((e) => e.type === 'close' && e.conn === 4);
    let closedAt = -1;
    for (let tick = 1; tick <= 25 && closedAt < 0; tick++) {
      const now = tick * t.tickTime;
      // The follower keeps answering; the observer says nothing.
      l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.PING, z(2, 0)) });
      if (closedObserver(l.step({ kind: 'tick', now }))) closedAt = tick;
    }
    assert.equal(closedAt, t.observerSyncLimit + 1, 'closed on the first tick past observerSyncLimit');
    assert.ok(closedAt > t.syncLimit + 1);
  });
});

describe('Leader: reconfig', () => {
  test('commits with both quorums, then COMMITANDACTIVATE to followers and INFORMANDACTIVATE to observers', () => {
    const l = withObserver();
    const next = verifierFor([1, 2, 3], [4, 5], z(2, 1));
    const data = Buffer.from('reconfig');
    l.step({ kind: 'propose', zxid: z(2, 1), data, config: next });
    assert.equal(l.reconfigInProgress, true);
    assert.equal(l.lastSeenVerifier, next);
    assert.throws(
      () => l.step({ kind: 'propose', zxid: z(2, 2), data, config: next }),
      /already in progress/,
    );
    l.step({ kind: 'fsynced', zxid: z(2, 1) });
    const e = l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 1)) });
    assert.deepEqual(e, [
      { type: 'apply', zxid: z(2, 1), data },
      {
        type: 'send',
        conn: 2,
        packet: packet(PacketType.COMMITANDACTIVATE, z(2, 1), encodeCommitAndActivate(1)),
      },
      {
        type: 'send',
        conn: 4,
        packet: packet(PacketType.INFORMANDACTIVATE, z(2, 1), encodeInformAndActivate(1, data)),
      },
      { type: 'activate', zxid: z(2, 1), designatedLeader: 1 },
    ]);
    assert.equal(l.reconfigInProgress, false);
    assert.equal(l.lastSeenVerifier, next);
  });

  test('while a voter is being added, proposals need a quorum of the new voters too', () => {
    const l = newLeader();
    establish(l);
    // Voter 5 joins as a follower before it is a member (it is not in the config yet).
    join(l, 5);
    // Voters {1,2,3} -> {1,2,3,5}: the new config's quorum is 3 of 4.
    const next = verifierFor([1, 2, 3, 5], [4], z(2, 1));
    l.step({ kind: 'propose', zxid: z(2, 1), data: Buffer.from('r'), config: next });
    l.step({ kind: 'propose', zxid: z(2, 2), data: Buffer.from('w') });
    l.step({ kind: 'fsynced', zxid: z(2, 2) });
    l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 1)) });
    const two = l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 2)) });
    assert.deepEqual(two, [], '{1,2} is a quorum of the old config only');
    const three = [
      ...l.step({ kind: 'packet', conn: 5, packet: packet(PacketType.ACK, z(2, 1)) }),
      ...l.step({ kind: 'packet', conn: 5, packet: packet(PacketType.ACK, z(2, 2)) }),
    ];
    assert.deepEqual(
      three.filter((x) => x.type === 'apply').map((x) => (x as { zxid: number }).zxid),
      [z(2, 1), z(2, 2)],
    );
    assert.ok(three.some((x) => x.type === 'activate'));
    assert.deepEqual([...l.syncedFollowers()].sort(), [1, 2, 5]);
  });

  test('an ACK does not outlive a re-sync, even when the learner comes back as an observer', () => {
    // Found by the Zab simulation (sim/zab-sim.test.ts, reconfig runs): the server being added as a
    // voter acks the reconfig as a follower, restarts as an observer, and the TRUNC of its sync
    // removes the txn it acked. Its old ACK must not help commit the reconfig.
    const l = newLeader();
    establish(l);
    join(l, 5);
    const next = verifierFor([1, 2, 3, 5], [4], z(2, 1));
    l.step({ kind: 'propose', zxid: z(2, 1), data: Buffer.from('r'), config: next });
    l.step({ kind: 'fsynced', zxid: z(2, 1) });
    l.step({ kind: 'packet', conn: 5, packet: packet(PacketType.ACK, z(2, 1)) });
    l.step({ kind: 'disconnected', conn: 5 });
    l.step({ kind: 'connected', conn: 6 });
    l.step({ kind: 'packet', conn: 6, packet: learnerInfo(PacketType.OBSERVERINFO, 5, 2) });
    const sync = l.step({
      kind: 'packet',
      conn: 6,
      packet: packet(PacketType.ACKEPOCH, z(2, 1), encodeAckEpoch(2)),
    });
    assert.equal(types(sends(sync, 6))[0], 'TRUNC');
    const e = l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 1)) });
    assert.deepEqual(
      e.filter((x) => x.type === 'apply'),
      [],
      '{1,2} plus the void ACK of 5 is no quorum of {1,2,3,5}',
    );
    assert.equal(l.reconfigInProgress, true);
  });

  test('a leader that the reconfig turns into a non-voter names an acking voter and steps down', () => {
    const l = withObserver();
    join(l, 3);
    const next = verifierFor([2, 3], [1, 4], z(2, 1));
    l.step({ kind: 'propose', zxid: z(2, 1), data: Buffer.from('r'), config: next });
    l.step({ kind: 'fsynced', zxid: z(2, 1) });
    l.step({ kind: 'packet', conn: 3, packet: packet(PacketType.ACK, z(2, 1)) });
    const e = l.step({ kind: 'packet', conn: 2, packet: packet(PacketType.ACK, z(2, 1)) });
    assert.deepEqual(
      e.find((x) => x.type === 'activate'),
      {
        type: 'activate',
        zxid: z(2, 1),
        designatedLeader: 2,
      },
    );
    assert.equal(l.phase, 'stopped');
    assert.ok(e.some((x) => x.type === 'stopped'));
  });
});
