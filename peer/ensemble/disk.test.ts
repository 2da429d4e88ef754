import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TxnLog } from '../persistence/txnlog.ts';
import type { DiskCompletion } from '../quorum/zab-common.ts';
import { DiskDriver } from './disk.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));

test('appends go to the log group by group, without waiting for the group before, and report in order', async () => {
  const flushes: (() => void)[] = [];
  const appended: number[] = [];
  const log = {
    append: (_data: Buffer, zxid: number) => appended.push(zxid),
    flush: () => new Promise<void>((resolve) => flushes.push(resolve)),
  } as unknown as TxnLog;
  const reports: DiskCompletion[] = [];
  const disk = new DiskDriver(log, '/nonexistent', (c) => reports.push(c));
  const append = (zxid: number) => disk.execute({ type: 'log-append', zxid, data: Buffer.from([zxid]) });

  append(1);
  append(2);
  await turn();
  assert.equal(flushes.length, 1, 'appends of one turn form one group');
  append(3);
  await turn();
  assert.equal(flushes.length, 2, 'the next group is handed over before the first is durable');
  flushes[1]!();
  await turn();
  assert.deepEqual(reports, [], 'a later group is not reported ahead of an earlier one');
  flushes[0]!();
  await turn();
  assert.deepEqual(reports, [
    { kind: 'fsynced', zxid: 2 },
    { kind: 'fsynced', zxid: 3 },
  ]);
  assert.deepEqual(appended, [1, 2, 3]);

  disk.stop();
  append(4);
  await turn();
  flushes[2]!();
  await turn();
  assert.equal(reports.length, 2, 'a stopped driver reports nothing');
});
