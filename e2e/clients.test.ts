// Integration tests with real, unmodified ZooKeeper clients: the Java CLI (zkCli.sh), the C CLI (cli_mt),
// Python kazoo and the npm node-zookeeper-client. ZKE_TARGET=zookeeper|peer (default peer) picks the server
// the same assertions run against, so they can be checked against Apache ZooKeeper itself.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import zookeeper, { type Stat, type ZkError, type ZkEvent } from 'node-zookeeper-client';
import {
  CliMt,
  digestId,
  KAZOO_SCENARIO,
  nonStatLines,
  parseCliMtStat,
  parseZkCliStat,
  runBounded,
  zkCliArgs,
  zkCliSession,
} from './clients/drivers.ts';
import { call, callVoid, connect } from './lib/node-client.ts';
import { DEBIAN_PYTHON, type RunningServer, type ServerKind, startServer } from './lib/servers.ts';

const TARGET = (process.env.ZKE_TARGET ?? 'peer') as ServerKind;
if (TARGET !== 'peer' && TARGET !== 'zookeeper' && TARGET !== 'observer')
  throw new Error(`ZKE_TARGET must be zookeeper, peer or observer, not ${TARGET}`);

/** Starts a fresh server of the target kind for one describe block and stops it afterwards. */
function withServer(): { get(): RunningServer } {
  let server: RunningServer | undefined;
  before(async () => {
    // TTL nodes need extended types; a bare zoo.cfg key is how both servers take it.
    server = await startServer(TARGET, { config: { extendedTypesEnabled: 'true' } });
  });
  after(async () => {
    await server?.stop();
  });
  return {
    get() {
      if (!server) throw new Error('server not started');
      return server;
    },
  };
}

const ALICE = digestId('alice', 'secret');

/** A zkCli.sh step: a command and its expected output, or a function that checks the output. */
type ZkCliStep = [command: string, expected: string | ((out: string) => void)];

/** Runs the commands in one zkCli.sh session and checks every output; returns the session (for its events). */
async function zkCliSteps(cs: string, steps: readonly ZkCliStep[]) {
  const session = await zkCliSession(
    cs,
    steps.map(([c]) => c),
  );
  for (const [i, [cmd, expected]] of steps.entries()) {
    const out = session.outputs[i]!;
    if (typeof expected === 'string') assert.equal(out, expected, `zkCli: ${cmd}`);
    else {
      try {
        expected(out);
      } catch (e) {
        (e as Error).message = `zkCli: ${cmd}\n${(e as Error).message}\noutput:\n${out}`;
        throw e;
      }
    }
  }
  return session;
}

