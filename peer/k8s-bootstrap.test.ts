import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServerIdFile, podEnv, startingMembership, voterServerId } from './k8s-bootstrap.ts';
import { parseDynamicConfig } from './quorum/quorum-config.ts';

const PORTS = { quorum: 2888, election: 3888, client: 2181 };
const POD = { podName: 'zk-eu-x1', podIP: '10.0.0.7', role: 'observer' as const };

test('server ids: a voter from its ordinal, an observer from the annotation file', () => {
  assert.equal(voterServerId('zk-voters-0'), 1);
  assert.equal(voterServerId('a-b-c-6'), 7);
  assert.throws(() => voterServerId('zk-voters'), /ordinal/);
  assert.equal(parseServerIdFile('101\n'), 101);
  assert.equal(parseServerIdFile(''), null, 'not assigned yet');
  assert.equal(parseServerIdFile('0'), null);
  assert.equal(parseServerIdFile('12a'), null);
});

test('the pod environment is checked', () => {
  assert.throws(() => podEnv({ POD_IP: '1.2.3.4', ZKE_ROLE: 'voter' }), /POD_NAME/);
  assert.throws(() => podEnv({ POD_NAME: 'p', POD_IP: '1.2.3.4', ZKE_ROLE: 'leader' }), /ZKE_ROLE/);
  assert.deepEqual(podEnv({ POD_NAME: 'p', POD_IP: '1.2.3.4', ZKE_ROLE: 'voter' }), {
    podName: 'p',
    podIP: '1.2.3.4',
    role: 'voter',
  });
});

test('membership: the newer of ConfigMap and data dir, plus this server when not listed', () => {
  const cm = parseDynamicConfig('server.1=zk-0.h:2888:3888:participant;2181\nversion=100000000');
  const joined = startingMembership(cm, null, 101, POD, PORTS);
  assert.equal(joined.version, 0x100000000);
  assert.deepEqual(joined.members.get(101), {
    sid: 101,
    host: '10.0.0.7',
    quorumPort: 2888,
    electionPort: 3888,
    role: 'observer',
    clientAddress: null,
    clientPort: 2181,
  });
  const newer = parseDynamicConfig(
    'server.1=zk-0.h:2888:3888:participant;2181\nserver.101=10.0.0.7:2888:3888:observer;2181\nversion=100000005',
  );
  assert.equal(
    startingMembership(cm, newer, 101, POD, PORTS),
    newer,
    'a later reconfig kept in the data dir wins',
  );
  const older = parseDynamicConfig('server.1=zk-0.h:2888:3888:participant;2181\nversion=1');
  assert.equal(startingMembership(cm, older, 1, POD, PORTS), cm);
});
