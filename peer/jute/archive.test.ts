import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JuteReader, JuteWriter, writeBigLongAt } from './archive.ts';

test('longs from numbers and bigints write as Buffer.writeBigInt64BE does, and read back', () => {
  for (const v of [0n, 1n, -1n, 0x7fff_ffff_ffffn, -(2n ** 53n) + 1n, 2n ** 63n - 1n, -(2n ** 63n)]) {
    const expected = Buffer.alloc(8);
    expected.writeBigInt64BE(v);
    const viaBig = Buffer.alloc(8, 0xaa);
    writeBigLongAt(viaBig, v, 0);
    assert.deepEqual(viaBig, expected, `bigint ${v}`);
    if (v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n) {
      const w = new JuteWriter(8).long(Number(v));
      assert.deepEqual(w.take(), expected, `number ${v}`);
      assert.equal(new JuteReader(expected).long(), Number(v));
    }
  }
  // A bigint beyond 64 bits wraps as a Java long would.
  const wrapped = Buffer.alloc(8);
  writeBigLongAt(wrapped, 2n ** 64n - 1n, 0);
  assert.equal(wrapped.readBigInt64BE(), -1n);
});

test('take() hands over the writer buffer when the size was exact, else a view without a copy', () => {
  const exact = new JuteWriter(4).int(7);
  const b = exact.take();
  assert.equal(b.length, 4);
  assert.equal(b.readInt32BE(), 7);
  assert.equal(b, exact.take());
  const roomy = new JuteWriter(64).int(7);
  const v = roomy.take();
  assert.equal(v.length, 4);
  assert.equal(v.buffer, roomy.take().buffer);
  assert.equal(v.byteOffset, roomy.take().byteOffset);
});
