// A client that reuses an xid while the first request with it is still in flight (the fuzzer does)
// gets both answers in order, as from ZooKeeper, and the server keeps running: the replies must
// not be crossed (a create2 reply built from a setData result once crashed the server).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryServer, testConfig } from '../admin/testutil.ts';
import { decodeReply, ZkConnection } from '../client/connection.ts';
import { Err, OpCode } from '../protocol/constants.ts';

test('two writes and a sync with the same xid in flight are answered in order', async () => {
  const { server, port } = await memoryServer(testConfig());
  try {
    const c = await ZkConnection.connect({ port, timeOut: 10_000 });
    assert.equal((await c.create('/d', 'x')).err, Err.OK);
    const xid = 77;
    const replies = await Promise.all([
      c.request(
        OpCode.setData,
        { type: OpCode.setData, path: '/d', data: Buffer.from('y'), version: -1 },
        xid,
      ),
      c.request(
        OpCode.create2,
        {
          type: OpCode.create2,
          path: '/e',
          data: Buffer.from('z'),
          acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }],
          flags: 0,
        },
        xid,
      ),
      c.request(OpCode.sync, { type: OpCode.sync, path: '/' }, xid),
      c.request(OpCode.delete, { type: OpCode.delete, path: '/d', version: -1 }, xid),
    ]);
    for (const r of replies) assert.equal(r.header.err, Err.OK);
    const created = decodeReply(OpCode.create2, replies[1]!);
    assert.equal((created as { path?: string }).path, '/e');
    assert.equal(decodeReply(OpCode.setData, replies[0]!).stat?.version, 1);
    // Still serving, on this connection and others.
    assert.equal((await c.exists('/d')).err, Err.NONODE);
    const d = await ZkConnection.connect({ port, timeOut: 10_000 });
    assert.equal((await d.getData('/e')).data?.toString(), 'z');
    c.destroy();
    d.destroy();
  } finally {
    await server.close();
  }
});
