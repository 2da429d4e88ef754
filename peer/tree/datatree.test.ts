import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NULL_DATA } from '../jute/archive.ts';
import type { Txn, TxnHeader } from '../jute/txn.ts';
import { CONTAINER_OWNER, Err, EventType, OpCode } from '../protocol/constants.ts';
import { OPEN_ACL_UNSAFE } from './acl-cache.ts';
import { DataTree, READ_ACL_UNSAFE } from './datatree.ts';
import { pathError, sequenceSuffix } from './path.ts';

const acl = [...OPEN_ACL_UNSAFE];
let zxid = 0;
function apply(t: DataTree, txn: Txn, clientId = 1n) {
  zxid++;
  const h: TxnHeader = { clientId, cxid: zxid, zxid, time: 1000 + zxid, type: txn.type };
  return t.applyTxn(h, txn);
}
const create = (
  path: string,
  parentCVersion = -1,
  ephemeral = false,
  data: Buffer = Buffer.from('d'),
): Txn => ({
  type: OpCode.create,
  path,
  data,
  acl,
  ephemeral,
  parentCVersion,
});
const createWith = (path: string, data: Buffer): Txn => create(path, -1, false, data);

test('stat bookkeeping follows ZooKeeper: cversion counts creates and deletes, pzxid moves', () => {
  zxid = 0;
  const t = new DataTree();
  apply(t, create('/a'));
  apply(t, create('/a/b'));
  apply(t, create('/a/c'));
  apply(t, { type: OpCode.delete, path: '/a/b' });
  const a = t.getNode('/a')!;
  const s = t.statOf(t.slotOf('/a'));
  assert.equal(a.stat.cversion, 2, 'stored cversion counts creates');
  assert.equal(s.cversion, 3, 'client cversion = creates + deletes');
  assert.equal(s.numChildren, 1);
  assert.equal(s.pzxid, 4);
  assert.equal(s.czxid, 1);
  assert.equal(t.lastProcessedZxid, 4);
});

test('errors come back as results and leave the tree alone', () => {
  zxid = 0;
  const t = new DataTree();
  const before = t.digest();
  assert.equal(apply(t, create('/x/y')).err, Err.NONODE);
  assert.equal(apply(t, { type: OpCode.delete, path: '/nope/deeper' }).err, Err.NONODE);
  assert.equal(t.digest(), before);
});

test('ephemerals are tracked per session and removed by closeSession, firing events in order', () => {
  zxid = 0;
  const t = new DataTree();
  const events: string[] = [];
  t.trigger = (path, type) => events.push(`${type}:${path}`);
  apply(t, create('/p'));
  apply(t, create('/p/e1', -1, true), 7n);
  apply(t, create('/p/e2', -1, true), 7n);
  assert.deepEqual([...t.ephemerals.get(7n)!].sort(), ['/p/e1', '/p/e2']);
  assert.equal(t.statOf(t.slotOf('/p/e1')).ephemeralOwner, 7n);
  events.length = 0;
  apply(t, { type: OpCode.closeSession, paths: ['/p/e1', '/p/e2'] }, 7n);
  assert.equal(t.getNode('/p/e1'), undefined);
  assert.equal(t.ephemerals.has(7n), false);
  assert.deepEqual(events, [
    `${EventType.NodeDeleted}:/p/e1`,
    `${EventType.NodeChildrenChanged}:/p`,
    `${EventType.NodeDeleted}:/p/e2`,
    `${EventType.NodeChildrenChanged}:/p`,
  ]);
});

test('containers and TTL nodes show ephemeralOwner 0 to clients', () => {
  zxid = 0;
  const t = new DataTree();
  apply(t, { type: OpCode.createContainer, path: '/c', data: Buffer.alloc(0), acl, parentCVersion: -1 });
  apply(t, { type: OpCode.createTTL, path: '/t', data: Buffer.alloc(0), acl, parentCVersion: -1, ttl: 5000 });
  assert.equal(t.getNode('/c')!.stat.ephemeralOwner, CONTAINER_OWNER);
  assert.equal(t.statOf(t.slotOf('/c')).ephemeralOwner, 0n);
  assert.equal(t.statOf(t.slotOf('/t')).ephemeralOwner, 0n);
  assert.ok(t.containers.has('/c'));
  assert.ok(t.ttls.has('/t'));
});