describe(`zkCli.sh (Java client) against ${TARGET}`, { timeout: 180_000 }, () => {
  const srv = withServer();

  it('runs a scripted session and prints what ZooKeeper prints', async () => {
    const cs = srv.get().connectString;
    const startedAt = Date.now();
    // [command, expected output]; a function checks outputs that hold a Stat or depend on hash order.
    const steps: ZkCliStep[] = [
      ['create /cli hello', 'Created /cli'],
      ['create /cli again', 'Node already exists: /cli'],
      ['create -e /cli/eph e', 'Created /cli/eph'],
      ['create -s /cli/seq- s', 'Created /cli/seq-0000000001'],
      ['create -s -e /cli/eseq- s', 'Created /cli/eseq-0000000002'],
      ['create /cli/eph/x', 'Ephemerals cannot have children: /cli/eph/x'],
      ['create /nope/child', 'Node does not exist: /nope/child'],
      ['create -c /cont', 'Created /cont'],
      ['create -c /cont/child x', 'Created /cont/child'],
      ['create -t 600000 /ttl v', 'Created /ttl'],
      ['create "/quoted" "with space"', 'Created /quoted'],
      ['get /quoted', 'with space'],
      [
        'get -s /cli',
        (out) => {
          assert.deepEqual(nonStatLines(out), ['hello']);
          const s = parseZkCliStat(out);
          assert.equal(s.dataVersion, '0');
          assert.equal(s.cversion, '3');
          assert.equal(s.aclVersion, '0');
          assert.equal(s.ephemeralOwner, '0x0');
          assert.equal(s.dataLength, '5');
          assert.equal(s.numChildren, '3');
          assert.equal(s.mZxid, s.cZxid);
          assert.ok(BigInt(s.pZxid!) > BigInt(s.cZxid!), `pZxid ${s.pZxid} > cZxid ${s.cZxid}`);
          const ctime = Date.parse(s.ctime!.replace(' UTC ', ' '));
          assert.ok(Math.abs(ctime - startedAt) < 3_600_000, `ctime ${s.ctime} is about now`);
        },
      ],
      ['set -v 0 /cli world', ''],
      ['set -v 0 /cli again', 'version No is not valid : /cli'],
      ['set /nope x', 'Node does not exist: /nope'],
      ['get /cli', 'world'],
      [
        'stat /cli',
        (out) => {
          const s = parseZkCliStat(out);
          assert.deepEqual(nonStatLines(out), []);
          assert.equal(s.dataVersion, '1');
          assert.equal(s.dataLength, '5');
          assert.ok(BigInt(s.mZxid!) > BigInt(s.cZxid!), 'set moved mZxid');
          assert.notEqual(s.mtime, undefined);
        },
      ],
      ['stat /cli/eph', (out) => assert.match(parseZkCliStat(out).ephemeralOwner ?? '', /^0x[0-9a-f]+$/)],
      // Containers and TTL nodes do not show an owner to clients.
      ['stat /cont', (out) => assert.equal(parseZkCliStat(out).ephemeralOwner, '0x0')],
      ['stat /ttl', (out) => assert.equal(parseZkCliStat(out).ephemeralOwner, '0x0')],
      ['ls /cli', '[eph, eseq-0000000002, seq-0000000001]'],
      [
        'ls -s /cli',
        (out) => {
          assert.deepEqual(nonStatLines(out), ['[eph, eseq-0000000002, seq-0000000001]']);
          assert.equal(parseZkCliStat(out).numChildren, '3');
        },
      ],
      [
        'ls -R /cli',
        (out) => {
          const lines = out.split('\n');
          assert.equal(lines[0], '/cli');
          assert.deepEqual(lines.slice(1).sort(), [
            '/cli/eph',
            '/cli/eseq-0000000002',
            '/cli/seq-0000000001',
          ]);
        },
      ],
      ['ls /zookeeper', '[config, quota]'],
      ['ls /nope', 'Node does not exist: /nope'],
      ['getAllChildrenNumber /cli', '3'],
      ['getAllChildrenNumber /', '11'],
      [
        'getEphemerals',
        (out) => assert.deepEqual(parseList(out).sort(), ['/cli/eph', '/cli/eseq-0000000002']),
      ],
      [
        'getEphemerals /cli/e',
        (out) => assert.deepEqual(parseList(out).sort(), ['/cli/eph', '/cli/eseq-0000000002']),
      ],
      ['getEphemerals /cont', '[]'],
      ['sync /cli', 'Sync is OK'],
      ['addWatch /cli', ''],
      ['set /cli w1', ''],
      ['create /cli/sub', 'Created /cli/sub'],
      ['set /cli/sub s1', ''],
      ['addWatch -m PERSISTENT /cont', ''],
      ['create /cont/c2', 'Created /cont/c2'],
      ['set /cont c', ''],
      ['whoami', 'Auth scheme: User\nip: 127.0.0.1'],
      ['addauth digest alice:secret', ''],
      // The order of the identities is not specified.
      [
        'whoami',
        (out) =>
          assert.deepEqual(out.split('\n').sort(), ['Auth scheme: User', 'digest: alice', 'ip: 127.0.0.1']),
      ],
      [`create /secure s digest:${ALICE}:cdra`, 'Created /secure'],
      ['getAcl /secure', `'digest,'${ALICE}\n: cdra`],
      ['set /secure t', 'Insufficient permission : /secure'],
      ['setAcl /secure auth::cdrwa', ''],
      [
        'getAcl -s /secure',
        (out) => {
          assert.deepEqual(nonStatLines(out), [`'digest,'${ALICE}`, ': cdrwa']);
          assert.equal(parseZkCliStat(out).aclVersion, '1');
        },
      ],
      ['setAcl -v 0 /secure world:anyone:r', 'version No is not valid : /secure'],
      ['create /open o', 'Created /open'],
      ['getAcl /open', "'world,'anyone\n: cdrwa"],
      ['create /badacl x auth::cdrwa', 'Created /badacl'],
      ['delete /cli', 'Node not empty: /cli'],
      ['delete -v 5 /cli/seq-0000000001', 'version No is not valid : /cli/seq-0000000001'],
      ['delete /cli/seq-0000000001', ''],
      ['delete /cli/seq-0000000001', 'Node does not exist: /cli/seq-0000000001'],
      ['get /cli/missing', 'Node does not exist: /cli/missing'],
      ['deleteall /cont', ''],
      ['stat /cont', 'Node does not exist: /cont'],
      ['ls /cli', '[eph, eseq-0000000002, sub]'],
    ];
    const session = await zkCliSteps(cs, steps);
    const ev = (type: string, path: string) => ({ state: 'SyncConnected', type, path });
    assert.deepEqual(session.events.slice(0, 9), [
      // addWatch /cli (persistent recursive): set /cli, create /cli/sub, set /cli/sub
      ev('NodeDataChanged', '/cli'),
      ev('NodeCreated', '/cli/sub'),
      ev('NodeDataChanged', '/cli/sub'),
      // addWatch -m PERSISTENT /cont: create /cont/c2, set /cont
      ev('NodeChildrenChanged', '/cont'),
      ev('NodeDataChanged', '/cont'),
      // delete /cli/seq-0000000001
      ev('NodeDeleted', '/cli/seq-0000000001'),
      // deleteall /cont: two children, then /cont itself
      ev('NodeChildrenChanged', '/cont'),
      ev('NodeChildrenChanged', '/cont'),
      ev('NodeDeleted', '/cont'),
    ]);
    // quit: closing the session deletes its ephemerals, which the session's own recursive watch may report
    // (ZooKeeper sends them; the CLI may exit before printing them). Nothing else may come.
    const closing = [ev('NodeDeleted', '/cli/eph'), ev('NodeDeleted', '/cli/eseq-0000000002')];
    const late = session.events.slice(9);
    assert.ok(
      late.every((e) => closing.some((c) => c.path === e.path && c.type === e.type)),
      `events after quit: ${JSON.stringify(late)}`,
    );
    assert.equal(
      new Set(late.map((e) => e.path)).size,
      late.length,
      `no duplicates: ${JSON.stringify(late)}`,
    );
  });

  it('a second session sees ephemerals gone and the ACLs enforced', async () => {
    const cs = srv.get().connectString;
    const steps: ZkCliStep[] = [
      ['ls /cli', '[sub]'],
      ['getEphemerals', '[]'],
      ['get /secure', 'Insufficient permission : /secure'],
      ['getAcl /secure', 'Insufficient permission : /secure'],
      ['create /secure/child', 'Insufficient permission : /secure/child'],
      ['get /open', 'o'],
      [
        'create /badacl2 x auth::cdrwa',
        'KeeperErrorCode = InvalidACL for /badacl2\nAcl is not valid : /badacl2',
      ],
      ['addauth digest alice:wrong', ''],
      ['get /secure', 'Insufficient permission : /secure'],
      ['addauth digest alice:secret', ''],
      ['get /secure', 's'],
      ['create /secure/child', 'Created /secure/child'],
      ['deleteall /secure', ''],
    ];
    await zkCliSteps(cs, steps);
  });

  // The server keeps /zookeeper/quota/<path>/zookeeper_stats up to date ("count=N,bytes=M" of the subtree).
  it('setquota / listquota / delquota: quota stats follow the subtree', async () => {
    const limits = 'Output quota for /q count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1';
    const head = 'absolute path is /zookeeper/quota/q/zookeeper_limits';
    const steps: ZkCliStep[] = [
      ['create /q', 'Created /q'],
      ['create /q/a 12345', 'Created /q/a'],
      ['setquota -n 10 /q', ''],
      ['listquota /q', `${head}\n${limits}\nOutput stat for /q count=2,bytes=5`],
      ['create /q/b 123', 'Created /q/b'],
      ['listquota /q', `${head}\n${limits}\nOutput stat for /q count=3,bytes=8`],
      ['delete /q/a', ''],
      ['set /q abcd', ''],
      ['listquota /q', `${head}\n${limits}\nOutput stat for /q count=2,bytes=7`],
      ['get /zookeeper/quota/q/zookeeper_stats', 'count=2,bytes=7'],
      ['delquota /q', ''],
      ['listquota /q', `${head}\nquota for /q does not exist.`],
      ['ls /zookeeper/quota', '[]'],
    ];
    await zkCliSteps(srv.get().connectString, steps);
  });

  it('runs single commands given as arguments, with their exit codes', async () => {
    const cs = srv.get().connectString;
    const created = await zkCliArgs(cs, ['create', '/args', 'one two']);
    assert.equal(created.code, 0);
    assert.match(created.stdout + created.stderr, /^Created \/args$/m);
    const got = await zkCliArgs(cs, ['get', '/args']);
    assert.equal(got.code, 0);
    assert.match(got.stdout, /^one two$/m);
    const missing = await zkCliArgs(cs, ['stat', '/args-missing']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Node does not exist: \/args-missing$/m);
  });
});

