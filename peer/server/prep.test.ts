import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request } from '../jute/records.ts';
import type { Txn } from '../jute/txn.ts';
import { Err, type KeeperError, OpCode, Perms } from '../protocol/constants.ts';
import { OPEN_ACL_UNSAFE } from '../tree/acl-cache.ts';
import { DataTree } from '../tree/datatree.ts';
import { digestId } from './auth.ts';
import { PendingView, prepTxn } from './prep.ts';

const acl = [...OPEN_ACL_UNSAFE];

function harness(ids = [{ scheme: 'ip', id: '127.0.0.1' }]) {
  const tree = new DataTree();
  const view = new PendingView(tree);
  let zxid = 0;
  const prep = (req: Request, sessionId = 1n): Txn => {
    zxid++;
    return prepTxn(req, {
      view,
      sessionId,
      ids,
      auth: { superDigest: null, skipACL: false },
      extendedTypes: true,
      zxid,
      time: 1000 + zxid,
    });
  };
  const commit = (t: Txn, sessionId = 1n) => {
    tree.applyTxn({ clientId: sessionId, cxid: 0, zxid, time: 1000 + zxid, type: t.type }, t);
    view.applied(zxid);
  };
  const code = (req: Request) => {
    try {
      prep(req);
      return Err.OK;
    } catch (e) {
      return (e as KeeperError).code;
    }
  };
  return { tree, view, prep, commit, code };
}

const create = (path: string, flags = 0, data = 'x'): Request => ({
  type: OpCode.create,
  path,
  data: Buffer.from(data),
  acl,
  flags,
});

test('validation sees writes that are prepared but not yet applied', () => {
  const h = harness();
  const t1 = h.prep(create('/a'));
  assert.equal(h.code(create('/a')), Err.NODEEXISTS, 'second create of a pending node');
  assert.equal(h.code(create('/a/b')), Err.OK, 'child of a pending node');
  h.commit(t1);
});

test('sequential names use the parent cversion including pending creates', () => {
  const h = harness();
  h.commit(h.prep(create('/q')));
  const names: string[] = [];
  for (let i = 0; i < 3; i++) {
    const t = h.prep(create('/q/n-', 2));
    names.push((t as { path: string }).path);
  }
  assert.deepEqual(names, ['/q/n-0000000000', '/q/n-0000000001', '/q/n-0000000002']);
});

test('ZooKeeper error codes for common failures', () => {
  const h = harness();
  h.commit(h.prep(create('/e', 1)));
  h.commit(h.prep(create('/p')));
  h.commit(h.prep(create('/p/c')));
  assert.equal(h.code(create('/e/child')), Err.NOCHILDRENFOREPHEMERALS);
  assert.equal(h.code(create('/nope/x')), Err.NONODE);
  assert.equal(h.code(create('/p/')), Err.BADARGUMENTS, 'trailing slash without sequential flag');
  assert.equal(h.code(create('/x', 9)), Err.BADARGUMENTS);
  assert.equal(h.code({ type: OpCode.delete, path: '/p', version: -1 }), Err.NOTEMPTY);
  assert.equal(h.code({ type: OpCode.delete, path: '/zookeeper', version: -1 }), Err.BADARGUMENTS);
  assert.equal(h.code({ type: OpCode.setData, path: '/p', data: null, version: 3 }), Err.BADVERSION);
  assert.equal(h.code({ type: OpCode.create, path: '/z', data: null, acl: [], flags: 0 }), Err.INVALIDACL);
  assert.equal(
    h.code({ type: OpCode.createTTL, path: '/t', data: null, acl, flags: 5, ttl: 0 }),
    Err.BADARGUMENTS,
    'ttl must be positive',
  );
  assert.equal(
    h.code({ type: OpCode.createTTL, path: '/t', data: null, acl, flags: 0, ttl: 10 }),
    Err.BADARGUMENTS,
  );
});

test('ACLs: digest identities, auth scheme expansion, denial', () => {
  const user = digestId('alice:secret');
  const h = harness([{ scheme: 'digest', id: user }]);
  const t = h.prep({
    type: OpCode.create,
    path: '/s',
    data: null,
    acl: [{ perms: Perms.ALL, id: { scheme: 'auth', id: '' } }],
    flags: 0,
  });
  assert.deepEqual((t as { acl: unknown }).acl, [{ perms: Perms.ALL, id: { scheme: 'digest', id: user } }]);
  h.commit(t);
  const anon = harness();
  anon.commit(
    anon.prep({
      type: OpCode.create,
      path: '/s',
      data: null,
      acl: [{ perms: Perms.READ, id: { scheme: 'digest', id: user } }],
      flags: 0,
    }),
  );
  assert.equal(anon.code({ type: OpCode.setData, path: '/s', data: null, version: -1 }), Err.NOAUTH);
  assert.equal(
    anon.code({
      type: OpCode.create,
      path: '/a',
      data: null,
      acl: [{ perms: 31, id: { scheme: 'auth', id: '' } }],
      flags: 0,
    }),
    Err.INVALIDACL,
  );
  assert.equal(digestId('super:test'), 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=');
});

test('a failing multi rolls back its pending changes and marks every op', () => {
  const h = harness();
  const t = h.prep({
    type: OpCode.multi,
    ops: [create('/m1'), create('/m1'), create('/m2')],
  });
  assert.deepEqual(t, {
    type: OpCode.multi,
    txns: [
      { type: OpCode.error, err: 0 },
      { type: OpCode.error, err: Err.NODEEXISTS },
      { type: OpCode.error, err: Err.RUNTIMEINCONSISTENCY },
    ],
  });
  assert.equal(h.view.get('/m1'), null, 'rolled back');
  assert.equal(h.code(create('/m1')), Err.OK);
});

test('closeSession lists the session ephemerals including pending ones', () => {
  const h = harness();
  h.commit(h.prep(create('/e1', 1), 9n), 9n);
  h.prep(create('/e2', 1), 9n);
  const t = h.prep({ type: OpCode.closeSession }, 9n);
  assert.deepEqual(t, { type: OpCode.closeSession, paths: ['/e1', '/e2'] });
});
