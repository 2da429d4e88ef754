import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JuteError } from '../jute/archive.ts';
import {
  decodeAckEpoch,
  decodeCommitAndActivate,
  decodeInformAndActivate,
  decodeLeaderInfo,
  decodeLearnerInfo,
  decodeQuorumPacket,
  decodeRequest,
  decodeRevalidateReply,
  decodeRevalidateRequest,
  decodeTouchTable,
  encodeAckEpoch,
  encodeCommitAndActivate,
  encodeInformAndActivate,
  encodeLeaderInfo,
  encodeLearnerInfo,
  encodeQuorumPacket,
  encodeRevalidateReply,
  encodeRevalidateRequest,
  encodeTouchTable,
  PacketType,
  packet,
  packetTypeName,
  QUORUM_MAX_BUFFER,
  QuorumPacketDecoder,
  requestPacket,
} from './packets.ts';

// Expected bytes are spelled out field by field from ZooKeeper's formats (zookeeper.jute
// QuorumPacket/LearnerInfo/Id, big-endian jute ints and longs, -1 lengths for null). The same hex
// strings were cross-checked once against ZooKeeper 3.8's own classes (QuorumPacket, LearnerInfo,
// BinaryOutputArchive, Leader.buildInformAndActivePacket).
const h = (...parts: string[]) => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');

describe('packet type constants', () => {
  test('match Leader.java', () => {
    assert.deepEqual(
      [
        PacketType.REQUEST,
        PacketType.PROPOSAL,
        PacketType.ACK,
        PacketType.COMMIT,
        PacketType.PING,
        PacketType.REVALIDATE,
        PacketType.SYNC,
        PacketType.INFORM,
        PacketType.COMMITANDACTIVATE,
        PacketType.NEWLEADER,
        PacketType.FOLLOWERINFO,
        PacketType.UPTODATE,
        PacketType.DIFF,
        PacketType.TRUNC,
        PacketType.SNAP,
        PacketType.OBSERVERINFO,
        PacketType.LEADERINFO,
        PacketType.ACKEPOCH,
        PacketType.INFORMANDACTIVATE,
      ],
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
    );
    assert.equal(packetTypeName(15), 'SNAP');
    assert.equal(packetTypeName(42), 'UNKNOWN42');
  });
});

describe('QuorumPacket codec', () => {
  test('an empty packet is 20 bytes with -1 for null data and null authinfo', () => {
    const bytes = encodeQuorumPacket(packet(PacketType.UPTODATE, -1));
    assert.deepEqual(bytes, h('0000000c', 'ffffffffffffffff', 'ffffffff', 'ffffffff'));
    assert.deepEqual(decodeQuorumPacket(bytes), { type: 12, zxid: -1, data: null, authinfo: null });
  });

  test('FOLLOWERINFO carrying a LearnerInfo', () => {
    const li = encodeLearnerInfo({ sid: 3, protocolVersion: 0x10000, configVersion: 0x1_0000_0000 });
    assert.deepEqual(li, h('0000000000000003', '00010000', '0000000100000000'));
    const bytes = encodeQuorumPacket(packet(PacketType.FOLLOWERINFO, 5 * 2 ** 32, li));
    assert.deepEqual(
      bytes,
      h('0000000b', '0000000500000000', '00000014', '0000000000000003000100000000000100000000', 'ffffffff'),
    );
    const back = decodeQuorumPacket(bytes);
    assert.equal(back.zxid, 5 * 2 ** 32);
    assert.deepEqual(decodeLearnerInfo(back.data), {
      sid: 3,
      protocolVersion: 0x10000,
      configVersion: 2 ** 32,
    });
  });

  test('REQUEST with authinfo ids', () => {
    const p = requestPacket({
      sessionId: 7n,
      cxid: 9,
      type: 5,
      body: Buffer.from([1, 2]),
      authinfo: [
        { scheme: 'ip', id: '127.0.0.1' },
        { scheme: 'digest', id: 'u:x' },
      ],
    });
    const bytes = encodeQuorumPacket(p);
    const expected = h(
      '00000001', // REQUEST
      'ffffffffffffffff', // zxid -1
      '00000012', // 18 bytes of data:
      '0000000000000007', // sessionId
      '00000009', // cxid
      '00000005', // type setData
      '0102', // the request record
      '00000002', // two ids
      '00000002',
      Buffer.from('ip').toString('hex'),
      '00000009',
      Buffer.from('127.0.0.1').toString('hex'),
      '00000006',
      Buffer.from('digest').toString('hex'),
      '00000003',
      Buffer.from('u:x').toString('hex'),
    );
    assert.deepEqual(bytes, expected);
    assert.deepEqual(decodeRequest(decodeQuorumPacket(bytes)), {
      sessionId: 7n,
      cxid: 9,
      type: 5,
      body: Buffer.from([1, 2]),
      authinfo: [
        { scheme: 'ip', id: '127.0.0.1' },
        { scheme: 'digest', id: 'u:x' },
      ],
    });
  });

  test('empty (not null) data and authinfo are kept apart from null', () => {
    const bytes = encodeQuorumPacket(packet(PacketType.ACK, 0x2_0000_0001, Buffer.alloc(0), []));
    assert.deepEqual(bytes, h('00000003', '0000000200000001', '00000000', '00000000'));
    assert.deepEqual(decodeQuorumPacket(bytes), {
      type: 3,
      zxid: 0x2_0000_0001,
      data: Buffer.alloc(0),
      authinfo: [],
    });
  });

  test('trailing bytes and truncation are errors', () => {
    const bytes = encodeQuorumPacket(packet(PacketType.PING, 1));
    assert.throws(() => decodeQuorumPacket(Buffer.concat([bytes, Buffer.from([0])])), JuteError);
    assert.throws(() => decodeQuorumPacket(bytes.subarray(0, 19)), JuteError);
  });
});

