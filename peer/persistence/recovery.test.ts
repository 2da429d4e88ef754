import assert from 'node:assert/strict';
import { open, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { encodeTxnEntry } from '../jute/txn.ts';
import { OpCode } from '../protocol/constants.ts';
import { recover } from './recovery.ts';
import { readSnapshot, writeSnapshot } from './snapshot.ts';
import { assertSameTree, createTxn, DIGEST_ACL, hdr, IP_ACL, Scribe, withTempDir } from './testutil.ts';
import { LOG_HEADER_SIZE, TxnLog } from './txnlog.ts';
import { CorruptLogError, readLogs } from './txnlog-reader.ts';

const PREALLOC = 16 * 1024;

/** A fresh data dir recovered (snapshot.0 written) and a logging scribe over its tree. */
async function startFresh(dataDir: string, withDigest = false): Promise<{ s: Scribe; log: TxnLog }> {
  const r = await recover(dataDir);
  const log = await TxnLog.open(dataDir, { preAllocSize: PREALLOC });
  const s = new Scribe(r.tree, r.sessions, log);
  if (withDigest) {
    const apply = s.apply.bind(s);
    s.apply = (type, txn, clientId) => apply(type, txn, clientId, true);
  }
  return { s, log };
}

test('an empty data dir gets version-2 dirs and snapshot.0, like ZooKeeper', async () => {
  await withTempDir(async (tmp) => {
    const dataDir = join(tmp, 'data');
    const logDir = join(tmp, 'log');
    const r = await recover(dataDir, logDir);
    assert.equal(r.lastZxid, 0);
    assert.deepEqual([...r.tree.paths()].sort(), [
      '/',
      '/zookeeper',
      '/zookeeper/config',
      '/zookeeper/quota',
    ]);
    assert.deepEqual(await readdir(join(dataDir, 'version-2')), ['snapshot.0']);
    assert.deepEqual(await readdir(join(logDir, 'version-2')), []);
    assert.equal(r.snapDir, join(dataDir, 'version-2'));
    assert.equal(r.logDir, join(logDir, 'version-2'));
    const again = await recover(dataDir, logDir);
    assert.equal(again.snapshotFile, join(dataDir, 'version-2', 'snapshot.0'));
    assertSameTree(again.tree, r.tree);
  });
});

test('recovery = newest snapshot + log replay, with sessions following createSession/closeSession', async () => {
  await withTempDir(async (dataDir) => {
    const { s, log } = await startFresh(dataDir, true);
    s.apply(OpCode.createSession, { type: -10, timeOut: 30000 }, 0x11n);
    s.apply(OpCode.createSession, { type: -10, timeOut: 20000 }, 0x22n);
    for (let i = 0; i < 20; i++) s.create(`/n${i}`, `v${i}`, i % 3 === 0 ? { acl: DIGEST_ACL } : {});
    s.create('/e1', 'x', { owner: 0x22n });
    await log.flush();
    log.roll();
    const snapZxid = s.tree.lastProcessedZxid;
    await writeSnapshot(dataDir, s.tree, s.sessions, snapZxid);
    s.apply(OpCode.createSession, { type: -10, timeOut: 5000 }, 0x33n);
    s.create('/e3', '', { owner: 0x33n });
    s.apply(OpCode.closeSession, { type: -11, paths: ['/e1'] }, 0x22n);
    s.setData('/n1', 'changed');
    s.setAcl('/n2', IP_ACL);
    s.delete('/n4');
    s.create('/c', '', { container: true });
    s.create('/t', '', { ttl: 1000 });
    await log.close();

    const heard: Array<[number, string]> = [];
    const r = await recover(dataDir, dataDir, { replayed: (z, b) => heard.push([z, b.toString('hex')]) });
    assert.equal(r.snapshotZxid, snapZxid);
    assert.equal(r.txnsReplayed, 8);
    // Every replayed txn, as logged: the same records readLogs gives from the snapshot on.
    const logged: Array<[number, string]> = [];
    for await (const e of readLogs(dataDir, snapZxid + 1))
      logged.push([e.header.zxid, e.bytes.toString('hex')]);
    assert.equal(heard.length, 8);
    assert.deepEqual(heard, logged);
    assert.equal(r.lastZxid, s.zxid);
    assert.equal(r.tree.lastProcessedZxid, s.zxid);
    assert.equal(r.digestMismatches, 0);
    assert.deepEqual(r.repaired, []);
    assertSameTree(r.tree, s.tree);
    assert.deepEqual(
      r.sessions,
      new Map([
        [0x11n, 30000],
        [0x33n, 5000],
      ]),
    );
    assert.equal(r.tree.has('/e1'), false);
  });
});

test('a torn final record is cut off; appends after recovery are read back on the next recovery', async () => {
  await withTempDir(async (dataDir) => {
    let { s, log } = await startFresh(dataDir);
    for (let i = 1; i <= 10; i++) s.create(`/a${i}`, 'y'.repeat(30));
    await log.close();
    const file = join(dataDir, 'version-2', 'log.1');
    // The last record was only half written when the machine died: zeros from its middle on.
    const sizes = [];
    for await (const e of readLogs(dataDir, 0)) sizes.push(e.offset);
    const last = sizes[9]!;
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from('partial-garbage'), 0, 15, last + 20);
    await fh.close();
    const full = (await stat(file)).size;

    const r1 = await recover(dataDir);
    assert.equal(r1.lastZxid, 9);
    assert.ok(r1.tree.has('/a9'));
    assert.ok(!r1.tree.has('/a10'));
    assert.deepEqual(r1.repaired, [file]);
    assert.equal((await stat(file)).size, last);
    assert.ok(last < full);

    // The server carries on from zxid 10 with a new log file.
    log = await TxnLog.open(dataDir, { preAllocSize: PREALLOC });
    s = new Scribe(r1.tree, r1.sessions, log);
    for (let i = 10; i <= 15; i++) s.create(`/b${i}`, 'z');
    await log.close();
    assert.deepEqual((await readdir(join(dataDir, 'version-2'))).sort(), ['log.1', 'log.a', 'snapshot.0']);
    const r2 = await recover(dataDir);
    assert.equal(r2.lastZxid, 15);
    assert.deepEqual(r2.repaired, []);
    assertSameTree(r2.tree, s.tree);
  });
});