function parseList(out: string): string[] {
  const m = /^\[(.*)\]$/.exec(out);
  assert.ok(m, `a list: ${out}`);
  return m[1] === '' ? [] : m[1]!.split(', ');
}

describe(`kazoo (Python client) against ${TARGET}`, { timeout: 180_000 }, () => {
  const srv = withServer();

  it('runs the kazoo scenario', async () => {
    const res = await runBounded(DEBIAN_PYTHON, [KAZOO_SCENARIO, srv.get().connectString], {
      timeoutMs: 150_000,
    });
    assert.equal(res.timedOut, false, `kazoo scenario timed out; stderr:\n${res.stderr}`);
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Record<string, Record<string, unknown>>;
    for (const [section, values] of Object.entries(r)) {
      assert.equal(values.error, undefined, `kazoo ${section}: ${values.error}\n${values.trace}`);
    }
    assert.deepEqual(r.basic, {
      create: '/kz/basic',
      get: ['v1', 0, 2],
      set: 1,
      set_bad_version: 'BadVersionError',
      create_exists: 'NodeExistsError',
      get_missing: 'NoNodeError',
      ensure_path: '/kz/a/b/c',
      ensure_path_again: true,
      children_a: ['b'],
      delete_not_empty: 'NotEmptyError',
      exists_after_delete: null,
      exists_after_recursive_delete: null,
      seq: ['/kz/seq/n-0000000000', '/kz/seq/n-0000000001', '/kz/seq/n-0000000002'],
      create2: [
        '/kz/create2',
        { version: 0, cversion: 0, aversion: 0, dataLength: 3, numChildren: 0, ephemeralOwner: 0 },
      ],
      children_with_stat: [['basic', 'create2', 'seq'], 3],
      ephemeral_child: 'NoChildrenForEphemeralsError',
      delete_bad_version: 'BadVersionError',
      sync: '/kz',
      ruok: 'imok',
    });
    assert.deepEqual(r.ephemerals, {
      owner_is_a: true,
      data_watch: [
        ['e', null],
        [null, 'DELETED'],
      ],
      exists_after_close: null,
      children_after_close: [],
    });
    assert.deepEqual(r.lock, {
      a_acquire: true,
      b_try: false,
      contenders_waiting: ['alice', 'bob'],
      b_acquired_after_release: [true],
      contenders_after: ['bob'],
      lock_children_after_release: [],
    });
    assert.deepEqual(r.watches, {
      data_watch: [
        ['0', 0, null],
        ['1', 1, 'CHANGED'],
        ['2', 2, 'CHANGED'],
        [null, null, 'DELETED'],
      ],
      children_watch: [[], ['x'], ['x', 'y'], ['y']],
      one_shot: [['CHANGED', '/kz/once']],
      exists_watch: [['CREATED', '/kz/later']],
    });
    assert.deepEqual(r.transactions, {
      ok: ['/kz/tx/a', true, 'ZnodeStat', true, '/kz/tx/b'],
      ok_set_version: 1,
      after_ok: [['b'], 'q'],
      failed: ['RolledBackError', 'BadVersionError', 'RuntimeInconsistency'],
      after_failed: ['b'],
    });
    assert.deepEqual(r.reattach, {
      same_session: true,
      ephemeral_kept: true,
      set_own_ephemeral: 1,
      ephemeral_after_close: null,
      bad_password_states: ['CONNECTED'],
      bad_password_new_session: true,
      live_session_untouched: true,
    });
    assert.deepEqual(r.auth, {
      owner_get: 'top',
      stranger_get: 'NoAuthError',
      stranger_set: 'NoAuthError',
      stranger_create_child: 'NoAuthError',
      stranger_get_acls: 'NoAuthError',
      acls: [['digest', ALICE, 31]],
      acl_expected_id: ALICE,
      aversion: 0,
      invalid_acl: 'InvalidACLError',
      creator_acl: [['digest', ALICE, 31]],
      wrong_password_get: 'NoAuthError',
      after_add_auth_get: 'top',
      ro_set: 'NoAuthError',
      ro_get: 'r',
      set_acls: 1,
      set_acls_bad_version: 'BadVersionError',
    });
  });
});

