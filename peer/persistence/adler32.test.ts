import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADLER32_INIT, Adler32, adler32, adler32Bytewise } from './adler32.ts';

test('adler32 matches known vectors', () => {
  assert.equal(adler32(Buffer.alloc(0)), 1);
  assert.equal(adler32(Buffer.from('a')), 0x00620062);
  assert.equal(adler32(Buffer.from('abc')), 0x024d0127);
  assert.equal(adler32(Buffer.from('Wikipedia')), 0x11e60398);
  assert.equal(adler32(Buffer.from('message digest')), 0x29750586);
  assert.equal(adler32(Buffer.from('abcdefghijklmnopqrstuvwxyz')), 0x90860b20);
  assert.equal(
    adler32(Buffer.from('12345678901234567890123456789012345678901234567890123456789012345678901234567890')),
    0x97b61069,
  );
});

test('adler32 handles long runs of 0xff without overflow (reference loop)', () => {
  // Compare against a naive implementation that reduces after every byte.
  const naive = (b: Uint8Array): number => {
    let a = 1;
    let s = 0;
    for (const x of b) {
      a = (a + x) % 65521;
      s = (s + a) % 65521;
    }
    return ((s << 16) | a) >>> 0;
  };
  const ff = Buffer.alloc(100_000, 0xff);
  assert.equal(adler32(ff), naive(ff));
  const rnd = Buffer.alloc(70_001);
  for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 7919 + 13) & 0xff;
  assert.equal(adler32(rnd), naive(rnd));
  // One million 'a' is a published vector.
  assert.equal(adler32(Buffer.alloc(1_000_000, 'a')), 0x15d870f9);
});

test('adler32 continues across chunks and sub-ranges', () => {
  const data = Buffer.from('The quick brown fox jumps over the lazy dog');
  const whole = adler32(data);
  assert.equal(whole, 0x5bdc0fda);
  const running = new Adler32();
  running.update(data.subarray(0, 10)).update(data, 10, 20).update(data.subarray(20));
  assert.equal(running.value, whole);
  assert.equal(adler32(data, ADLER32_INIT, 4, 9), adler32(Buffer.from('quick')));
});

test('the word-at-a-time adler32 equals the byte loop at every alignment, length and start value', () => {
  const backing = Buffer.alloc(5000);
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 2654435761) >>> 24;
  const starts = [ADLER32_INIT, 0, 0xfff0fff0, 0x1234abcd]; // valid running values: both halves below 65521
  for (let offset = 0; offset < 8; offset++) {
    for (const length of [0, 1, 3, 4, 5, 63, 64, 65, 1023, 1024, 1025, 4097, 4992]) {
      const view = backing.subarray(offset, offset + length);
      for (const s of starts)
        assert.equal(adler32(view, s), adler32Bytewise(view, s), `${offset}/${length}/${s}`);
      assert.equal(adler32(backing, ADLER32_INIT, offset, offset + length), adler32Bytewise(view));
    }
  }
  // All 0xff bytes maximise every lane and sum.
  const ff = Buffer.alloc(100_003, 0xff);
  assert.equal(adler32(ff.subarray(1)), adler32Bytewise(ff.subarray(1)));
});
