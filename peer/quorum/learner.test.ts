import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Learner, type LearnerEffect, type LearnerRole } from './learner.ts';
import {
  decodeLearnerInfo,
  encodeInformAndActivate,
  encodeLeaderInfo,
  encodeQuorumPacket,
  encodeRevalidateReply,
  PacketType,
  packet,
  type QuorumPacket,
} from './packets.ts';
import { z } from './zab-testutil.ts';

const timing = { tickTime: 100, initLimit: 10, syncLimit: 5 };

function newLearner(
  role: LearnerRole = 'follower',
  o: { accepted?: number; current?: number; last?: number } = {},
) {
  return new Learner({
    sid: 2,
    role,
    timing,
    acceptedEpoch: o.accepted ?? 1,
    currentEpoch: o.current ?? 1,
    lastLoggedZxid: o.last ?? z(1, 2),
    configVersion: 0,
    now: 0,
  });
}

const pkt = (l: Learner, p: QuorumPacket) => l.step({ kind: 'packet', packet: p });
const data = (s: string) => Buffer.from(s);

function sent(effects: LearnerEffect[]): QuorumPacket[] {
  return effects.flatMap((e) => (e.type === 'send' ? [e.packet] : []));
}

/** Connect, accept epoch 2 and ack it. */
function handshake(l: Learner): LearnerEffect[] {
  const all = [...l.step({ kind: 'connected' })];
  all.push(...pkt(l, packet(PacketType.LEADERINFO, z(2, 0), encodeLeaderInfo())));
  all.push(...l.step({ kind: 'persisted', which: 'accepted', epoch: 2 }));
  return all;
}

describe('Learner: handshake', () => {
  test('a follower sends FOLLOWERINFO, persists the new epoch, then ACKEPOCH with its currentEpoch', () => {
    const l = newLearner();
    const c = l.step({ kind: 'connected' });
    assert.equal(c.length, 1);
    const info = sent(c)[0]!;
    assert.deepEqual(
      encodeQuorumPacket(info),
      Buffer.from('0000000b0000000100000000000000140000000000000002000100000000000000000000ffffffff', 'hex'),
    );
    assert.deepEqual(decodeLearnerInfo(info.data), { sid: 2, protocolVersion: 0x10000, configVersion: 0 });
    const e = pkt(l, packet(PacketType.LEADERINFO, z(2, 0), encodeLeaderInfo()));
    assert.deepEqual(e, [{ type: 'persist-epoch', which: 'accepted', epoch: 2 }]);
    const a = l.step({ kind: 'persisted', which: 'accepted', epoch: 2 });
    assert.deepEqual(sent(a), [packet(PacketType.ACKEPOCH, z(1, 2), Buffer.from([0, 0, 0, 1]))]);
    assert.equal(l.phase, 'sync-mode');
  });

  test('an observer sends OBSERVERINFO', () => {
    const l = newLearner('observer', { accepted: 3 });
    const info = sent(l.step({ kind: 'connected' }))[0]!;
    assert.equal(info.type, PacketType.OBSERVERINFO);
    assert.equal(info.zxid, z(3, 0));
  });

  test('an epoch it already accepted is acked with -1; a lower one is refused', () => {
    const same = newLearner('follower', { accepted: 2 });
    same.step({ kind: 'connected' });
    const e = pkt(same, packet(PacketType.LEADERINFO, z(2, 0), encodeLeaderInfo()));
    assert.deepEqual(sent(e), [packet(PacketType.ACKEPOCH, z(1, 2), Buffer.from([0xff, 0xff, 0xff, 0xff]))]);
    const lower = newLearner('follower', { accepted: 3 });
    lower.step({ kind: 'connected' });
    const r = pkt(lower, packet(PacketType.LEADERINFO, z(2, 0), encodeLeaderInfo()));
    assert.deepEqual(r, [{ type: 'stopped', reason: 'Leaders epoch, 2 is less than accepted epoch, 3' }]);
    assert.equal(lower.phase, 'stopped');
    assert.deepEqual(pkt(lower, packet(PacketType.DIFF, 0)), [], 'a stopped learner ignores everything');
  });

  test('an observer may follow an epoch below the one it accepted: its ack never counts', () => {
    const l = newLearner('observer', { accepted: 8, current: 6 });
    l.step({ kind: 'connected' });
    const e = pkt(l, packet(PacketType.LEADERINFO, z(7, 0), encodeLeaderInfo()));
    assert.deepEqual(sent(e), [packet(PacketType.ACKEPOCH, z(1, 2), Buffer.from([0xff, 0xff, 0xff, 0xff]))]);
    pkt(l, packet(PacketType.DIFF, z(1, 2)));
    // Epoch 7 is above its currentEpoch 6: persisted as usual.
    assert.deepEqual(pkt(l, packet(PacketType.NEWLEADER, z(7, 0))), [
      { type: 'persist-epoch', which: 'current', epoch: 7 },
    ]);
    // Following an epoch at or below its currentEpoch: nothing to persist, the ACK goes at once.
    const o = newLearner('observer', { accepted: 8, current: 8 });
    o.step({ kind: 'connected' });
    pkt(o, packet(PacketType.LEADERINFO, z(7, 0), encodeLeaderInfo()));
    pkt(o, packet(PacketType.DIFF, z(1, 2)));
    assert.deepEqual(sent(pkt(o, packet(PacketType.NEWLEADER, z(7, 0)))), [packet(PacketType.ACK, z(7, 0))]);
  });

  test('a pre-Zab-1.0 leader (NEWLEADER first) is refused', () => {
    const l = newLearner();
    l.step({ kind: 'connected' });
    const e = pkt(l, packet(PacketType.NEWLEADER, z(2, 0)));
    assert.equal(e[0]?.type, 'stopped');
  });
});

