import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../config/zoocfg.ts';
import { observabilitySettings } from './settings.ts';

const raw = (o: Record<string, string>) => new Map(Object.entries(o));

test('ZooKeeper defaults: admin server enabled on 0.0.0.0:8080 under /commands', () => {
  const s = observabilitySettings(raw({}), {});
  assert.deepEqual(s.admin, { enabled: true, address: '0.0.0.0', port: 8080, commandURL: '/commands' });
  assert.deepEqual(s.labels, { region: 'default', ensemble: 'default' });
  assert.equal(s.logLevel, null);
});

test('zoo.cfg keys, with or without the zookeeper. prefix', () => {
  const s = observabilitySettings(
    raw({
      'admin.enableServer': 'false',
      'zookeeper.admin.serverAddress': '127.0.0.2',
      'admin.serverPort': '9090',
      'admin.commandURL': 'cmds/',
      'zkensemble.region': 'eu-west',
      'zkensemble.ensemble': 'orders',
      'zkensemble.logLevel': 'debug',
    }),
    {},
  );
  assert.deepEqual(s.admin, { enabled: false, address: '127.0.0.2', port: 9090, commandURL: '/cmds' });
  assert.deepEqual(s.labels, { region: 'eu-west', ensemble: 'orders' });
  assert.equal(s.logLevel, 'debug');
});

test('ZKE_REGION, ZKE_ENSEMBLE and LOG_LEVEL win over zoo.cfg', () => {
  const s = observabilitySettings(
    raw({ 'zkensemble.region': 'eu-west', 'zkensemble.ensemble': 'orders', 'zkensemble.logLevel': 'debug' }),
    { ZKE_REGION: 'us-east', ZKE_ENSEMBLE: 'payments', LOG_LEVEL: 'warn' },
  );
  assert.deepEqual(s.labels, { region: 'us-east', ensemble: 'payments' });
  assert.equal(s.logLevel, 'warn');
});

test('bad values are configuration errors', () => {
  assert.throws(() => observabilitySettings(raw({ 'admin.serverPort': 'http' }), {}), ConfigError);
  assert.throws(() => observabilitySettings(raw({ 'admin.serverPort': '70000' }), {}), ConfigError);
  assert.throws(() => observabilitySettings(raw({ 'admin.enableServer': 'maybe' }), {}), ConfigError);
  assert.throws(() => observabilitySettings(raw({ 'zkensemble.logLevel': 'loud' }), {}), /log level loud/);
});