test('a failed multi applies nothing and reports per-op errors', () => {
  zxid = 0;
  const t = new DataTree();
  const rc = apply(t, {
    type: OpCode.multi,
    txns: [
      { type: OpCode.error, err: 0 },
      { type: OpCode.error, err: Err.NODEEXISTS },
      { type: OpCode.error, err: Err.RUNTIMEINCONSISTENCY },
    ],
  });
  assert.deepEqual(rc.multi, [
    { type: -1, err: 0 },
    { type: -1, err: Err.NODEEXISTS },
    { type: -1, err: Err.RUNTIMEINCONSISTENCY },
  ]);
  const ok = apply(t, {
    type: OpCode.multi,
    txns: [create('/m'), { type: OpCode.setData, path: '/m', data: Buffer.from('x'), version: 1 }],
  });
  assert.equal(ok.multi![0]!.type, 1);
  assert.equal(ok.multi![1]!.type, 5);
  assert.equal(t.getNode('/m')!.data.toString(), 'x');
});

test('the tree digest is a function of content, not of history', () => {
  zxid = 0;
  const a = new DataTree();
  apply(a, create('/x'));
  apply(a, create('/y'));
  apply(a, { type: OpCode.delete, path: '/y' });
  const b = new DataTree();
  zxid = 0;
  apply(b, create('/x'));
  assert.notEqual(a.digest(), b.digest(), 'pzxid and cversion of the root differ');
  apply(b, create('/y'));
  apply(b, { type: OpCode.delete, path: '/y' });
  assert.equal(a.digest(), b.digest());
});

test('replaying a create over a fuzzy snapshot fixes the parent cversion', () => {
  zxid = 10;
  const t = new DataTree();
  apply(t, create('/f', 1));
  const rc = apply(t, create('/f', 5));
  assert.equal(rc.err, Err.NODEEXISTS);
  assert.equal(t.getNode('/')!.stat.cversion, 5);
});

test('path validation and sequence suffixes', () => {
  for (const bad of ['', 'a', '/a/', '//a', '/a//b', '/a/./b', '/a/../b', '/.', '/a\u0000b', '/a\u0001']) {
    assert.notEqual(pathError(bad), null, JSON.stringify(bad));
  }
  for (const good of ['/', '/a', '/a/b.c', '/a/..b', '/zookeeper']) assert.equal(pathError(good), null, good);
  assert.equal(sequenceSuffix(7), '0000000007');
  assert.equal(sequenceSuffix(-5), '-000000005');
});

test('quota stats follow the subtree in place and can be recounted', () => {
  zxid = 0;
  const t = new DataTree();
  const mk = (path: string, data: string) =>
    apply(t, {
      type: OpCode.create,
      path,
      data: Buffer.from(data),
      acl,
      ephemeral: false,
      parentCVersion: -1,
    });
  mk('/q', '');
  mk('/q/a', '12345');
  mk('/zookeeper/quota/q', '');
  mk('/zookeeper/quota/q/zookeeper_limits', 'count=10,bytes=-1');
  mk('/zookeeper/quota/q/zookeeper_stats', 'count=0,bytes=0');
  const stats = () => t.getNode('/zookeeper/quota/q/zookeeper_stats')!.data.toString();
  assert.equal(stats(), 'count=2,bytes=5');
  mk('/q/b', 'xyz');
  assert.equal(stats(), 'count=3,bytes=8');
  apply(t, { type: OpCode.setData, path: '/q/a', data: Buffer.from('1'), version: 1 });
  apply(t, { type: OpCode.delete, path: '/q/b' });
  assert.equal(stats(), 'count=2,bytes=1');
  mk('/other', 'zzzz');
  assert.equal(stats(), 'count=2,bytes=1', 'nodes outside the quota do not count');
  t.setSystemNodeData('/zookeeper/quota/q/zookeeper_stats', Buffer.from('count=99,bytes=99'));
  t.setupQuotas();
  assert.equal(stats(), 'count=2,bytes=1');
  apply(t, { type: OpCode.delete, path: '/zookeeper/quota/q/zookeeper_limits' });
  mk('/q/c', 'x');
  assert.equal(stats(), 'count=2,bytes=1', 'no limits node, no tracking');
});

test('replaying a delete over a fuzzy snapshot that lacks the child still moves the parent pzxid', () => {
  zxid = 0;
  const t = new DataTree();
  apply(t, create('/p'));
  zxid = 50;
  const rc = apply(t, { type: OpCode.delete, path: '/p/gone' });
  assert.equal(rc.err, Err.NONODE);
  assert.equal(t.getNode('/p')!.stat.pzxid, 51, 'as the live delete left it');
  assert.equal(t.getNode('/p')!.stat.cversion, 0, 'deletes never touch the stored cversion');
  zxid = 10;
  apply(t, { type: OpCode.delete, path: '/p/older' });
  assert.equal(t.getNode('/p')!.stat.pzxid, 51, 'an older delete does not move it back');
});