describe('Learner: sync', () => {
  test('DIFF: logs the whole sync at NEWLEADER, persists currentEpoch after the fsync, then ACKs', () => {
    const l = newLearner();
    handshake(l);
    assert.deepEqual(pkt(l, packet(PacketType.DIFF, z(1, 4))), []);
    pkt(l, packet(PacketType.PROPOSAL, z(1, 3), data('t13')));
    pkt(l, packet(PacketType.COMMIT, z(1, 3)));
    pkt(l, packet(PacketType.PROPOSAL, z(1, 4), data('t14')));
    pkt(l, packet(PacketType.COMMIT, z(1, 4)));
    pkt(l, packet(PacketType.PROPOSAL, z(2, 1), data('t21'))); // outstanding, not committed yet
    assert.deepEqual(pkt(l, packet(PacketType.PING, z(2, 1))), [], 'pings are ignored during sync');
    const nl = pkt(l, packet(PacketType.NEWLEADER, z(2, 0), data('server.1=x:1:2:participant\nversion=0')));
    assert.deepEqual(nl, [
      { type: 'leader-config', text: 'server.1=x:1:2:participant\nversion=0' },
      { type: 'log-append', zxid: z(1, 3), data: data('t13') },
      { type: 'log-append', zxid: z(1, 4), data: data('t14') },
      { type: 'log-append', zxid: z(2, 1), data: data('t21') },
    ]);
    assert.equal(l.phase, 'flushing');
    assert.deepEqual(l.step({ kind: 'fsynced', zxid: z(1, 4) }), [], 'not all of the sync is durable yet');
    assert.deepEqual(l.step({ kind: 'fsynced', zxid: z(2, 1) }), [
      { type: 'persist-epoch', which: 'current', epoch: 2 },
    ]);
    const ack = l.step({ kind: 'persisted', which: 'current', epoch: 2 });
    assert.deepEqual(sent(ack), [packet(PacketType.ACK, z(2, 0)), packet(PacketType.ACK, z(2, 1))]);
    assert.equal(l.phase, 'synced');
    // The outstanding proposal commits; nothing is applied before UPTODATE (the leader may not be
    // established yet), then everything is, in order.
    assert.deepEqual(pkt(l, packet(PacketType.COMMIT, z(2, 1))), []);
    const up = pkt(l, packet(PacketType.UPTODATE, -1));
    assert.deepEqual(up, [
      { type: 'apply', zxid: z(1, 3), data: data('t13') },
      { type: 'apply', zxid: z(1, 4), data: data('t14') },
      { type: 'apply', zxid: z(2, 1), data: data('t21') },
      { type: 'send', packet: packet(PacketType.ACK, z(2, 0)) },
      { type: 'uptodate', epoch: 2 },
    ]);
    assert.ok(l.serving);
  });

  test('SNAP: snapshot first, skips txns the snapshot holds, ACK only after snapshot and epoch are durable', () => {
    const l = newLearner();
    handshake(l);
    pkt(l, packet(PacketType.SNAP, z(1, 9)));
    assert.deepEqual(pkt(l, packet(PacketType.PROPOSAL, z(1, 8), data('old'))), []);
    assert.deepEqual(pkt(l, packet(PacketType.COMMIT, z(1, 8))), []);
    pkt(l, packet(PacketType.PROPOSAL, z(1, 10), data('new')));
    pkt(l, packet(PacketType.COMMIT, z(1, 10)));
    const nl = pkt(l, packet(PacketType.NEWLEADER, z(2, 0)));
    assert.deepEqual(nl, [
      { type: 'take-snapshot', zxid: z(1, 9) },
      { type: 'log-append', zxid: z(1, 10), data: data('new') },
    ]);
    assert.deepEqual(l.step({ kind: 'fsynced', zxid: z(1, 10) }), []);
    assert.deepEqual(l.step({ kind: 'snapshotted', zxid: z(1, 9) }), [
      { type: 'persist-epoch', which: 'current', epoch: 2 },
    ]);
    assert.deepEqual(sent(l.step({ kind: 'persisted', which: 'current', epoch: 2 })), [
      packet(PacketType.ACK, z(2, 0)),
    ]);
  });

  test('TRUNC: truncates the log; an empty sync persists the epoch at once', () => {
    const l = newLearner('follower', { last: z(1, 7) });
    handshake(l);
    assert.deepEqual(pkt(l, packet(PacketType.TRUNC, z(1, 5))), [{ type: 'truncate-log', zxid: z(1, 5) }]);
    assert.deepEqual(pkt(l, packet(PacketType.NEWLEADER, z(2, 0))), [
      { type: 'persist-epoch', which: 'current', epoch: 2 },
    ]);
  });

  test('protocol errors during sync stop the learner', () => {
    const cases: Array<[string, (l: Learner) => LearnerEffect[]]> = [
      ['no DIFF/TRUNC/SNAP first', (l) => pkt(l, packet(PacketType.PROPOSAL, z(1, 3), data('x')))],
      [
        'COMMIT without its proposal',
        (l) => {
          pkt(l, packet(PacketType.DIFF, 0));
          return pkt(l, packet(PacketType.COMMIT, z(1, 3)));
        },
      ],
      [
        'a gap inside an epoch',
        (l) => {
          pkt(l, packet(PacketType.DIFF, 0));
          pkt(l, packet(PacketType.PROPOSAL, z(1, 3), data('x')));
          return pkt(l, packet(PacketType.PROPOSAL, z(1, 5), data('y')));
        },
      ],
      [
        'NEWLEADER of another epoch',
        (l) => {
          pkt(l, packet(PacketType.DIFF, 0));
          return pkt(l, packet(PacketType.NEWLEADER, z(3, 0)));
        },
      ],
      [
        'INFORM to a follower',
        (l) => {
          pkt(l, packet(PacketType.DIFF, 0));
          return pkt(l, packet(PacketType.INFORM, z(1, 3), data('x')));
        },
      ],
      [
        'UPTODATE before NEWLEADER',
        (l) => {
          pkt(l, packet(PacketType.DIFF, 0));
          return pkt(l, packet(PacketType.UPTODATE, -1));
        },
      ],
    ];
    for (const [name, run] of cases) {
      const l = newLearner();
      handshake(l);
      const e = run(l);
      assert.equal(e.at(-1)?.type, 'stopped', name);
      assert.match((e.at(-1) as { reason: string }).reason, /^protocol error/, name);
    }
  });

  test('a new epoch may follow a gap (DIFF across epochs)', () => {
    const l = newLearner();
    handshake(l);
    pkt(l, packet(PacketType.DIFF, 0));
    pkt(l, packet(PacketType.PROPOSAL, z(1, 3), data('x')));
    assert.deepEqual(pkt(l, packet(PacketType.PROPOSAL, z(2, 1), data('y'))), []);
  });
});

