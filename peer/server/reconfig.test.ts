import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Id } from '../jute/records.ts';
import { Err, type KeeperError, OpCode } from '../protocol/constants.ts';
import { parseDynamicConfig, type QuorumConfig } from '../quorum/quorum-config.ts';
import { DataTree } from '../tree/datatree.ts';
import { PendingView } from './prep.ts';
import { CONFIG_NODE, prepReconfig, type ReconfigHost, type ReconfigRequest } from './reconfig.ts';

const SUPER: Id = { scheme: 'super', id: '' };
const ANYONE: Id = { scheme: 'ip', id: '127.0.0.1' };

const CURRENT = parseDynamicConfig(
  [
    'server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001',
    'server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002',
    'server.3=127.0.0.1:2003:3003:participant;127.0.0.1:4003',
    'server.4=127.0.0.1:2004:3004:observer;127.0.0.1:4004',
    'version=100000000',
  ].join('\n'),
);

function host(o: Partial<{ enabled: boolean; inProgress: boolean; synced: number[] }> = {}): ReconfigHost {
  return {
    enabled: o.enabled ?? true,
    config: () => CURRENT,
    inProgress: () => o.inProgress ?? false,
    syncedVoters: () => new Set(o.synced ?? [1, 2, 3]),
  };
}

function req(r: Partial<ReconfigRequest>): ReconfigRequest {
  return { joiningServers: null, leavingServers: null, newMembers: null, curConfigId: -1n, ...r };
}

function run(r: ReconfigRequest, h: ReconfigHost = host(), ids: Id[] = [SUPER], skipACL = false) {
  const view = new PendingView(new DataTree());
  const txn = prepReconfig(
    r,
    { view, ids, auth: { superDigest: null, skipACL }, zxid: 0x100000007, time: 5 },
    h,
  );
  assert.equal(txn.type, OpCode.reconfig);
  if (txn.type !== OpCode.reconfig) throw new Error('unreachable');
  assert.equal(txn.path, CONFIG_NODE);
  return parseDynamicConfig(txn.data.toString('utf8'));
}

function code(r: ReconfigRequest, h: ReconfigHost = host(), ids: Id[] = [SUPER]): number {
  try {
    run(r, h, ids);
    return Err.OK;
  } catch (e) {
    return (e as KeeperError).code;
  }
}

function roles(c: QuorumConfig): string {
  return [...c.members.values()]
    .sort((a, b) => a.sid - b.sid)
    .map((m) => `${m.sid}${m.role === 'observer' ? 'o' : 'v'}`)
    .join(' ');
}

describe('reconfig prep', () => {
  test('adds and removes observers incrementally; the new config is versioned with the txn zxid', () => {
    const next = run(
      req({ joiningServers: 'server.5=127.0.0.1:2005:3005:observer;4005', leavingServers: '4' }),
    );
    assert.equal(roles(next), '1v 2v 3v 5o');
    assert.equal(next.version, 0x100000007);
    assert.equal(next.members.get(5)!.clientPort, 4005);
  });

  test('a non-incremental member list replaces the membership', () => {
    const next = run(
      req({
        newMembers:
          'server.1=127.0.0.1:2001:3001;4001,server.2=127.0.0.1:2002:3002;4002,server.3=127.0.0.1:2003:3003;4003,version=9',
      }),
    );
    assert.equal(roles(next), '1v 2v 3v');
  });

  test("errors are ZooKeeper's", () => {
    const add = req({ joiningServers: 'server.9=127.0.0.1:2009:3009:observer;4009' });
    assert.equal(code(add, host({ enabled: false })), Err.RECONFIGDISABLED);
    assert.equal(code(add, host(), [ANYONE]), Err.NOAUTH, 'only the super user may change /zookeeper/config');
    assert.equal(code(add, host({ inProgress: true })), Err.RECONFIGINPROGRESS);
    assert.equal(code({ ...add, curConfigId: 5n }), Err.BADVERSION);
    assert.equal(code({ ...add, curConfigId: 0x100000000n }), Err.OK, 'the right fromConfig passes');
    assert.equal(code(req({ joiningServers: 'server.9=nonsense' })), Err.BADARGUMENTS);
    assert.equal(code(req({ leavingServers: 'four' })), Err.BADARGUMENTS);
    assert.equal(code(req({ leavingServers: '1,2,3' })), Err.BADARGUMENTS, 'no voter left');
    assert.equal(code(req({ leavingServers: '77' })), Err.BADARGUMENTS, 'nothing changes');
    assert.equal(
      code(req({ newMembers: 'server.1=127.0.0.1:2001:3001;4001', leavingServers: '2' })),
      Err.BADARGUMENTS,
      'incremental and non-incremental at once',
    );
  });

  test('voters change one at a time, and only when the new voters in sync are a quorum of the new config', () => {
    assert.equal(code(req({ leavingServers: '2,3' })), Err.BADARGUMENTS, 'two voters at once');
    const addVoter = req({ joiningServers: 'server.5=127.0.0.1:2005:3005:participant;4005' });
    assert.equal(
      code(addVoter, host({ synced: [1, 2] })),
      Err.NEWCONFIGNOQUORUM,
      '2 of {1,2,3,5} is no quorum',
    );
    assert.equal(code(addVoter, host({ synced: [1, 2, 5] })), Err.OK);
    assert.equal(code(req({ leavingServers: '3' }), host({ synced: [1] })), Err.NEWCONFIGNOQUORUM);
    assert.equal(code(req({ leavingServers: '3' }), host({ synced: [1, 2] })), Err.OK);
    // Turning observer 4 into a voter is a voter change too.
    const promote = req({ joiningServers: 'server.4=127.0.0.1:2004:3004:participant;4004' });
    assert.equal(code(promote, host({ synced: [1, 2] })), Err.NEWCONFIGNOQUORUM);
    assert.equal(code(promote, host({ synced: [1, 2, 4] })), Err.OK);
  });

  test('observer changes need no quorum proof', () => {
    const add = req({ joiningServers: 'server.9=127.0.0.1:2009:3009:observer;4009' });
    assert.equal(code(add, host({ synced: [1] })), Err.OK);
  });
});