test('a log cut short by EOF mid-record recovers every complete entry', async () => {
  await withTempDir(async (dataDir) => {
    const { s, log } = await startFresh(dataDir);
    for (let i = 1; i <= 5; i++) s.create(`/c${i}`);
    await log.close();
    const file = join(dataDir, 'version-2', 'log.1');
    const offsets = [];
    for await (const e of readLogs(dataDir, 0)) offsets.push(e.offset);
    await truncate(file, offsets[4]! + 7);
    const r = await recover(dataDir);
    assert.equal(r.lastZxid, 4);
    assert.equal((await stat(file)).size, offsets[4]);
    // An untouched tail (zeros after the last record) is left alone.
    const r2 = await recover(dataDir);
    assert.deepEqual(r2.repaired, []);
  });
});

test('a checksum mismatch mid-log stops recovery with the file and offset', async () => {
  await withTempDir(async (dataDir) => {
    const { s, log } = await startFresh(dataDir);
    for (let i = 1; i <= 6; i++) s.create(`/m${i}`, 'payload');
    await log.close();
    const file = join(dataDir, 'version-2', 'log.1');
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from('#'), 0, 1, LOG_HEADER_SIZE + 30);
    await fh.close();
    await assert.rejects(recover(dataDir), (e: unknown) => {
      assert.ok(e instanceof CorruptLogError);
      assert.equal(e.file, file);
      assert.equal(e.offset, LOG_HEADER_SIZE);
      return true;
    });
  });
});

test('logs without any snapshot are refused unless trustEmptySnapshot', async () => {
  await withTempDir(async (dataDir) => {
    const log = await TxnLog.open(dataDir, { preAllocSize: PREALLOC });
    log.append(encodeTxnEntry(hdr(1, 1), createTxn('/x'), null), 1);
    await log.close();
    await assert.rejects(recover(dataDir), /no valid snapshot .* log entries up to 0x1/);
    const r = await recover(dataDir, dataDir, { trustEmptySnapshot: true });
    assert.ok(r.tree.has('/x'));
  });
});

test('a corrupt newest snapshot falls back to an older one and replays further', async () => {
  await withTempDir(async (dataDir) => {
    const { s, log } = await startFresh(dataDir);
    for (let i = 1; i <= 10; i++) s.create(`/f${i}`);
    await log.flush();
    const newest = await writeSnapshot(dataDir, s.tree, s.sessions, s.tree.lastProcessedZxid);
    s.create('/after');
    await log.close();
    const fh = await open(newest, 'r+');
    await fh.write(Buffer.from('!!'), 0, 2, 100);
    await fh.close();
    const warnings: string[] = [];
    const r = await recover(dataDir, dataDir, { log: (l, m) => l === 'warn' && warnings.push(m) });
    assert.equal(r.snapshotZxid, 0);
    assert.equal(r.txnsReplayed, 11);
    assert.ok(
      warnings.some((w) => w.includes(`skipping snapshot: ${newest}`)),
      warnings.join('\n'),
    );
    assertSameTree(r.tree, s.tree);
  });
});

