import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseZooConfig } from '../../peer/config/zoocfg.ts';
import { ensemble } from './testutil.ts';
import { configHash, renderStaticConfig } from './zoocfg.ts';

const lines = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));
const value = (text: string, key: string) =>
  lines(text)
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

test('the static zoo.cfg: operator-owned settings for reconfig, paths, ports and the admin server', () => {
  const text = renderStaticConfig(ensemble());
  const cfg = parseZooConfig(text);
  assert.equal(cfg.dataDir, '/data');
  assert.equal(cfg.clientPort, 2181);
  assert.equal(cfg.raw.get('dynamicConfigFile'), '/etc/zkensemble/zoo.cfg.dynamic');
  assert.equal(cfg.raw.get('reconfigEnabled'), 'true');
  assert.equal(cfg.raw.get('standaloneEnabled'), 'false');
  assert.equal(cfg.raw.get('admin.serverPort'), '8080');
  assert.equal(cfg.raw.get('admin.enableServer'), 'true');
  assert.equal(cfg.tickTime, 2000);
  assert.deepEqual([...(cfg.fourLetterWords as Set<string>)].sort(), [
    'conf',
    'isro',
    'mntr',
    'ruok',
    'srvr',
  ]);
  assert.equal(cfg.autopurgePurgeIntervalHours, 1);
  assert.ok(!/^server\./m.test(text), 'no membership in the static file');
  assert.ok(!/sslQuorum|learner\./.test(text), 'no security settings unless asked for');
});

test('spec.zooCfg overrides defaults and adds keys; each key appears once', () => {
  const text = renderStaticConfig(ensemble({ zooCfg: { tickTime: 500, globalOutstandingLimit: '2000' } }));
  assert.deepEqual(value(text, 'tickTime'), ['500']);
  assert.deepEqual(value(text, 'globalOutstandingLimit'), ['2000']);
  const keys = lines(text).map((l) => l.split('=')[0]);
  assert.equal(new Set(keys).size, keys.length);
});

test('owned keys, bad keys and values with line breaks never reach the file', () => {
  const text = renderStaticConfig(
    ensemble({ zooCfg: { dataDir: '/tmp', 'server.5': 'x:1:2', 'a b': '1', tickTime: '1\nserver.6=y:1:2' } }),
  );
  assert.deepEqual(value(text, 'dataDir'), ['/data']);
  assert.ok(!/server\.[56]|a b|^tickTime=1$/m.test(text), text);
});

test('quorum TLS, the learner allow-list and the shared secret become the peer security keys', () => {
  const text = renderStaticConfig(
    ensemble({
      security: {
        quorumTLS: { secretName: 'zk-tls', hostnameVerification: false },
        learnerAllowList: ['10.0.0.0/8', '192.168.0.0/16'],
        sharedSecret: { secretName: 'zk-secret' },
      },
    }),
  );
  assert.deepEqual(value(text, 'sslQuorum'), ['true']);
  assert.deepEqual(value(text, 'ssl.quorum.keyStore.location'), ['/etc/zkensemble/tls/tls-combined.pem']);
  assert.deepEqual(value(text, 'ssl.quorum.trustStore.location'), ['/etc/zkensemble/tls/ca.crt']);
  assert.deepEqual(value(text, 'ssl.quorum.hostnameVerification'), ['false']);
  assert.deepEqual(value(text, 'learner.allowList'), ['10.0.0.0/8,192.168.0.0/16']);
  assert.deepEqual(value(text, 'learner.sharedSecretFile'), ['/etc/zkensemble/secret/shared-secret']);
});

test('the same settings in any order give the same text and hash; a change gives another hash', () => {
  const a = renderStaticConfig(ensemble({ zooCfg: { tickTime: 500, maxClientCnxns: 10 } }));
  const b = renderStaticConfig(ensemble({ zooCfg: { maxClientCnxns: 10, tickTime: 500 } }));
  const c = renderStaticConfig(ensemble({ zooCfg: { maxClientCnxns: 11, tickTime: 500 } }));
  assert.equal(a, b);
  assert.equal(configHash(a), configHash(b));
  assert.notEqual(configHash(a), configHash(c));
  assert.match(configHash(a), /^[0-9a-f]{16}$/);
});
