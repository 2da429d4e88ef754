// On-disk compatibility with Apache ZooKeeper 3.8: a data dir written by ZooKeeper (snapshots taken
// while writes go on, several log files, a crash) is recovered by our code into the same tree
// ZooKeeper served; and ZooKeeper starts on a data dir written by our code and serves that data,
// with zero tree-digest mismatches (ZooKeeper checks the digests in our log entries and snapshot).

import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import zookeeper, {
  type Client,
  type ACL as ClientACL,
  type Stat as ClientStat,
} from 'node-zookeeper-client';
import type { ACL, Stat } from '../peer/jute/records.ts';
import { encodeTxnEntry, type Txn } from '../peer/jute/txn.ts';
import { recover } from '../peer/persistence/recovery.ts';
import { writeSnapshot } from '../peer/persistence/snapshot.ts';
import { TxnLog } from '../peer/persistence/txnlog.ts';
import { OpCode, Perms } from '../peer/protocol/constants.ts';
import { OPEN_ACL_UNSAFE } from '../peer/tree/acl-cache.ts';
import type { DataTree } from '../peer/tree/datatree.ts';
import { parentOf } from '../peer/tree/path.ts';
import { digestId, parseZkCliStat, zkCliSession } from './clients/drivers.ts';
import { call, connect } from './lib/node-client.ts';
import { fourLetterWord, type RunningServer, type ServerKind, startServer } from './lib/servers.ts';

const tempDirs: string[] = [];
after(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'zke-compat-'));
  tempDirs.push(d);
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// node-zookeeper-client, promisified

const toClientAcl = (acl: readonly ACL[]): ClientACL[] =>
  acl.map((a) => new zookeeper.ACL(a.perms, new zookeeper.Id(a.id.scheme, a.id.id)));

function create(c: Client, path: string, data: string, opts: { acl?: readonly ACL[]; mode?: number } = {}) {
  return call<string>((cb) =>
    c.create(path, Buffer.from(data), toClientAcl(opts.acl ?? OPEN_ACL_UNSAFE), opts.mode ?? 0, cb),
  );
}

const long = (b: Buffer): number => Number(b.readBigInt64BE(0));

function fromClientStat(s: ClientStat): Stat {
  return {
    czxid: long(s.czxid),
    mzxid: long(s.mzxid),
    ctime: long(s.ctime),
    mtime: long(s.mtime),
    version: s.version,
    cversion: s.cversion,
    aversion: s.aversion,
    ephemeralOwner: s.ephemeralOwner.readBigInt64BE(0),
    dataLength: s.dataLength,
    numChildren: s.numChildren,
    pzxid: long(s.pzxid),
  };
}

interface SeenNode {
  data: Buffer;
  stat: Stat;
  acl: ACL[];
}

/** Every node a server serves (data, stat, ACL), read through the client. */
async function readAll(c: Client): Promise<Map<string, SeenNode>> {
  // As alice, getACL shows the digest of /secure instead of "alice:x".
  c.addAuthInfo('digest', Buffer.from('alice:secret'));
  const out = new Map<string, SeenNode>();
  const walk = async (path: string): Promise<void> => {
    const [data, stat] = await new Promise<[Buffer, ClientStat]>((resolve, reject) =>
      c.getData(path, undefined, (err, d, s) => (err ? reject(err) : resolve([d ?? Buffer.alloc(0), s]))),
    );
    const acls = await call<ClientACL[]>((cb) => c.getACL(path, cb));
    out.set(path, {
      data,
      stat: fromClientStat(stat),
      acl: acls.map((a) => ({ perms: a.permission, id: { scheme: a.id.scheme, id: a.id.id } })),
    });
    const children = await call<string[]>((cb) => c.getChildren(path, undefined, cb));
    for (const child of children.sort()) await walk(path === '/' ? `/${child}` : `${path}/${child}`);
  };
  await walk('/');
  return out;
}

/** Asserts that two servers serve the same nodes. */
function assertSeenEqual(actual: Map<string, SeenNode>, expected: Map<string, SeenNode>): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [path, e] of expected) assert.deepEqual(actual.get(path), e, path);
}

