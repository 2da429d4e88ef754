import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Member } from './members.ts';
import {
  assignObserverIds,
  fnv1a,
  OBSERVER_BLOCK,
  type ObserverPod,
  parseServerId,
  regionBase,
} from './server-ids.ts';

const voters: Member[] = [1, 2, 3].map((sid) => ({ sid, role: 'voter', host: `v${sid}` }));
const pod = (name: string, region = 'eu', extra: Partial<ObserverPod> = {}): ObserverPod => ({
  name,
  region,
  ...extra,
});

test('new pods get ids in their region block, above every voter id', () => {
  const out = assignObserverIds([pod('zk-observer-eu-a'), pod('zk-observer-us-b', 'us')], voters, 3);
  assert.equal(out.length, 2);
  for (const a of out) {
    assert.ok(a.sid >= regionBase(a.region) && a.sid < regionBase(a.region) + OBSERVER_BLOCK, `${a.sid}`);
    assert.ok(a.sid > 7);
    assert.equal(a.changed, true);
  }
  assert.equal(out[0]!.sid, regionBase('eu') + (fnv1a('zk-observer-eu-a') % OBSERVER_BLOCK));
});

test('ids are deterministic: the same pods in any order get the same ids', () => {
  const pods = ['a', 'b', 'c', 'd', 'e'].map((n) => pod(`zk-observer-eu-${n}`));
  const a = assignObserverIds(pods, voters, 3);
  const b = assignObserverIds([...pods].reverse(), voters, 3);
  assert.deepEqual(a, b);
  assert.equal(new Set(a.map((x) => x.sid)).size, 5);
});

test('an annotated pod keeps its id; only pods without one are written', () => {
  const out = assignObserverIds(
    [pod('a', 'eu', { annotation: '4242' }), pod('b')],
    [...voters, { sid: 4242, role: 'observer', host: '10.0.0.1', pod: 'a' }],
    3,
  );
  assert.deepEqual(
    out.map((x) => [x.pod, x.changed]),
    [
      ['a', false],
      ['b', true],
    ],
  );
  assert.equal(out[0]!.sid, 4242);
});

test('an id held by a member or another pod is never handed out again; probing moves past it', () => {
  const p = pod('zk-observer-eu-x');
  const natural = assignObserverIds([p], voters, 3)[0]!.sid;
  const held: Member = { sid: natural, role: 'observer', host: '10.0.0.2', pod: 'gone-pod' };
  const out = assignObserverIds([p], [...voters, held], 3)[0]!;
  assert.notEqual(out.sid, natural);
  const terminating = pod('old', 'eu', { annotation: String(natural), terminating: true });
  const out2 = assignObserverIds([p, terminating], voters, 3);
  assert.deepEqual(
    out2.map((x) => x.pod),
    ['zk-observer-eu-x'],
    'terminating pods get nothing',
  );
  assert.notEqual(out2[0]!.sid, natural, 'but keep their id');
});

test('conflicting annotations: the member-confirmed pod keeps the id, then the oldest; the other is renumbered', () => {
  const pods = [
    pod('older', 'eu', { annotation: '5000', creationTimestamp: '2025-01-01T00:00:00Z' }),
    pod('newer', 'eu', { annotation: '5000', creationTimestamp: '2025-02-01T00:00:00Z' }),
  ];
  const byAge = assignObserverIds(pods, voters, 3);
  assert.deepEqual(
    byAge.find((x) => x.pod === 'older'),
    { pod: 'older', region: 'eu', sid: 5000, changed: false },
  );
  assert.notEqual(byAge.find((x) => x.pod === 'newer')!.sid, 5000);
  const confirmed = assignObserverIds(
    pods,
    [...voters, { sid: 5000, role: 'observer', host: 'ip', pod: 'newer' }],
    3,
  );
  assert.equal(confirmed.find((x) => x.pod === 'newer')!.sid, 5000);
  assert.equal(confirmed.find((x) => x.pod === 'older')!.changed, true);
});

test('annotations that cannot be observer ids are replaced', () => {
  for (const bad of ['2', 'abc', '-5', '', '1e9']) {
    const out = assignObserverIds([pod('p', 'eu', { annotation: bad })], voters, 3)[0]!;
    assert.equal(out.changed, true, bad);
    assert.ok(out.sid >= 1000);
  }
  assert.equal(parseServerId(' 1234 '), 1234);
  assert.equal(parseServerId('7'), undefined);
  const voterId = assignObserverIds(
    [pod('p', 'eu', { annotation: '9' })],
    [{ sid: 9, role: 'voter', host: 'v' }],
    3,
  )[0]!;
  assert.notEqual(voterId.sid, 9, 'an id a voter holds');
});

test('a full region block overflows past the blocks instead of colliding', () => {
  const base = regionBase('eu');
  const full: Member[] = Array.from({ length: OBSERVER_BLOCK }, (_, i) => ({
    sid: base + i,
    role: 'observer',
    host: `h${i}`,
  }));
  const out = assignObserverIds([pod('one-more')], [...voters, ...full], 3)[0]!;
  assert.ok(!full.some((m) => m.sid === out.sid));
  assert.ok(out.sid > 1_000_000);
});
