import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeTxnEntry } from '../jute/txn.ts';
import { OpCode } from '../protocol/constants.ts';
import { readEpoch, writeEpoch } from './epochs.ts';
import { truncateLog } from './truncate.ts';
import { TxnLog } from './txnlog.ts';
import { readLogs } from './txnlog-reader.ts';

const entry = (zxid: number) =>
  encodeTxnEntry(
    { clientId: 1n, cxid: zxid, zxid, time: 1000, type: OpCode.setData },
    { type: OpCode.setData, path: '/x', data: Buffer.from(String(zxid)), version: zxid },
    null,
  );

async function zxids(dir: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of readLogs(dir, 0)) out.push(e.header.zxid);
  return out;
}

test('TRUNC keeps txns up to the zxid, across log files, and appends continue after it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zke-trunc-'));
  try {
    const log = await TxnLog.open(dir, { preAllocSize: 4096 });
    for (let z = 1; z <= 10; z++) {
      if (z === 6) log.roll();
      log.append(entry(z), z);
    }
    await log.flush();
    await log.close();
    assert.deepEqual(await zxids(dir), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(await truncateLog(dir, 4), 4);
    assert.deepEqual(await zxids(dir), [1, 2, 3, 4]);
    assert.deepEqual(readdirSync(join(dir, 'version-2')).sort(), ['log.1']);
    const again = await TxnLog.open(dir, { preAllocSize: 4096 });
    again.append(entry(5), 5);
    await again.flush();
    await again.close();
    assert.deepEqual(await zxids(dir), [1, 2, 3, 4, 5]);
    assert.equal(await truncateLog(dir, 0), -1);
    assert.deepEqual(await zxids(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('epoch files round-trip and refuse garbage', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zke-epoch-'));
  try {
    assert.equal(await readEpoch(dir, 'acceptedEpoch'), null);
    await writeEpoch(dir, 'acceptedEpoch', 7);
    await writeEpoch(dir, 'currentEpoch', 6);
    assert.equal(await readEpoch(dir, 'acceptedEpoch'), 7);
    assert.equal(await readEpoch(dir, 'currentEpoch'), 6);
    await writeEpoch(dir, 'acceptedEpoch', 8);
    assert.equal(await readEpoch(dir, 'acceptedEpoch'), 8);
    assert.deepEqual(readdirSync(join(dir, 'version-2')).sort(), ['acceptedEpoch', 'currentEpoch']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