/** A learner in broadcast (epoch 2, empty sync). */
function serving(role: LearnerRole): Learner {
  const l = newLearner(role);
  handshake(l);
  pkt(l, packet(PacketType.DIFF, z(1, 2)));
  pkt(l, packet(PacketType.NEWLEADER, z(2, 0)));
  l.step({ kind: 'persisted', which: 'current', epoch: 2 });
  pkt(l, packet(PacketType.UPTODATE, -1));
  assert.ok(l.serving);
  return l;
}

describe('Learner: broadcast', () => {
  test('a follower logs and ACKs proposals once durable, in order, and applies on COMMIT', () => {
    const l = serving('follower');
    assert.deepEqual(pkt(l, packet(PacketType.PROPOSAL, z(2, 1), data('a'))), [
      { type: 'log-append', zxid: z(2, 1), data: data('a') },
    ]);
    pkt(l, packet(PacketType.PROPOSAL, z(2, 2), data('b')));
    assert.deepEqual(pkt(l, packet(PacketType.COMMIT, z(2, 1))), [
      { type: 'apply', zxid: z(2, 1), data: data('a') },
    ]);
    assert.deepEqual(sent(l.step({ kind: 'fsynced', zxid: z(2, 2) })), [
      packet(PacketType.ACK, z(2, 1)),
      packet(PacketType.ACK, z(2, 2)),
    ]);
    const bad = pkt(l, packet(PacketType.COMMIT, z(2, 3)));
    assert.deepEqual(bad, [
      { type: 'stopped', reason: 'protocol error: COMMIT 0x200000003, but the next proposal is 0x200000002' },
    ]);
  });

  test('an observer logs and applies INFORMs and never ACKs them', () => {
    const l = serving('observer');
    const e = pkt(l, packet(PacketType.INFORM, z(2, 1), data('a')));
    assert.deepEqual(e, [
      { type: 'log-append', zxid: z(2, 1), data: data('a') },
      { type: 'apply', zxid: z(2, 1), data: data('a') },
    ]);
    assert.deepEqual(sent(l.step({ kind: 'fsynced', zxid: z(2, 1) })), []);
    const act = pkt(l, packet(PacketType.INFORMANDACTIVATE, z(2, 2), encodeInformAndActivate(3, data('r'))));
    assert.deepEqual(act, [
      { type: 'log-append', zxid: z(2, 2), data: data('r') },
      { type: 'apply', zxid: z(2, 2), data: data('r') },
      { type: 'activate', zxid: z(2, 2), designatedLeader: 3 },
    ]);
  });

  test('an observer that receives a PROPOSAL (or COMMIT) after UPTODATE drops the connection', () => {
    const l = serving('observer');
    const e = pkt(l, packet(PacketType.PROPOSAL, z(2, 1), data('a')));
    assert.equal(e.length, 1);
    assert.equal(e[0]!.type, 'stopped');
    assert.match(
      (e[0] as { reason: string }).reason,
      /^protocol error: observer received PROPOSAL 0x200000001/,
    );
    const c = serving('observer');
    assert.equal(pkt(c, packet(PacketType.COMMIT, z(2, 1)))[0]?.type, 'stopped');
  });

  test('an observer accepts PROPOSAL/COMMIT pairs during sync (ZooKeeper leaders send them)', () => {
    const l = newLearner('observer');
    handshake(l);
    pkt(l, packet(PacketType.DIFF, z(1, 3)));
    pkt(l, packet(PacketType.PROPOSAL, z(1, 3), data('x')));
    pkt(l, packet(PacketType.COMMIT, z(1, 3)));
    pkt(l, packet(PacketType.INFORM, z(1, 4), data('y')));
    pkt(l, packet(PacketType.NEWLEADER, z(2, 0)));
    l.step({ kind: 'fsynced', zxid: z(1, 4) });
    const ack = sent(l.step({ kind: 'persisted', which: 'current', epoch: 2 }));
    assert.deepEqual(ack, [packet(PacketType.ACK, z(2, 0))], 'only the NEWLEADER ACK');
    const up = pkt(l, packet(PacketType.UPTODATE, -1));
    assert.deepEqual(
      up.filter((x) => x.type === 'apply').map((x) => (x as { zxid: number }).zxid),
      [z(1, 3), z(1, 4)],
    );
  });

  test('pings, syncs, revalidations and forwarded requests', () => {
    const l = serving('follower');
    assert.deepEqual(pkt(l, packet(PacketType.PING, z(2, 5))), [{ type: 'ping', zxid: z(2, 5) }]);
    assert.deepEqual(pkt(l, packet(PacketType.SYNC, 0)), [{ type: 'sync-done' }]);
    assert.deepEqual(pkt(l, packet(PacketType.REVALIDATE, -1, encodeRevalidateReply(9n, false))), [
      { type: 'revalidated', sessionId: 9n, valid: false },
    ]);
    const fwd = l.step({
      kind: 'request',
      request: { sessionId: 9n, cxid: 4, type: 2, body: data('/a'), authinfo: null },
    });
    assert.equal(sent(fwd)[0]!.type, PacketType.REQUEST);
    const rv = sent(l.step({ kind: 'revalidate', sessionId: 9n, timeout: 5000 }))[0]!;
    assert.deepEqual(
      rv,
      packet(PacketType.REVALIDATE, -1, Buffer.from('00000000000000090000138' + '8', 'hex')),
    );
    // Not serving: nothing is forwarded.
    const idle = newLearner();
    assert.deepEqual(
      idle.step({
        kind: 'request',
        request: { sessionId: 1n, cxid: 1, type: 2, body: data(''), authinfo: null },
      }),
      [],
    );
  });

  test('stops when the leader is silent for syncLimit ticks, or the connection closes', () => {
    const l = serving('follower');
    assert.deepEqual(l.step({ kind: 'tick', now: 500 }), []);
    assert.deepEqual(l.step({ kind: 'tick', now: 501 }), [
      { type: 'stopped', reason: 'read timed out: leader silent' },
    ]);
    const c = serving('follower');
    assert.deepEqual(c.step({ kind: 'disconnected' }), [
      { type: 'stopped', reason: 'connection to the leader closed' },
    ]);
  });
});