describe(`cli_mt (C client) against ${TARGET}`, { timeout: 120_000 }, () => {
  const srv = withServer();

  it('creates, reads, writes, lists, watches and deletes', async () => {
    const cs = srv.get().connectString;
    const cli = await CliMt.start(cs);
    let watcher: CliMt | undefined;
    try {
      watcher = await CliMt.start(cs);
      assert.match(cli.sessionId, /^[0-9a-f]+$/);
      assert.notEqual(cli.sessionId, watcher.sessionId);
      // get/ls leave watches on cli_mt's default watcher: the events it prints are collected apart.
      const ownEvents: string[] = [];
      const run = async (cmd: string) => {
        const lines = (await cli.run(cmd)).split('\n');
        ownEvents.push(...lines.filter((l) => l.startsWith('Watcher ')));
        // Drop the echo of the command cli_mt prints for creates.
        return lines
          .filter((l) => l !== '' && !l.startsWith('Creating [') && !l.startsWith('Watcher '))
          .join('\n');
      };
      assert.equal(await run('create /cm'), '[/cm]: rc = 0\n\tname = /cm');
      assert.equal(await run('create /cm'), '[/cm]: rc = -110');
      assert.equal(await run('create /cm-missing/x'), '[/cm-missing/x]: rc = -101');
      assert.equal(await run('create +e /cm/e'), '[/cm/e]: rc = 0\n\tname = /cm/e');
      assert.equal(await run('create /cm/e/x'), '[/cm/e/x]: rc = -108');
      assert.equal(await run('create +s /cm/s-'), '[/cm/s-]: rc = 0\n\tname = /cm/s-0000000001');
      assert.equal(await run('create +es /cm/es-'), '[/cm/es-]: rc = 0\n\tname = /cm/es-0000000002');
      assert.equal(await run('create +c /cm-cont'), '[/cm-cont]: rc = 0\n\tname = /cm-cont');
      assert.equal(await run('create +t=600000 /cm-ttl'), '[/cm-ttl]: rc = 0\n\tname = /cm-ttl');

      const c2 = await run('create2 /cm/c2');
      assert.match(c2, /^\[\/cm\/c2\]: rc = 0\n\tname = \/cm\/c2\n/);
      const c2stat = parseCliMtStat(c2);
      assert.equal(c2stat.version, '0');
      assert.equal(c2stat.czxid, c2stat.mzxid);
      assert.equal(c2stat.ephemeralOwner, '0');

      const e2 = parseCliMtStat(await run('create2 +e /cm/e2'));
      assert.equal(e2.ephemeralOwner, cli.sessionId, 'ephemeralOwner is the session');

      const got = await run('get /cm');
      assert.match(got, /^time = -?\d+ msec\n\/cm: rc = 0\n value_len = 3\nnew\nStat:\n/);
      assert.equal(parseCliMtStat(got).version, '0');

      const set = await run('set /cm hello');
      assert.match(set, /^\/cm: rc = 0 Stat:\n/);
      assert.equal(parseCliMtStat(set).version, '1');
      assert.match(await run('get /cm'), /\n\/cm: rc = 0\n value_len = 5\nhello\nStat:\n/);
      assert.equal(await run('set /cm-missing x'), '/cm-missing: rc = -101 Stat:\nnull');
      assert.match(await run('get /cm-missing'), /\n\/cm-missing: rc = -101\nStat:\nnull$/);

      const ls = await run('ls /cm');
      assert.match(ls, /^time = -?\d+ msec\n\/cm: rc = 0\n/);
      assert.deepEqual(tabbedNames(ls), ['c2', 'e', 'e2', 'es-0000000002', 's-0000000001']);
      const ls2 = await run('ls2 /cm');
      assert.deepEqual(tabbedNames(ls2), ['c2', 'e', 'e2', 'es-0000000002', 's-0000000001']);
      assert.equal(parseCliMtStat(ls2).version, '1');
      assert.match(await run('ls /cm-missing'), /\n\/cm-missing: rc = -101\ntime = -?\d+ msec$/);

      // exists is synchronous in cli_mt: silent on success, the error code otherwise.
      assert.equal(await run('exists /cm'), '');
      assert.equal(await run('exists /cm-missing'), 'Error -101 for /cm-missing');
      assert.equal(await run('sync /cm'), '[/cm]: rc = 0\n\tname = /cm');

      // Watches: another client's wexists / get / ls watchers fire on our changes.
      assert.equal(await watcher.run('wexists /cm/w'), 'Error -101 for /cm/w\n');
      assert.match(await watcher.run('get /cm'), /\n\/cm: rc = 0\n/);
      assert.match(await watcher.run('ls /cm'), /\n\/cm: rc = 0\n/);
      await run('create /cm/w');
      await run('set /cm again');
      const events = await watcher.run('exists /cm');
      assert.deepEqual(events.split('\n').filter(Boolean).sort(), [
        'Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cm',
        'Watcher CHILD_EVENT state = CONNECTED_STATE for path /cm',
        'Watcher CREATED_EVENT state = CONNECTED_STATE for path /cm/w',
      ]);

      assert.equal(await run('delete /cm'), '/cm: rc = -111');
      assert.equal(await run('delete /cm/c2'), '/cm/c2: rc = 0');
      assert.equal(await run('delete /cm/c2'), '/cm/c2: rc = -101');
      assert.match(await watcher.run('get /cm/e'), /\n\/cm\/e: rc = 0\n/);
      assert.deepEqual(ownEvents, [
        'Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cm', // get /cm, then set /cm hello
        'Watcher CHILD_EVENT state = CONNECTED_STATE for path /cm', // ls /cm, then create /cm/w
        'Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cm', // get /cm, then set /cm again
      ]);

      // quit closes the first session: its ephemerals are gone, and the watcher hears it.
      await cli.close();
      const gone = await watcher.run('ls /cm');
      assert.match(gone, /Watcher DELETED_EVENT state = CONNECTED_STATE for path \/cm\/e\n/);
      assert.deepEqual(tabbedNames(gone), ['s-0000000001', 'w']);
    } finally {
      await cli.close();
      await watcher?.close();
    }
  });
});

