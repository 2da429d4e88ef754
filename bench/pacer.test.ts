import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pacer } from './loadgen.ts';

/** A pacer on a clock the test moves; `log` records which waiter went, and how. */
function paced(rate: number) {
  let t = 1000;
  const pacer = new Pacer(rate, () => t, 0);
  const log: string[] = [];
  const ask = (name: string) => pacer.take((sent) => log.push(`${name}:${sent ? 'go' : 'dropped'}`));
  return {
    pacer,
    log,
    ask,
    advance: (ms: number) => {
      t += ms;
      pacer.tick();
    },
  };
}

test('turns come at the rate, in the order asked', () => {
  const p = paced(1000); // one per ms
  for (const n of ['a', 'b', 'c', 'd']) p.ask(n);
  assert.deepEqual(p.log, []);
  p.advance(1);
  assert.deepEqual(p.log, ['a:go']);
  p.advance(2);
  assert.deepEqual(p.log, ['a:go', 'b:go', 'c:go']);
  p.advance(0.5);
  assert.equal(p.log.length, 3);
  p.advance(0.5);
  assert.deepEqual(p.log.at(-1), 'd:go');
});

test('turns due while nobody waited are not owed: no burst after an idle spell', () => {
  const p = paced(1000);
  p.advance(50); // 50 turns due, nobody asked
  for (const n of ['a', 'b', 'c']) p.ask(n);
  assert.deepEqual(p.log, []);
  p.advance(1);
  assert.deepEqual(p.log, ['a:go']);
});

test('a waiter that asks again from its turn waits for the next turn', () => {
  const p = paced(1000);
  let turns = 0;
  const again = () =>
    p.pacer.take((sent) => {
      if (!sent) return;
      turns++;
      again();
    });
  again();
  again();
  p.advance(10);
  assert.equal(turns, 10);
});

test('stop() tells every waiter it was dropped, once', () => {
  const p = paced(1000);
  for (const n of ['a', 'b', 'c']) p.ask(n);
  p.advance(1);
  p.pacer.stop();
  assert.deepEqual(p.log, ['a:go', 'b:dropped', 'c:dropped']);
  p.advance(10);
  assert.equal(p.log.length, 3);
});

test('thousands of waiters go through in order', () => {
  const p = paced(100_000);
  const order: number[] = [];
  for (let i = 0; i < 5000; i++) p.pacer.take(() => order.push(i));
  p.advance(50);
  assert.deepEqual(
    order,
    Array.from({ length: 5000 }, (_, i) => i),
  );
});

test('a waiter that moves the clock and asks from its turn does not earn turns back', () => {
  // Asking from inside a turn runs the pacer again before the outer round finishes; the outer round
  // must not then wind its count back to its earlier clock reading.
  const p = paced(1000);
  p.pacer.take(() => {
    p.ask('b');
    p.advance(3); // at 4 ms: b gets the turn of 2 ms, those of 3 and 4 ms go unclaimed
  });
  p.advance(1);
  assert.deepEqual(p.log, ['b:go']);
  p.ask('c');
  p.ask('d');
  assert.deepEqual(p.log, ['b:go'], 'no turn is left at 4 ms');
  p.advance(1);
  assert.deepEqual(p.log, ['b:go', 'c:go']);
});