describe('Learner: timeouts', () => {
  function syncedWith(role: LearnerRole, t: typeof timing & { observerSyncLimit?: number }): Learner {
    const l = new Learner({
      sid: 2,
      role,
      timing: t,
      acceptedEpoch: 1,
      currentEpoch: 1,
      lastLoggedZxid: z(1, 2),
      configVersion: 0,
      now: 0,
    });
    handshake(l);
    pkt(l, packet(PacketType.DIFF, z(1, 2)));
    pkt(l, packet(PacketType.NEWLEADER, z(2, 0)));
    l.step({ kind: 'persisted', which: 'current', epoch: 2 });
    pkt(l, packet(PacketType.UPTODATE, -1));
    return l;
  }
  const stopped = (effects: LearnerEffect[]) => effects.some((e) => e.type === 'stopped');

  test('observers tolerate a silent leader for observerSyncLimit ticks, followers for syncLimit', () => {
    const t = { ...timing, observerSyncLimit: 20 };
    const follower = syncedWith('follower', t);
    const observer = syncedWith('observer', t);
    const silentFor = (ticks: number) => ({ kind: 'tick' as const, now: ticks * t.tickTime + 1 });
    assert.equal(
      stopped(follower.step(silentFor(t.syncLimit))),
      true,
      'the follower gives up after syncLimit',
    );
    assert.equal(stopped(observer.step(silentFor(t.syncLimit))), false, 'the observer waits longer');
    assert.equal(stopped(observer.step(silentFor(t.observerSyncLimit))), true, 'until observerSyncLimit');
  });

  test('without observerSyncLimit observers use syncLimit', () => {
    const observer = syncedWith('observer', timing);
    assert.equal(stopped(observer.step({ kind: 'tick', now: timing.syncLimit * timing.tickTime + 1 })), true);
  });
});