/** The tab-indented child names cli_mt prints after "path: rc = 0", sorted. */
function tabbedNames(out: string): string[] {
  return out
    .split('\n')
    .filter((l) => /^\t[^\t=]+$/.test(l) && !l.includes(' = ') && !l.startsWith('\tname = '))
    .map((l) => l.slice(1))
    .sort();
}

// ---------------------------------------------------------------------------------------------------------
// node-zookeeper-client

async function errorCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    return (e as ZkError).getCode();
  }
  return 0;
}

/** Resolves with the first event a one-shot watcher receives, bounded in time. */
function watchOnce(): { watcher: (e: ZkEvent) => void; event: Promise<{ type: number; path: string }> } {
  let fire: (e: { type: number; path: string }) => void = () => {};
  const event = new Promise<{ type: number; path: string }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('watch did not fire')), 15_000);
    fire = (e) => {
      clearTimeout(t);
      resolve(e);
    };
  });
  return { watcher: (e) => fire({ type: e.getType(), path: e.getPath() }), event };
}

describe(`node-zookeeper-client (npm) against ${TARGET}`, { timeout: 120_000 }, () => {
  const srv = withServer();

  it('creates, reads, writes, watches, runs transactions and closes', async () => {
    const cs = srv.get().connectString;
    const { CreateMode, Event, Exception, ACL, Id, Permission } = zookeeper;
    const a = await connect(cs);
    const b = await connect(cs);
    try {
      assert.equal(a.getSessionId().length, 8);
      assert.notDeepEqual(a.getSessionId(), b.getSessionId());
      assert.ok(a.getSessionTimeout() > 0);

      assert.equal(await call<string>((cb) => a.create('/nzk', Buffer.from('a'), cb)), '/nzk');
      assert.equal(
        await errorCode(call((cb) => a.create('/nzk', Buffer.from('a'), cb))),
        Exception.NODE_EXISTS,
      );
      assert.equal(
        await errorCode(call((cb) => a.create('/none/x', Buffer.from(''), cb))),
        Exception.NO_NODE,
      );

      // getData with a watcher; another client's setData fires it.
      const dataWatch = watchOnce();
      const [data, stat] = await new Promise<[Buffer, Stat]>((resolve, reject) =>
        a.getData('/nzk', dataWatch.watcher, (err, d, s) => (err ? reject(err) : resolve([d, s]))),
      );
      assert.equal(data.toString(), 'a');
      assert.equal(stat.version, 0);
      assert.equal(stat.dataLength, 1);
      const setStat = await call<Stat>((cb) => b.setData('/nzk', Buffer.from('bb'), 0, cb));
      assert.equal(setStat.version, 1);
      assert.deepEqual(await dataWatch.event, { type: Event.NODE_DATA_CHANGED, path: '/nzk' });
      assert.equal(
        await errorCode(call((cb) => b.setData('/nzk', Buffer.from('x'), 0, cb))),
        Exception.BAD_VERSION,
      );

      // getChildren with a watcher; a child created by another client fires it.
      const childWatch = watchOnce();
      const children = await call<string[]>((cb) => a.getChildren('/nzk', childWatch.watcher, cb));
      assert.deepEqual(children, []);
      assert.equal(
        await call<string>((cb) => b.create('/nzk/eph', Buffer.from('e'), CreateMode.EPHEMERAL, cb)),
        '/nzk/eph',
      );
      assert.deepEqual(await childWatch.event, { type: Event.NODE_CHILDREN_CHANGED, path: '/nzk' });
      assert.equal(
        await errorCode(call((cb) => b.create('/nzk/eph/x', Buffer.from(''), cb))),
        Exception.NO_CHILDREN_FOR_EPHEMERALS,
      );

      // exists: null for a missing node, and its watcher fires on creation.
      const existsWatch = watchOnce();
      assert.equal(await call<Stat | null>((cb) => a.exists('/nzk/later', existsWatch.watcher, cb)), null);
      await call<string>((cb) => b.create('/nzk/later', Buffer.from(''), cb));
      assert.deepEqual(await existsWatch.event, { type: Event.NODE_CREATED, path: '/nzk/later' });
      const ephStat = await call<Stat | null>((cb) => a.exists('/nzk/eph', undefined, cb));
      assert.deepEqual(ephStat?.ephemeralOwner, b.getSessionId());

      assert.equal(
        await call<string>((cb) =>
          a.create('/nzk/s-', Buffer.from(''), CreateMode.PERSISTENT_SEQUENTIAL, cb),
        ),
        '/nzk/s-0000000002',
      );

      // A transaction that succeeds, then one that fails as a whole.
      const results = await call<Array<{ type: number; path?: string; stat?: Stat; err?: number }>>((cb) =>
        a
          .transaction()
          .create('/nzk/t', Buffer.from('t'))
          .check('/nzk', 1)
          .setData('/nzk', Buffer.from('c'), 1)
          .remove('/nzk/t')
          .commit(cb),
      );
      assert.deepEqual(
        results.map((r) => r.type),
        [1, 13, 5, 2],
      );
      assert.equal(results[0]!.path, '/nzk/t');
      assert.equal(results[2]!.stat!.version, 2);
      const failed = await new Promise<{ code: number; results: Array<{ type: number; err?: number }> }>(
        (resolve) =>
          a
            .transaction()
            .create('/nzk/t2', Buffer.from(''))
            .check('/nzk', 1)
            .remove('/nzk/later')
            .commit((err, res) => resolve({ code: err ? err.getCode() : 0, results: res })),
      );
      assert.equal(failed.code, Exception.BAD_VERSION);
      assert.deepEqual(
        failed.results.map((r) => [r.type, r.err]),
        [
          [-1, 0],
          [-1, Exception.BAD_VERSION],
          [-1, Exception.RUNTIME_INCONSISTENCY],
        ],
      );
      assert.equal(await call<Stat | null>((cb) => a.exists('/nzk/t2', undefined, cb)), null);

      // Digest ACLs.
      a.addAuthInfo('digest', Buffer.from('alice:secret'));
      const acl = [new ACL(Permission.ALL, new Id('digest', ALICE))];
      assert.equal(
        await call<string>((cb) => a.create('/nzk-acl', Buffer.from('s'), acl, CreateMode.PERSISTENT, cb)),
        '/nzk-acl',
      );
      const [aclData] = await new Promise<[Buffer, Stat]>((resolve, reject) =>
        a.getData('/nzk-acl', undefined, (err, d, s) => (err ? reject(err) : resolve([d, s]))),
      );
      assert.equal(aclData.toString(), 's');
      assert.equal(await errorCode(call((cb) => b.getData('/nzk-acl', undefined, cb))), Exception.NO_AUTH);
      const acls = await call<typeof acl>((cb) => a.getACL('/nzk-acl', cb));
      assert.deepEqual(
        acls.map((x) => [x.permission, x.id.scheme, x.id.id]),
        [[Permission.ALL, 'digest', ALICE]],
      );

      assert.equal(await errorCode(callVoid((cb) => a.remove('/nzk', -1, cb))), Exception.NOT_EMPTY);
      assert.equal(await errorCode(callVoid((cb) => a.remove('/nzk/later', 3, cb))), Exception.BAD_VERSION);
      await callVoid((cb) => a.remove('/nzk/later', 0, cb));

      // Closing b ends its session: its ephemeral node goes, and a's watcher sees it.
      const gone = watchOnce();
      assert.ok(await call<Stat | null>((cb) => a.exists('/nzk/eph', gone.watcher, cb)));
      b.close();
      assert.deepEqual(await gone.event, { type: Event.NODE_DELETED, path: '/nzk/eph' });
      assert.deepEqual((await call<string[]>((cb) => a.getChildren('/nzk', undefined, cb))).sort(), [
        's-0000000002',
      ]);
    } finally {
      a.close();
      b.close();
    }
  });
});