/** Asserts that our tree holds exactly what the server served. */
function assertTreeMatches(tree: DataTree, seen: Map<string, SeenNode>): void {
  assert.deepEqual([...tree.paths()].sort(), [...seen.keys()].sort());
  for (const [path, s] of seen) {
    const node = tree.slotOf(path);
    assert.deepEqual(tree.fields.data(node), s.data, `data of ${path}`);
    assert.deepEqual(tree.statOf(node), s.stat, `stat of ${path}`);
    assert.deepEqual(tree.aclOf(node), s.acl, `acl of ${path}`);
  }
}

async function mntr(server: RunningServer): Promise<Map<string, string>> {
  const text = await fourLetterWord(server.host, server.port, 'mntr');
  return new Map(text.split('\n').map((l) => l.split('\t') as [string, string]));
}

const versionFiles = async (dir: string) => (await readdir(join(dir, 'version-2'))).sort();

const ALICE = digestId('alice', 'secret');
const SECURE_ACL: ACL[] = [
  { perms: Perms.ALL, id: { scheme: 'digest', id: ALICE } },
  { perms: Perms.READ, id: { scheme: 'world', id: 'anyone' } },
];
const IP_ACL: ACL[] = [{ perms: Perms.ALL, id: { scheme: 'ip', id: '127.0.0.1' } }];

interface Written {
  /** The server's data dir, kept after it stopped. */
  dataDir: string;
  /** What the server served just before it stopped. */
  seen: Map<string, SeenNode>;
  /** The session left open (its ephemeral /app/eph stays in the data). */
  sessionId: bigint;
  lastZxid: number;
}

/**
 * Runs a workload covering every node kind on a server of `kind`, records what it serves, then
 * stops it: kill -9 (a crash) or SIGTERM. The data dir is kept.
 */