describe('payloads', () => {
  test('LearnerInfo is read positionally, as LearnerHandler does', () => {
    assert.equal(decodeLearnerInfo(null), null);
    assert.deepEqual(decodeLearnerInfo(h('0000000000000009')), {
      sid: 9,
      protocolVersion: 1,
      configVersion: null,
    });
    assert.deepEqual(decodeLearnerInfo(h('0000000000000009', '00010000')), {
      sid: 9,
      protocolVersion: 0x10000,
      configVersion: null,
    });
    assert.deepEqual(decodeLearnerInfo(h('00')), { sid: null, protocolVersion: 1, configVersion: null });
  });

  test('LEADERINFO and ACKEPOCH carry one int', () => {
    assert.deepEqual(encodeLeaderInfo(), h('00010000'));
    assert.equal(decodeLeaderInfo(h('00010000')), 0x10000);
    assert.deepEqual(encodeAckEpoch(4), h('00000004'));
    assert.deepEqual(encodeAckEpoch(-1), h('ffffffff'));
    assert.equal(decodeAckEpoch(h('ffffffff')), -1);
    assert.throws(() => decodeAckEpoch(null), JuteError);
    assert.throws(() => decodeAckEpoch(h('0000')), JuteError);
  });

  test('REVALIDATE request (long, int) and reply (long, boolean)', () => {
    assert.deepEqual(encodeRevalidateRequest(0x1234n, 30000), h('0000000000001234', '00007530'));
    assert.deepEqual(decodeRevalidateRequest(h('0000000000001234', '00007530')), {
      sessionId: 0x1234n,
      timeout: 30000,
    });
    assert.deepEqual(encodeRevalidateReply(0x1234n, true), h('0000000000001234', '01'));
    assert.deepEqual(encodeRevalidateReply(-2n, false), h('fffffffffffffffe', '00'));
    assert.deepEqual(decodeRevalidateReply(h('0000000000001234', '01')), { sessionId: 0x1234n, valid: true });
    assert.throws(() => decodeRevalidateReply(h('00000000000012')), JuteError);
  });

  test('PING touch table: (long sessionId, int timeout) pairs without a count', () => {
    const touches = [
      { sessionId: 0x0100000000000001n, timeout: 4000 },
      { sessionId: -1n, timeout: 30000 },
    ];
    const bytes = encodeTouchTable(touches);
    assert.deepEqual(bytes, h('0100000000000001', '00000fa0', 'ffffffffffffffff', '00007530'));
    assert.deepEqual(decodeTouchTable(bytes), touches);
    assert.deepEqual(encodeTouchTable([]), Buffer.alloc(0));
    assert.deepEqual(decodeTouchTable(null), []);
    assert.throws(() => decodeTouchTable(bytes.subarray(0, 13)), JuteError);
  });

  test('COMMITANDACTIVATE and INFORMANDACTIVATE put the designated leader sid first', () => {
    assert.deepEqual(encodeCommitAndActivate(2), h('0000000000000002'));
    assert.equal(decodeCommitAndActivate(h('0000000000000002')), 2);
    const data = encodeInformAndActivate(2, Buffer.from([9, 9]));
    assert.deepEqual(data, h('0000000000000002', '0909'));
    assert.deepEqual(decodeInformAndActivate(data), { designatedLeader: 2, txn: Buffer.from([9, 9]) });
  });
});