test('digest mismatches between the log and the replayed tree are counted', async () => {
  await withTempDir(async (dataDir) => {
    const { s, log } = await startFresh(dataDir, true);
    s.create('/ok');
    const h = hdr(++s.zxid, OpCode.create);
    s.tree.applyTxn(h, createTxn('/bad'));
    log.append(encodeTxnEntry(h, createTxn('/bad'), { version: 2, treeDigest: 12345n }), h.zxid);
    await log.close();
    const r = await recover(dataDir);
    assert.equal(r.digestMismatches, 1);
  });
});

test('a fuzzy snapshot written while the tree changes, plus replay, equals the live tree', async () => {
  await withTempDir(async (dataDir) => {
    const { s, log } = await startFresh(dataDir, true);
    const sessions = [0x100n, 0x200n, 0x300n];
    for (const id of sessions) s.apply(OpCode.createSession, { type: -10, timeOut: 10000 }, id);
    const acls = [DIGEST_ACL, IP_ACL];
    for (let i = 0; i < 40; i++) {
      s.create(`/d${i}`, `dir${i}`);
      for (let j = 0; j < 50; j++)
        s.create(`/d${i}/k${j}`, `v${j}`, j % 10 === 0 ? { acl: acls[j % 2]! } : {});
    }
    s.create('/eph', '', { owner: 0x200n });
    await log.flush();
    log.roll();
    const snapZxid = s.tree.lastProcessedZxid;
    let rnd = 42;
    const rand = (n: number) => {
      rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
      return rnd % n;
    };
    let during = 0;
    let seq = 0;
    const mutate = () => {
      const dir = `/d${rand(40)}`;
      const kids = [...s.tree.getNode(dir)!.children];
      const pick = kids.length ? `${dir}/${kids[rand(kids.length)]}` : null;
      switch (rand(7)) {
        case 0:
          s.create(`${dir}/new${seq++}`, 'n', {
            acl: [{ perms: 1, id: { scheme: 'ip', id: `10.0.0.${seq}` } }],
          });
          break;
        case 1:
          if (pick) s.delete(pick);
          break;
        case 2:
          if (pick) s.setData(pick, `upd${seq++}`);
          break;
        case 3:
          if (pick) s.setAcl(pick, [{ perms: 31, id: { scheme: 'ip', id: `10.1.0.${seq++}` } }]);
          break;
        case 4: {
          const p = `${dir}/m${seq++}`;
          s.apply(OpCode.multi, {
            type: 14,
            txns: [
              {
                type: 1,
                path: p,
                data: Buffer.from('multi'),
                acl: [...IP_ACL],
                ephemeral: false,
                parentCVersion: s.parentCVersion(p),
              },
              { type: 5, path: p, data: Buffer.from('multi2'), version: 1 },
            ],
          });
          break;
        }
        case 5: {
          // Delete a whole directory's last child and re-create it under the same name.
          if (pick) {
            s.delete(pick);
            s.create(pick, 'again');
          }
          break;
        }
        case 6: {
          const id = BigInt(0x1000 + seq++);
          s.apply(OpCode.createSession, { type: -10, timeOut: 4000 }, id);
          s.create(`${dir}/eph${seq}`, '', { owner: id });
          if (seq % 2) s.apply(OpCode.closeSession, { type: -11, paths: [`${dir}/eph${seq}`] }, id);
          break;
        }
      }
    };
    let finished = false;
    const snap = writeSnapshot(dataDir, s.tree, s.sessions, snapZxid, { nodesPerChunk: 20 }).finally(() => {
      finished = true;
    });
    while (!finished) {
      for (let i = 0; i < 3; i++) mutate();
      during++;
      await tick();
    }
    const file = await snap;
    for (let i = 0; i < 20; i++) mutate();
    s.apply(OpCode.closeSession, { type: -11, paths: ['/eph'] }, 0x200n);
    await log.close();
    assert.ok(during > 20, `only ${during} mutation rounds overlapped the snapshot`);

    const loaded = await readSnapshot(file);
    assert.equal(loaded.zxid, snapZxid);
    assert.ok(loaded.digest!.zxid > snapZxid, 'the digest section is taken at the end, after later txns');
    assert.equal(loaded.digestMatches, null);
    // Nodes created meanwhile with new ACL lists point past the ACL cache written first.
    assert.ok(loaded.danglingAcl.size > 0);

    const r = await recover(dataDir);
    assert.equal(r.snapshotFile, file);
    assert.equal(r.digestMismatches, 0);
    assertSameTree(r.tree, s.tree);
    assert.deepEqual(r.sessions, s.sessions);
    assert.equal(r.lastZxid, s.zxid);
  });
});
