import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDynamicConfig } from '../../peer/quorum/quorum-config.ts';
import { membersFromConfigText, renderDynamicConfig, serverSpec } from './dynamic-config.ts';
import { desiredMembers, type Member, voterHost } from './members.ts';
import { ensemble, SETTINGS } from './testutil.ts';

const e = ensemble({ observers: { regions: [{ name: 'eu' }] } });
const members: Member[] = [
  { sid: 2003, role: 'observer', host: '10.0.0.7', pod: 'zk-observer-eu-abc', region: 'eu' },
  ...desiredMembers(e, SETTINGS, []),
];

test('server lines: DNS names for voters, pod IPs for observers, ordered by id, ZooKeeper syntax', () => {
  assert.equal(
    renderDynamicConfig(members),
    [
      'server.1=zk-voter-0.zk-voters.prod.svc.cluster.local:2888:3888:participant;2181',
      'server.2=zk-voter-1.zk-voters.prod.svc.cluster.local:2888:3888:participant;2181',
      'server.3=zk-voter-2.zk-voters.prod.svc.cluster.local:2888:3888:participant;2181',
      'server.2003=10.0.0.7:2888:3888:observer;2181',
      '',
    ].join('\n'),
  );
});

test('the version is written in hex, as ZooKeeper writes it, and the peer reads the file back', () => {
  const text = renderDynamicConfig(members, 0x100000003);
  assert.match(text, /\nversion=100000003\n$/);
  const cfg = parseDynamicConfig(text);
  assert.equal(cfg.version, 0x100000003);
  assert.deepEqual(
    [...cfg.members.keys()].sort((a, b) => a - b),
    [1, 2, 3, 2003],
  );
  assert.equal(cfg.members.get(2003)!.role, 'observer');
  assert.equal(cfg.members.get(1)!.host, 'zk-voter-0.zk-voters.prod.svc.cluster.local');
});

test('config text back to members: roles, hosts, voters pod names, version', () => {
  const back = membersFromConfigText(renderDynamicConfig(members, 42));
  assert.equal(back.version, 42);
  assert.deepEqual(
    back.members.map((m) => [m.sid, m.role, m.host, m.pod]),
    [
      [1, 'voter', 'zk-voter-0.zk-voters.prod.svc.cluster.local', 'zk-voter-0'],
      [2, 'voter', 'zk-voter-1.zk-voters.prod.svc.cluster.local', 'zk-voter-1'],
      [3, 'voter', 'zk-voter-2.zk-voters.prod.svc.cluster.local', 'zk-voter-2'],
      [2003, 'observer', '10.0.0.7', undefined],
    ],
  );
});

test('a config without a version reads back without one, and renders again without one', () => {
  const first = renderDynamicConfig(members);
  const back = membersFromConfigText(first);
  assert.equal(back.version, undefined);
  assert.equal(renderDynamicConfig(back.members, back.version), first);
});

test('IPv6 observers are bracketed; duplicate ids and voter-less memberships are refused', () => {
  assert.equal(
    serverSpec({ sid: 9, role: 'observer', host: 'fd00::7' }),
    '[fd00::7]:2888:3888:observer;2181',
  );
  assert.throws(
    () => renderDynamicConfig([...members, { sid: 1, role: 'voter', host: 'x' }]),
    /appears twice/,
  );
  assert.throws(
    () => renderDynamicConfig(members.filter((m) => m.role === 'observer')),
    /at least one voter/,
  );
});

test('the cluster domain comes from the operator settings', () => {
  assert.equal(
    voterHost(e, 4, { ...SETTINGS, clusterDomain: 'corp.internal' }),
    'zk-voter-4.zk-voters.prod.svc.corp.internal',
  );
});

test('desired members: voters from the spec, observers once they have an id and an IP in a known region', () => {
  const d = desiredMembers(e, SETTINGS, [
    { name: 'a', region: 'eu', sid: 5000, ip: '10.1.1.1' },
    { name: 'b', region: 'eu', sid: 5001 },
    { name: 'c', region: 'gone', sid: 5002, ip: '10.1.1.2' },
  ]);
  assert.deepEqual(
    d.map((m) => [m.sid, m.role]),
    [
      [1, 'voter'],
      [2, 'voter'],
      [3, 'voter'],
      [5000, 'observer'],
    ],
  );
});