describe('QuorumPacketDecoder (streaming, no length prefix)', () => {
  const packets = [
    packet(PacketType.PROPOSAL, 0x1_0000_0001, Buffer.from('txn-one')),
    packet(PacketType.COMMIT, 0x1_0000_0001),
    packet(PacketType.REQUEST, -1, Buffer.alloc(20, 7), [{ scheme: 'ip', id: '10.0.0.1' }]),
    packet(PacketType.UPTODATE, -1),
  ];
  const stream = Buffer.concat(packets.map(encodeQuorumPacket));

  test('decodes back-to-back packets fed one byte at a time', () => {
    const d = new QuorumPacketDecoder();
    const got = [];
    for (const byte of stream) {
      d.push(Buffer.from([byte]));
      for (let p = d.next(); p !== null; p = d.next()) got.push(p);
    }
    assert.deepEqual(got, packets);
    assert.equal(d.buffered, 0);
  });

  test('decodes packets split at every possible point', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new QuorumPacketDecoder();
      d.push(stream.subarray(0, cut));
      const got = d.drain();
      d.push(stream.subarray(cut));
      got.push(...d.drain());
      assert.deepEqual(got, packets, `cut at ${cut}`);
    }
  });

  test('hands over the raw bytes after SNAP, then continues', () => {
    const body = Buffer.from('raw snapshot body and signature');
    const after = packet(PacketType.NEWLEADER, 0x2_0000_0000, Buffer.from('server.1=...'));
    const bytes = Buffer.concat([
      encodeQuorumPacket(packet(PacketType.SNAP, 0x1_0000_0005)),
      body,
      encodeQuorumPacket(after),
    ]);
    const d = new QuorumPacketDecoder();
    d.push(bytes.subarray(0, 30));
    const snap = d.next();
    assert.equal(snap?.type, PacketType.SNAP);
    let raw = d.takeRest();
    raw = Buffer.concat([raw, bytes.subarray(30)]);
    // The snapshot reader consumes `body`; what follows goes back into the decoder.
    assert.deepEqual(raw.subarray(0, body.length), body);
    d.push(raw.subarray(body.length));
    assert.deepEqual(d.next(), after);
    assert.equal(d.next(), null);
  });

  test('refuses a data length beyond jute.maxbuffer + extrasize before buffering it', () => {
    assert.equal(QUORUM_MAX_BUFFER, 0xfffff * 2);
    const d = new QuorumPacketDecoder();
    d.push(h('00000002', '0000000100000001', '00200000')); // 2 MiB of data announced
    assert.throws(() => d.next(), /length 2097152 out of bounds/);
    const small = new QuorumPacketDecoder({ maxBuffer: 16 });
    small.push(encodeQuorumPacket(packet(PacketType.PROPOSAL, 1, Buffer.alloc(17))));
    assert.throws(() => small.next(), JuteError);
    const ok = new QuorumPacketDecoder({ maxBuffer: 16 });
    ok.push(encodeQuorumPacket(packet(PacketType.PROPOSAL, 1, Buffer.alloc(16))));
    assert.equal(ok.next()?.data?.length, 16);
  });

  test('refuses negative lengths and absurd authinfo counts', () => {
    const d = new QuorumPacketDecoder();
    d.push(h('00000002', '0000000100000001', 'fffffffe'));
    assert.throws(() => d.next(), JuteError);
    const v = new QuorumPacketDecoder({ maxAuthIds: 4 });
    v.push(h('00000001', 'ffffffffffffffff', 'ffffffff', '00000005'));
    assert.throws(() => v.next(), /authinfo count 5/);
    const s = new QuorumPacketDecoder({ maxBuffer: 8 });
    s.push(h('00000001', 'ffffffffffffffff', 'ffffffff', '00000001', '00000009'));
    assert.throws(() => s.next(), /authinfo scheme length 9/);
  });
});