test('values are copies in tree-only memory: neither the request buffer nor Node’s pool is kept', () => {
  zxid = 0;
  const t = new DataTree();
  // A value decoded from a frame is a slice of a larger buffer; a later frame reuses that memory.
  const frame = Buffer.from(`....small....${'L'.repeat(5000)}`);
  apply(t, createWith('/small', frame.subarray(4, 9)));
  apply(t, createWith('/large', frame.subarray(13)));
  apply(t, { type: OpCode.setData, path: '/small', data: frame.subarray(0, 2), version: 1 });
  frame.fill(0);
  assert.equal(t.fields.data(t.slotOf('/small')).toString(), '..');
  assert.equal(t.fields.data(t.slotOf('/large')).toString(), 'L'.repeat(5000));
  const pooled = Buffer.from('x');
  for (const path of ['/small', '/large']) {
    const data = t.fields.data(t.slotOf(path));
    assert.notEqual(data.buffer, frame.buffer, path);
    assert.notEqual(data.buffer, pooled.buffer, `${path} is not in Node's shared pool`);
  }
});

test('a leaf has no children set of its own; one comes with the first child and goes with the last', () => {
  zxid = 0;
  const t = new DataTree();
  apply(t, create('/p'));
  apply(t, create('/q'));
  const kids = (path: string) => t.fields.children(t.slotOf(path));
  assert.equal(kids('/p'), kids('/q'), 'leaves share the one empty set');
  apply(t, create('/p/c'));
  assert.deepEqual([...kids('/p')], ['c']);
  assert.equal(kids('/q').size, 0, 'the shared empty set stays empty');
  apply(t, { type: OpCode.delete, path: '/p/c' });
  assert.equal(kids('/p'), kids('/q'));
  assert.equal(t.statOf(t.slotOf('/p')).cversion, 2);
});

test('a null value stays null and an empty one empty (getData answers -1 and 0 lengths)', () => {
  zxid = 0;
  const t = new DataTree();
  apply(t, createWith('/null', NULL_DATA));
  apply(t, createWith('/empty', Buffer.from('x').subarray(0, 0)));
  const data = (path: string) => t.fields.data(t.slotOf(path));
  assert.equal(data('/null'), NULL_DATA);
  assert.notEqual(data('/empty'), NULL_DATA);
  assert.equal(data('/empty').length, 0);
  assert.equal(t.getNode('/null')!.data, NULL_DATA, 'a copied-out node keeps null apart too');
  apply(t, { type: OpCode.setData, path: '/empty', data: NULL_DATA, version: 1 });
  assert.equal(data('/empty'), NULL_DATA);
  assert.equal(t.statOf(t.slotOf('/empty')).dataLength, 0);
});

test('a deleted node leaves nothing behind in the slot the next node takes', () => {
  zxid = 0;
  const t = new DataTree();
  apply(t, create('/gone'));
  apply(t, create('/gone/kid', -1, true, Buffer.from('eph')));
  apply(t, { type: OpCode.setACL, path: '/gone/kid', acl: [...READ_ACL_UNSAFE], version: 3 });
  apply(t, { type: OpCode.delete, path: '/gone/kid' });
  apply(t, { type: OpCode.delete, path: '/gone' });
  apply(t, createWith('/fresh', Buffer.alloc(0)));
  apply(t, createWith('/fresh2', Buffer.alloc(0)));
  for (const path of ['/fresh', '/fresh2']) {
    const s = t.statOf(t.slotOf(path));
    assert.equal(s.numChildren, 0, path);
    assert.equal(s.ephemeralOwner, 0n, path);
    assert.equal(s.aversion, 0, path);
    assert.equal(s.dataLength, 0, path);
    assert.deepEqual(t.aclOf(t.slotOf(path)), OPEN_ACL_UNSAFE, path);
  }
});

test('value memory is given back as values go, and reused', () => {
  zxid = 0;
  const t = new DataTree();
  const base = t.valueBytes;
  const value = Buffer.alloc(100, 1);
  for (let i = 0; i < 1000; i++) apply(t, createWith(`/v${i}`, value));
  apply(t, createWith('/big', Buffer.alloc(10_000, 2)));
  const full = t.valueBytes;
  assert.ok(full >= base + 110_000, `held ${full}`);
  for (let i = 0; i < 1000; i++) apply(t, { type: OpCode.delete, path: `/v${i}` });
  apply(t, { type: OpCode.delete, path: '/big' });
  assert.ok(t.valueBytes <= base + 16 * 1024, `after deleting all: ${t.valueBytes}`);
  for (let i = 0; i < 1000; i++) apply(t, createWith(`/w${i}`, value));
  assert.ok(t.valueBytes <= full, 'refilled without growing past the first fill');
  for (let i = 0; i < 1000; i += 97) assert.deepEqual(t.fields.data(t.slotOf(`/w${i}`)), value);
});