async function writeWorkload(kind: ServerKind, crash: boolean): Promise<Written> {
  // snapCount 10: the server snapshots (in the background, while writes go on) and rolls its log
  // every 6..10 txns. preAllocSize is in KB.
  const server = await startServer(kind, {
    keepData: true,
    config: { snapCount: 10, preAllocSize: 64, extendedTypesEnabled: 'true' },
  });
  tempDirs.push(server.dataDir);
  let c: Client | null = null;
  try {
    c = await connect(server.connectString, 30_000);
    const sessionId = c.getSessionId().readBigInt64BE(0);
    await create(c, '/app', 'app-data');
    for (let i = 0; i < 40; i++) await create(c, `/app/n${i}`, `value-${i}`);
    for (let i = 0; i < 3; i++)
      await create(c, '/app/seq-', 's', { mode: zookeeper.CreateMode.PERSISTENT_SEQUENTIAL });
    await create(c, '/app/eph', 'ephemeral', { mode: zookeeper.CreateMode.EPHEMERAL });
    await create(c, '/secure', 'secret', { acl: SECURE_ACL });
    await create(c, '/ipnode', 'ip', { acl: IP_ACL });
    await call((cb) => c!.setData('/app/n1', Buffer.from('v2'), -1, cb));
    await call((cb) => c!.setData('/app/n1', Buffer.from('v3'), 1, cb));
    await call<void>((cb) => c!.remove('/app/n2', -1, (e) => cb(e, undefined)));
    await call((cb) => c!.setACL('/app/n3', toClientAcl(IP_ACL), -1, cb));
    await call((cb) =>
      c!
        .transaction()
        .create('/app/tx', Buffer.from('multi'))
        .setData('/app/n5', Buffer.from('in-multi'))
        .remove('/app/n6')
        .commit(cb),
    );
    // A session that ends cleanly: its closeSession txn removes its ephemeral.
    const c2 = await connect(server.connectString, 30_000);
    await create(c2, '/app/gone', '', { mode: zookeeper.CreateMode.EPHEMERAL });
    c2.close();
    // Containers and TTL nodes through the Java CLI.
    const cli = await zkCliSession(server.connectString, [
      'create -c /cont c',
      'create /cont/kid k',
      'create -t 600000 /ttl t',
    ]);
    assert.deepEqual(cli.outputs, ['Created /cont', 'Created /cont/kid', 'Created /ttl']);
    // Wait until the other session's close has been applied.
    for (let i = 0; i < 100; i++) {
      const st = await call<ClientStat | null>((cb) => c!.exists('/app/gone', undefined, cb));
      if (!st) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seen = await readAll(c);
    assert.ok(!seen.has('/app/gone'));
    const lastZxid = Number.parseInt(
      /Zxid: (0x[0-9a-f]+)/.exec(await fourLetterWord(server.host, server.port, 'srvr'))![1]!,
      16,
    );
    // The session stays open: it and its ephemeral remain in the data.
    if (crash) await server.kill9();
    else await server.stop();
    return { dataDir: server.dataDir, seen, sessionId, lastZxid };
  } finally {
    c?.close();
    await server.stop();
  }
}

/** A copy of a data dir's version-2 in a fresh directory. */
async function copyData(dataDir: string): Promise<string> {
  const copy = await tempDir();
  await cp(join(dataDir, 'version-2'), join(copy, 'version-2'), { recursive: true });
  return copy;
}

let zkWritten: Promise<Written> | null = null;
const writtenByZooKeeper = () => (zkWritten ??= writeWorkload('zookeeper', true));

describe('persistence compatibility with Apache ZooKeeper', { timeout: 240_000 }, () => {
  it('recover() reads a data dir ZooKeeper wrote (fuzzy snapshots, rolled logs, crash)', async () => {
    const { dataDir, seen, sessionId, lastZxid } = await writtenByZooKeeper();
    const files = await versionFiles(dataDir);
    assert.ok(files.filter((f) => f.startsWith('snapshot.')).length >= 3, files.join(' '));
    assert.ok(files.filter((f) => f.startsWith('log.')).length >= 3, files.join(' '));

    const copy = await copyData(dataDir);
    const warnings: string[] = [];
    const r = await recover(copy, copy, { log: (l, m) => l === 'warn' && warnings.push(m) });
    assert.ok(r.snapshotZxid > 0, 'a ZooKeeper snapshot was loaded');
    assert.ok(r.txnsReplayed > 0, 'log entries were replayed on top of it');
    // ZooKeeper's logs carry the tree digest after each txn: our replay computed the same ones.
    // A snapshot's own digest section may disagree with its nodes: ZooKeeper writes it while txns
    // are being applied, so a txn can be half in the nodes and not yet in the digest (ZooKeeper
    // only reports that too). The per-txn digests in the log must all match.
    const snapshotSection = warnings.filter((w) => w.includes('does not match its digest section')).length;
    assert.ok(snapshotSection <= 1, warnings.join('\n'));
    assert.equal(r.digestMismatches - snapshotSection, 0, warnings.join('\n'));
    assertTreeMatches(r.tree, seen);
    assert.equal(r.sessions.get(sessionId), 30_000);
    assert.deepEqual([...(r.tree.ephemerals.get(sessionId) ?? [])], ['/app/eph']);
    assert.deepEqual([...r.tree.containers], ['/cont']);
    assert.deepEqual([...r.tree.ttls], ['/ttl']);
    // The CLI's closeSession may still have been logged after srvr answered.
    assert.ok(r.lastZxid >= lastZxid && r.lastZxid <= lastZxid + 1, `0x${r.lastZxid.toString(16)}`);
  });

  it('ZooKeeper starts on a data dir our code wrote and serves that data', async () => {
    const dataDir = await tempDir();
    // Build the data the way the peer does: recover an empty dir, log txns, snapshot, log more.
    const r = await recover(dataDir);
    const log = await TxnLog.open(dataDir, { preAllocSize: 64 * 1024 });
    const { tree, sessions } = r;
    let zxid = 0x1_0000_0000; // epoch 1
    let wrongDigestZxid = 0;
    const apply = (type: number, txn: Txn, clientId = 0x123n, digestOk = true): void => {
      const h = { clientId, cxid: 0, zxid: ++zxid, time: Date.now(), type };
      if (txn.type === OpCode.createSession) sessions.set(clientId, txn.timeOut);
      if (txn.type === OpCode.closeSession) sessions.delete(clientId);
      tree.applyTxn(h, txn);
      const treeDigest = digestOk ? tree.digest() : tree.digest() + 1n;
      if (!digestOk) wrongDigestZxid = zxid;
      log.append(encodeTxnEntry(h, txn, { version: 2, treeDigest }), zxid);
    };
    const pcv = (path: string) => tree.getNode(parentOf(path))!.stat.cversion + 1;
    const mk = (path: string, data: string, acl: readonly ACL[] = OPEN_ACL_UNSAFE, owner = 0n): void =>
      apply(
        OpCode.create2,
        {
          type: 15,
          path,
          data: Buffer.from(data),
          acl: [...acl],
          ephemeral: owner !== 0n,
          parentCVersion: pcv(path),
        },
        owner || 0x123n,
      );
    const owner = 0x10000abcd00001n;
    apply(OpCode.createSession, { type: -10, timeOut: 120_000 }, owner);
    mk('/app', 'from-us');
    mk('/app/config', 'v1');
    for (let i = 0; i < 10; i++) mk(`/app/k${i}`, `k${i}`);
    mk('/app/eph', 'mine', OPEN_ACL_UNSAFE, owner);
    mk('/secure', 'secret', SECURE_ACL);
    await log.flush();
    log.roll();
    const snapZxid = tree.lastProcessedZxid;
    await writeSnapshot(dataDir, tree, sessions, snapZxid);
    apply(OpCode.setData, { type: 5, path: '/app/config', data: Buffer.from('v2'), version: 1 });
    apply(OpCode.setACL, { type: 7, path: '/app/k1', acl: IP_ACL, version: 1 });
    apply(OpCode.delete, { type: 2, path: '/app/k2' });
    apply(OpCode.createContainer, {
      type: 19,
      path: '/cont',
      data: Buffer.from('c'),
      acl: [...OPEN_ACL_UNSAFE],
      parentCVersion: pcv('/cont'),
    });
    mk('/cont/kid', 'k');
    apply(OpCode.createTTL, {
      type: 21,
      path: '/ttl',
      data: Buffer.from('t'),
      acl: [...OPEN_ACL_UNSAFE],
      parentCVersion: pcv('/ttl'),
      ttl: 600_000,
    });
    apply(OpCode.multi, {
      type: 14,
      txns: [
        {
          type: 1,
          path: '/app/m',
          data: Buffer.from('multi'),
          acl: [...OPEN_ACL_UNSAFE],
          ephemeral: false,
          parentCVersion: pcv('/app/m'),
        },
        { type: 5, path: '/app/k3', data: Buffer.from('multi-set'), version: 1 },
      ],
    });
    // The last txn carries a wrong digest on purpose: ZooKeeper must count exactly this one.
    apply(OpCode.setData, { type: 5, path: '/app/k4', data: Buffer.from('last'), version: 1 }, 0x123n, false);
    await log.close();
    assert.deepEqual(await versionFiles(dataDir), [
      'log.100000001',
      `log.${(snapZxid + 1).toString(16)}`,
      'snapshot.0',
      `snapshot.${snapZxid.toString(16)}`,
    ]);

    const zk = await startServer('zookeeper', { dataDir });
    let c: Client | null = null;
    try {
      const m = await mntr(zk);
      assert.equal(
        m.get('zk_digest_mismatches_count'),
        '1',
        `digest mismatch on 0x${wrongDigestZxid.toString(16)} only`,
      );
      // The Java CLI sees our nodes with our stats.
      const cli = await zkCliSession(zk.connectString, [
        'addauth digest alice:secret',
        'get -s /app/config',
        'stat /app/eph',
        'getAcl /secure',
        'get /ttl',
        'ls /cont',
        'get /app/m',
      ]);
      const [auth, config = '', eph = '', acl = '', ttl, cont, multi] = cli.outputs.map((o) => o.trim());
      assert.equal(auth, '');
      const cfgStat = tree.statOf(tree.slotOf('/app/config'));
      assert.equal(config.split('\n')[0], 'v2');
      assert.deepEqual(
        pick(parseZkCliStat(config), [
          'cZxid',
          'mZxid',
          'pZxid',
          'dataVersion',
          'cversion',
          'aclVersion',
          'ephemeralOwner',
          'dataLength',
          'numChildren',
        ]),
        {
          cZxid: hex(cfgStat.czxid),
          mZxid: hex(cfgStat.mzxid),
          pZxid: hex(cfgStat.pzxid),
          dataVersion: '1',
          cversion: '0',
          aclVersion: '0',
          ephemeralOwner: '0x0',
          dataLength: '2',
          numChildren: '0',
        },
      );
      assert.equal(parseZkCliStat(eph).ephemeralOwner, hex(Number(owner)));
      assert.match(
        acl,
        new RegExp(`'digest,'${ALICE.replace(/[+/=]/g, (ch) => `\\${ch}`)}\\n: cdrwa\\n'world,'anyone\\n: r`),
      );
      assert.equal(ttl, 't');
      assert.equal(cont, '[kid]');
      assert.equal(multi, 'multi');

      // Every node, stat and ACL as ZooKeeper serves them equals our tree.
      c = await connect(zk.connectString, 30_000);
      const seen = await readAll(c);
      assertTreeMatches(tree, seen);
      // ZooKeeper carries on from our last zxid.
      await create(c, '/from-zk', 'hi');
      const st = await call<ClientStat | null>((cb) => c!.exists('/from-zk', undefined, cb));
      assert.ok(long(st!.czxid) > zxid);
    } finally {
      c?.close();
      await zk.stop();
    }

    // And back: our recovery reads what ZooKeeper added (its startup snapshot and new log).
    const back = await recover(dataDir);
    assert.ok(back.tree.has('/from-zk'));
    assert.equal(back.tree.getNode('/app/config')!.data.toString(), 'v2');
    assert.equal(back.digestMismatches, 0);
    assert.deepEqual([...back.tree.ttls], ['/ttl']);
  });

  it('the peer serves a data dir ZooKeeper wrote', async () => {
    const { dataDir, seen } = await writtenByZooKeeper();
    const copy = await copyData(dataDir);
    const peer = await startServer('peer', { dataDir: copy });
    let c: Client | null = null;
    try {
      c = await connect(peer.connectString, 30_000);
      assertSeenEqual(await readAll(c), seen);
    } finally {
      c?.close();
      await peer.stop();
    }
  });

  it('ZooKeeper serves a data dir the peer wrote', async () => {
    const { dataDir, seen, lastZxid } = await writeWorkload('peer', false);
    const files = await versionFiles(dataDir);
    assert.ok(files.filter((f) => f.startsWith('snapshot.')).length >= 3, files.join(' '));
    assert.ok(files.filter((f) => f.startsWith('log.')).length >= 3, files.join(' '));
    const copy = await copyData(dataDir);
    // Our own recovery reads it too.
    const r = await recover(copy);
    assertTreeMatches(r.tree, seen);
    // The CLI's closeSession may still have been logged after srvr answered.
    assert.ok(r.lastZxid >= lastZxid && r.lastZxid <= lastZxid + 1, `0x${r.lastZxid.toString(16)}`);
    const zk = await startServer('zookeeper', { dataDir: copy });
    let c: Client | null = null;
    try {
      assert.equal((await mntr(zk)).get('zk_digest_mismatches_count'), '0');
      c = await connect(zk.connectString, 30_000);
      assertSeenEqual(await readAll(c), seen);
    } finally {
      c?.close();
      await zk.stop();
    }
  });
});

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function pick(o: Record<string, string>, keys: string[]): Record<string, string | undefined> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}
