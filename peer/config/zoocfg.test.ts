import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, isStandalone, parseZooConfig } from './zoocfg.ts';

test('parses ZooKeeper keys with defaults derived from tickTime', () => {
  const c = parseZooConfig(
    '# comment\ntickTime=2000\ndataDir=/d\nclientPort=2182\nzookeeper.extendedTypesEnabled=true\n',
  );
  assert.equal(c.tickTime, 2000);
  assert.equal(c.dataLogDir, '/d');
  assert.equal(c.minSessionTimeout, 4000);
  assert.equal(c.maxSessionTimeout, 40000);
  assert.equal(c.clientPort, 2182);
  assert.equal(c.extendedTypesEnabled, true);
  assert.deepEqual(c.fourLetterWords, new Set(['srvr']));
  assert.ok(isStandalone(c));
});

test('server lines with observers, optional election port and client address', () => {
  const c = parseZooConfig(
    'dataDir=/d\nserver.1=10.0.0.1:2888:3888\nserver.2=h2:2888:3888:participant;2181\nserver.3=h3:2888:observer;0.0.0.0:2181\npeerType=observer\n',
  );
  assert.equal(c.servers.length, 3);
  assert.deepEqual(
    c.servers.map((s) => [s.id, s.host, s.quorumPort, s.electionPort, s.role, s.clientAddress, s.clientPort]),
    [
      [1, '10.0.0.1', 2888, 3888, 'participant', null, null],
      [2, 'h2', 2888, 3888, 'participant', null, 2181],
      [3, 'h3', 2888, null, 'observer', '0.0.0.0', 2181],
    ],
  );
  assert.equal(c.peerType, 'observer');
  assert.equal(isStandalone(c), false);
});

test('unknown keys are collected, not fatal', () => {
  const c = parseZooConfig('dataDir=/d\nfancyNewKey=1\n');
  assert.deepEqual(c.unknown, [{ key: 'fancyNewKey', line: 2 }]);
});

test('malformed lines and values name the line', () => {
  assert.throws(
    () => parseZooConfig('dataDir=/d\nthis is not a setting\n'),
    (e: Error) => e instanceof ConfigError && /line 2/.test(e.message),
  );
  assert.throws(
    () => parseZooConfig('dataDir=/d\n\ntickTime=abc\n'),
    /line 3: tickTime=abc is not an integer/,
  );
  assert.throws(() => parseZooConfig('dataDir=/d\nserver.1=host\n'), /line 2: server.1=host/);
  assert.throws(() => parseZooConfig('clientPort=1\n'), /dataDir is not set/);
  assert.throws(
    () => parseZooConfig('dataDir=/d\nminSessionTimeout=9000\nmaxSessionTimeout=5000\n'),
    /larger than/,
  );
});

test('readonlymode.enabled turns read-only mode on and allows isro, as ZooKeeper does', () => {
  const off = parseZooConfig('dataDir=/d\n');
  assert.equal(off.readOnlyModeEnabled, false);
  assert.deepEqual(off.fourLetterWords, new Set(['srvr']));
  const on = parseZooConfig('dataDir=/d\nreadonlymode.enabled=true\n');
  assert.equal(on.readOnlyModeEnabled, true);
  assert.deepEqual(on.fourLetterWords, new Set(['srvr', 'isro']));
  assert.equal(parseZooConfig('dataDir=/d\nzookeeper.readonlymode.enabled=yes\n').readOnlyModeEnabled, true);
  assert.equal(
    parseZooConfig('dataDir=/d\n4lw.commands.whitelist=*\nreadonlymode.enabled=true\n').fourLetterWords,
    'all',
  );
  assert.throws(() => parseZooConfig('dataDir=/d\nreadonlymode.enabled=maybe\n'), ConfigError);
});

test('observerMasterPort and observerMaster.sizeLimit (either key form), as ZooKeeper reads them', () => {
  const off = parseZooConfig('dataDir=/d\n');
  assert.equal(off.observerMasterPort, null);
  assert.equal(off.observerMasterSizeLimit, 32 * 1024 * 1024);
  const on = parseZooConfig('dataDir=/d\nobserverMasterPort=2889\nzookeeper.observerMaster.sizeLimit=1000\n');
  assert.equal(on.observerMasterPort, 2889);
  assert.equal(on.observerMasterSizeLimit, 1000);
  assert.deepEqual(on.unknown, []);
  assert.throws(() => parseZooConfig('dataDir=/d\nobserverMasterPort=0\n'), /line 2: observerMasterPort=0/);
});
