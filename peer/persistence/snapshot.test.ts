import assert from 'node:assert/strict';
import { copyFile, open, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { JuteReader, JuteWriter } from '../jute/archive.ts';
import type { Txn, TxnHeader } from '../jute/txn.ts';
import { OpCode } from '../protocol/constants.ts';
import { DataTree } from '../tree/datatree.ts';
import { adler32 } from './adler32.ts';
import { findValidSnapshots, InvalidSnapshotError, readSnapshot, writeSnapshot } from './snapshot.ts';
import {
  deserializeSnapStream,
  SnapStreamReader,
  serializeSnapStream,
  snapStreamChunks,
} from './snapstream.ts';
import { assertSameTree, DIGEST_ACL, hdr, IP_ACL, Scribe, withTempDir } from './testutil.ts';

/** A tree with every kind of node: ephemerals of two sessions, containers, TTL nodes, several ACLs. */
function richTree(): Scribe {
  const s = new Scribe(new DataTree(), new Map(), null);
  s.apply(OpCode.createSession, { type: -10, timeOut: 30000 }, 0x1000n);
  s.apply(OpCode.createSession, { type: -10, timeOut: 12000 }, 0x72000000abcdn);
  s.create('/app', 'app');
  s.create('/app/config', '{"a":1}');
  s.create('/app/eph', 'mine', { owner: 0x72000000abcdn });
  s.create('/app/eph2', '', { owner: 0x1000n });
  s.create('/locks', '', { container: true });
  s.create('/locks/l-0000000001', 'x');
  s.create('/ttl', 'short-lived', { ttl: 5000 });
  s.create('/secure', 'secret', { acl: DIGEST_ACL });
  s.create('/secure/child', '', { acl: DIGEST_ACL });
  s.create('/ip', Buffer.from([0, 1, 2, 255]).toString('latin1'), { acl: IP_ACL });
  s.create('/ünïcode', 'ü');
  s.create('/gone', 'bye');
  s.setData('/app/config', '{"a":2}');
  s.setData('/app/config', '{"a":3}');
  s.setAcl('/app', IP_ACL);
  s.delete('/gone');
  return s;
}

test('snapshot round-trip keeps ephemerals, containers, TTL nodes, ACLs, sessions and digest', async () => {
  await withTempDir(async (dataDir) => {
    const s = richTree();
    const zxid = s.tree.lastProcessedZxid;
    const file = await writeSnapshot(dataDir, s.tree, s.sessions, zxid);
    assert.equal(file, join(dataDir, 'version-2', `snapshot.${zxid.toString(16)}`));
    assert.deepEqual(await readdir(join(dataDir, 'version-2')), [`snapshot.${zxid.toString(16)}`]);

    const raw = await readFile(file);
    assert.equal(raw.toString('latin1', 0, 4), 'ZKSN');
    assert.equal(raw.readInt32BE(4), 2);
    assert.equal(raw.readBigInt64BE(8), -1n);
    assert.equal(raw.readInt32BE(16), 2); // two sessions
    // Ends with seal 3: long checksum of everything before it, then ustring "/".
    assert.deepEqual(raw.subarray(-5), Buffer.from([0, 0, 0, 1, 0x2f]));
    assert.equal(raw.readBigInt64BE(raw.length - 13), BigInt(adler32(raw, 1, 0, raw.length - 13)));

    const loaded = await readSnapshot(file);
    assert.equal(loaded.zxid, zxid);
    assert.equal(loaded.tree.lastProcessedZxid, zxid);
    assert.deepEqual(loaded.sessions, s.sessions);
    assert.deepEqual(loaded.digest, { zxid, version: 2, digest: s.tree.digest() });
    assert.equal(loaded.digestMatches, true);
    assert.equal(loaded.lastProcessedZxid, zxid);
    assert.equal(loaded.danglingAcl.size, 0);
    assertSameTree(loaded.tree, s.tree);
    assert.deepEqual([...loaded.tree.ephemerals.get(0x72000000abcdn)!], ['/app/eph']);
    assert.deepEqual([...loaded.tree.containers], ['/locks']);
    assert.deepEqual([...loaded.tree.ttls], ['/ttl']);
    assert.deepEqual(loaded.tree.acls.get(loaded.tree.getNode('/secure/child')!.aclIndex), DIGEST_ACL);
    // Shared ACL lists stay shared, and the cache holds no unused entries.
    assert.equal(loaded.tree.getNode('/secure')!.aclIndex, loaded.tree.getNode('/secure/child')!.aclIndex);
    assert.equal(loaded.tree.acls.size, s.tree.acls.size);
  });
});

test('snapshots without the 3.9 section, with only seal 1, and gzip-compressed ones load', async () => {
  await withTempDir(async (dataDir) => {
    const s = richTree();
    const file = await writeSnapshot(dataDir, s.tree, s.sessions, s.zxid, {
      lastProcessedZxidSection: false,
    });
    const l1 = await readSnapshot(file);
    assert.equal(l1.lastProcessedZxid, null);
    assert.equal(l1.digestMatches, true);
    // Cut after seal 1 (an old snapshot): the digest section is 20 bytes plus a 13-byte seal.
    const raw = await readFile(file);
    const old = join(dataDir, 'version-2', 'snapshot.5');
    await writeFile(old, raw.subarray(0, raw.length - 33));
    const l2 = await readSnapshot(old);
    assert.equal(l2.digest, null);
    assert.equal(l2.digestMatches, null);
    assertSameTree(l2.tree, s.tree);
    const gz = join(dataDir, 'version-2', 'snapshot.6.gz');
    await writeFile(gz, await promisify(gzip)(raw));
    assertSameTree((await readSnapshot(gz)).tree, s.tree);
  });
});

test('corrupt or truncated snapshots are rejected; findValidSnapshots skips the obviously broken', async () => {
  await withTempDir(async (dataDir) => {
    const s = richTree();
    const good = await writeSnapshot(dataDir, s.tree, s.sessions, 3);
    const v2 = join(dataDir, 'version-2');
    const flipped = join(v2, 'snapshot.10');
    await copyFile(good, flipped);
    const fh = await open(flipped, 'r+');
    await fh.write(Buffer.from('Z'), 0, 1, 200);
    await fh.close();
    const torn = join(v2, 'snapshot.20');
    await copyFile(good, torn);
    await truncate(torn, 300);
    await writeFile(join(v2, 'snapshot.30'), 'junk');
    await writeFile(join(v2, 'tmp.snapshot.40.1.1'), 'in progress');
    assert.deepEqual(
      (await findValidSnapshots(dataDir)).map((f) => f.name),
      ['snapshot.10', 'snapshot.3'],
    );
    await assert.rejects(readSnapshot(flipped), (e: unknown) => {
      assert.ok(e instanceof InvalidSnapshotError);
      assert.match(e.message, /snapshot\.10: checksum mismatch at seal 1/);
      return true;
    });
    await assert.rejects(readSnapshot(torn), InvalidSnapshotError);
    assert.equal((await findValidSnapshots(dataDir, 1)).length, 1);
  });
});

test('SNAP stream: body plus BenWasHere, no header or seals; readable whole or in chunks', () => {
  const s = richTree();
  const w = new JuteWriter();
  serializeSnapStream(s.tree, s.sessions, w);
  const bytes = w.toBuffer();
  assert.equal(bytes.readInt32BE(0), 2); // starts with the session count
  assert.equal(bytes.toString('latin1', bytes.length - 10), 'BenWasHere');
  const whole = deserializeSnapStream(new JuteReader(bytes));
  assertSameTree(whole.tree, s.tree);
  assert.deepEqual(whole.sessions, s.sessions);

  const trailer = Buffer.from('next packets');
  const stream = Buffer.concat([bytes, trailer]);
  const reader = new SnapStreamReader();
  let done = false;
  let chunks = 0;
  for (let off = 0; off < stream.length && !done; off += 7) {
    done = reader.feed(stream.subarray(off, off + 7));
    chunks++;
  }
  assert.ok(done && chunks > 10);
  assertSameTree(reader.result().tree, s.tree);
  // Everything after the signature is handed back.
  const consumed = Math.ceil(bytes.length / 7) * 7;
  assert.deepEqual(reader.rest, stream.subarray(bytes.length, Math.min(consumed, stream.length)));

  const bad = Buffer.from(bytes);
  bad.write('BenWasGone', bad.length - 10, 'latin1');
  assert.throws(() => deserializeSnapStream(new JuteReader(bad)), /signature/);
});

test('a tree whose deleted nodes left slots for new ones reloads to the same stats, data and digest', () => {
  const s = richTree();
  // Deletes free table slots (a parent with children, an ephemeral, nodes with an ACL and values);
  // the creates after them take those slots over.
  for (let i = 0; i < 40; i++)
    s.create(`/churn${i}`, 'x'.repeat(i * 100), { acl: i % 2 ? IP_ACL : undefined });
  for (let i = 0; i < 40; i++) s.create(`/churn0/k${i}`, `k${i}`);
  s.create('/churn1/e', 'eph', { owner: 0x72000000abcdn });
  for (let i = 0; i < 40; i++) s.delete(`/churn0/k${i}`);
  s.delete('/churn1/e');
  for (let i = 0; i < 40; i += 3) if (i !== 1) s.delete(`/churn${i}`);
  for (let i = 0; i < 30; i++) s.create(`/churn1/n${i}`, i % 5 ? `v${i}` : '');
  s.setData('/churn1/n7', 'changed');
  s.setAcl('/churn1/n8', DIGEST_ACL);
  const w = new JuteWriter();
  serializeSnapStream(s.tree, s.sessions, w);
  assertSameTree(deserializeSnapStream(new JuteReader(w.toBuffer())).tree, s.tree);
});

test('a SNAP stream sent in chunks while the tree changes, then the txns after its zxid, gives the tree', () => {
  const s = richTree();
  for (let i = 0; i < 2000; i++) s.create(`/bulk${i}`, 'v'.repeat(50));
  const snapZxid = s.zxid;
  // What the leader forwards after the SNAP: every txn from here on.
  const after: { h: TxnHeader; txn: Txn }[] = [];
  const apply = s.apply.bind(s);
  s.apply = (type, txn, clientId = 0x1000n, withDigest = false) => {
    apply(type, txn, clientId, withDigest);
    after.push({ h: hdr(s.zxid, type, clientId), txn });
  };
  const parts: Buffer[] = [];
  let i = 0;
  for (const chunk of snapStreamChunks(s.tree, s.sessions, 4096)) {
    parts.push(chunk);
    // Between chunks: changes to nodes already sent and to nodes not sent yet.
    s.setData(`/bulk${(i * 7) % 1000}`, `x${i}`);
    s.delete(`/bulk${1999 - i}`);
    s.create(`/late${i}`, `l${i}`);
    if (i === 3) s.apply(OpCode.closeSession, { type: OpCode.closeSession, paths: null }, 0x1000n);
    if (i === 5) s.apply(OpCode.createSession, { type: OpCode.createSession, timeOut: 9000 }, 0x5n);
    if (i === 6) s.create('/bulk1500/late-eph', 'e', { owner: 0x5n });
    i++;
  }
  assert.ok(parts.length > 20, `${parts.length} chunks`);
  const got = deserializeSnapStream(new JuteReader(Buffer.concat(parts)));
  got.tree.lastProcessedZxid = snapZxid;
  for (const { h, txn } of after) {
    got.tree.applyTxn(h, txn);
    if (txn.type === OpCode.createSession) got.sessions.set(h.clientId, txn.timeOut);
    if (h.type === OpCode.closeSession) got.sessions.delete(h.clientId);
  }
  assertSameTree(got.tree, s.tree);
  assert.equal(got.tree.digest(), s.tree.digest());
  assert.deepEqual(got.sessions, s.sessions);
});
