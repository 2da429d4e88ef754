import assert from 'node:assert/strict';
import { test } from 'node:test';
import { log } from '../log.ts';
import { encodeQuorumPacket, PacketType, packet, type QuorumPacket } from '../quorum/packets.ts';
import type { LearnerSecurity } from './learner-guard.ts';
import { connectToLeader, listenForLearners, type QuorumLink } from './quorum-link.ts';

const secret = Buffer.from('a shared secret of some length');
const SEC: LearnerSecurity = { allowList: null, secret, tls: null };

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A leader's listener on a free loopback port; every admitted link is started and kept in `links`. */
async function leaderSide(
  onPacket: (p: QuorumPacket) => void,
  onRefused: (reason: string) => void = () => {},
) {
  const links: QuorumLink[] = [];
  const server = await listenForLearners({
    listen: { host: '127.0.0.1', port: 0 },
    security: SEC,
    log,
    onLink: (l) => {
      links.push(l);
      l.start({ onPacket, onClose: () => {} });
    },
    onRefused,
  });
  return { server, links, port: (server.address() as { port: number }).port };
}

test('packets flow after admission, and a SNAP body can be diverted to a raw reader', async () => {
  const leaderSeen: QuorumPacket[] = [];
  const refused: string[] = [];
  const { server, links, port } = await leaderSide(
    (p) => leaderSeen.push(p),
    (r) => refused.push(r),
  );
  const learner = await connectToLeader({ host: '127.0.0.1', port }, SEC, 2000);
  const learnerSeen: (QuorumPacket | string)[] = [];
  learner.start({
    onPacket: (p) => {
      learnerSeen.push(p);
      if (p.type === PacketType.SNAP) {
        let got = Buffer.alloc(0);
        learner.divert((chunk) => {
          got = Buffer.concat([got, chunk]);
          if (got.length < 8) return null;
          learnerSeen.push(got.subarray(0, 8).toString());
          return got.subarray(8);
        });
      }
    },
    onClose: () => {},
  });
  try {
    learner.send(packet(PacketType.FOLLOWERINFO, 5 * 2 ** 32, Buffer.from('info')));
    await until(() => leaderSeen.length === 1);
    assert.equal(leaderSeen[0]!.type, PacketType.FOLLOWERINFO);
    assert.equal(leaderSeen[0]!.zxid, 5 * 2 ** 32);
    // SNAP, then a raw body, then an ordinary packet, all in one write.
    links[0]!.write(
      Buffer.concat([
        encodeQuorumPacket(packet(PacketType.SNAP, 7)),
        Buffer.from('SNAPBODY'),
        encodeQuorumPacket(packet(PacketType.UPTODATE, -1)),
      ]),
    );
    await until(() => learnerSeen.length === 3);
    assert.equal((learnerSeen[0] as QuorumPacket).type, PacketType.SNAP);
    assert.equal(learnerSeen[1], 'SNAPBODY');
    assert.equal((learnerSeen[2] as QuorumPacket).type, PacketType.UPTODATE);
    await assert.rejects(
      connectToLeader(
        { host: '127.0.0.1', port },
        { ...SEC, secret: Buffer.from('not the shared secret!') },
        1000,
      ).then(async (l) => {
        // The leader closes after a wrong proof; the link then sees the close.
        await new Promise<void>((resolve, reject) => {
          l.start({ onPacket: () => {}, onClose: () => reject(new Error('closed by leader')) });
          setTimeout(resolve, 1000);
        });
      }),
    );
    assert.deepEqual(refused, ['wrong shared secret']);
  } finally {
    learner.close('test over');
    server.close();
  }
});

test('a malformed packet closes the link with a reason', async () => {
  let reason = '';
  const server = await listenForLearners({
    listen: { host: '127.0.0.1', port: 0 },
    security: { allowList: null, secret: null, tls: null },
    log,
    onLink: (l) => l.start({ onPacket: () => {}, onClose: (r) => (reason = r) }),
    onRefused: () => {},
  });
  const port = (server.address() as { port: number }).port;
  const learner = await connectToLeader(
    { host: '127.0.0.1', port },
    { allowList: null, secret: null, tls: null },
    2000,
  );
  try {
    // type, zxid, then a data length far beyond jute.maxbuffer
    learner.write(Buffer.from('00000001000000000000000170000000', 'hex'));
    await until(() => reason !== '');
    assert.match(reason, /malformed quorum packet/);
  } finally {
    learner.close('test over');
    server.close();
  }
});

test('a streamed snapshot goes out chunk by chunk; packets written meanwhile follow it, in order', async () => {
  const { server, links, port } = await leaderSide(() => {});
  const chunks = [0x41, 0x42, 0x43].map((c) => Buffer.alloc(3 << 20, c));
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const body: Buffer[] = [];
  let bodyBytes = 0;
  const after: number[] = [];
  let closed = '';
  const learner = await connectToLeader({ host: '127.0.0.1', port }, SEC, 2000);
  learner.start({
    onPacket: (p) => {
      if (p.type !== PacketType.SNAP) {
        after.push(p.type);
        return;
      }
      learner.divert((chunk) => {
        const take = Math.min(chunk.length, total - bodyBytes);
        body.push(chunk.subarray(0, take));
        bodyBytes += take;
        return bodyBytes < total ? null : chunk.subarray(take);
      });
    },
    onClose: (r) => (closed = r),
  });
  try {
    learner.send(packet(PacketType.FOLLOWERINFO, 1));
    await until(() => links.length === 1);
    const link = links[0]!;
    let asked = 0;
    link.send(packet(PacketType.SNAP, 9));
    link.stream(chunks.values(), () => ++asked > 0);
    link.send(packet(PacketType.NEWLEADER, 9));
    link.send(packet(PacketType.UPTODATE, 9));
    assert.ok(asked <= 1, 'one chunk per turn of the event loop');
    await until(() => after.length === 2, 10_000);
    assert.deepEqual(after, [PacketType.NEWLEADER, PacketType.UPTODATE]);
    assert.ok(Buffer.concat(body).equals(Buffer.concat(chunks)));
    assert.equal(asked, chunks.length + 1); // before each chunk and before the end

    // The data under the stream goes away: the link closes rather than send a mix.
    link.send(packet(PacketType.SNAP, 10));
    let valid = true;
    link.stream([Buffer.alloc(10), Buffer.alloc(10)].values(), () => valid);
    valid = false;
    await until(() => closed !== '');
  } finally {
    learner.close('test over');
    server.close();
  }
});
