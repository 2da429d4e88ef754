// The Prometheus registry over a steerable status: ZooKeeper's names and types, the role label
// following the role, the per-learner and per-reason series, and summaries read from tallies.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { memoryServer, SteeredStatus, testConfig } from '../admin/testutil.ts';
import type { ZkServer } from '../server/zkserver.ts';
import { PeerMetrics, ZK_GAUGES } from './registry.ts';
import { labelValues, parseExposition, sampleValue } from './testutil.ts';

let server: ZkServer;
let status: SteeredStatus;
let metrics: PeerMetrics;

before(async () => {
  const cfg = testConfig();
  server = (await memoryServer(cfg)).server;
  status = new SteeredStatus(1, server, cfg);
  metrics = new PeerMetrics(status, { region: 'eu-west', ensemble: 'orders' });
});
after(() => server.close());

async function scrape() {
  return parseExposition(await metrics.render());
}

test('ZooKeeper gauges, counters and summaries, labelled with role, region and ensemble', async () => {
  status.current = { mode: 'follower', masterSid: 2 };
  status.stats.electionBegan(1000);
  status.stats.electionEnded(1250);
  const f = await scrape();
  for (const name of ZK_GAUGES) assert.equal(f.get(name)?.type, 'GAUGE', name);
  assert.equal(f.get('looking_count')?.type, 'COUNTER');
  assert.equal(sampleValue(f, 'looking_count'), 1);
  assert.equal(f.get('election_time')?.type, 'SUMMARY');
  const et = f.get('election_time')!.metrics[0]!;
  assert.deepEqual([et.count, et.sum], ['1', '250']);
  assert.equal(sampleValue(f, 'znode_count'), server.tree.nodeCount + 1);
  for (const [name, family] of f) {
    for (const m of family.metrics) {
      assert.equal(m.labels?.role, 'follower', name);
      assert.equal(m.labels?.region, 'eu-west', name);
      assert.equal(m.labels?.ensemble, 'orders', name);
    }
  }
  // A leader-only gauge is 0 elsewhere, as in ZooKeeper's exporter.
  assert.equal(sampleValue(f, 'learners'), 0);
  assert.equal(sampleValue(f, 'zkensemble_learner_master', { master_sid: '2' }), 1);
});

test('an observer reports the measured round trip to its master, when it has one', async () => {
  status.current = { mode: 'observer', masterSid: 2, masterRttMs: 1.5 };
  let f = await scrape();
  assert.equal(sampleValue(f, 'zkensemble_learner_master_rtt_seconds', { master_sid: '2' }), 0.0015);
  assert.equal(
    f.get('zkensemble_learner_master_rtt_seconds')!.metrics[0]!.labels?.master_address,
    '127.0.0.1:2889',
  );
  status.current = { mode: 'observer', masterSid: 1 };
  f = await scrape();
  assert.equal(f.get('zkensemble_learner_master_rtt_seconds')?.metrics.length ?? 0, 0, 'not measured');
});

test('the role label moves with the role; looking while between roles', async () => {
  status.current = null;
  let f = await scrape();
  assert.deepEqual([...new Set(labelValues(f, 'zkensemble_ready', 'role'))], ['looking']);
  assert.equal(sampleValue(f, 'zkensemble_ready'), 0);
  assert.equal(sampleValue(f, 'znode_count'), 0);
  status.current = { mode: 'leader' };
  f = await scrape();
  assert.deepEqual(labelValues(f, 'zkensemble_ready', 'role'), ['leader']);
  assert.equal(sampleValue(f, 'zkensemble_ready'), 1);
  assert.equal(f.get('zkensemble_learner_master')?.metrics.length ?? 0, 0);
});

test('leader side: per-learner queues, synced counts, refusals by reason', async () => {
  status.current = {
    mode: 'leader',
    learners: [
      {
        sid: 2,
        kind: 'follower',
        voting: true,
        synced: true,
        remoteAddress: 'a',
        queuedBytes: 0,
        established: 1,
      },
      {
        sid: 3,
        kind: 'observer',
        voting: false,
        synced: true,
        remoteAddress: 'b',
        queuedBytes: 4096,
        established: 1,
      },
      {
        sid: null,
        kind: 'observer',
        voting: false,
        synced: false,
        remoteAddress: 'c',
        queuedBytes: 7,
        established: 1,
      },
    ],
  };
  status.stats.refused('allow_list');
  status.stats.refused('allow_list');
  status.stats.refused('shared_secret');
  const f = await scrape();
  assert.equal(sampleValue(f, 'learners'), 3);
  assert.equal(sampleValue(f, 'synced_followers'), 1);
  assert.equal(sampleValue(f, 'synced_observers'), 1);
  assert.equal(
    sampleValue(f, 'zkensemble_learner_queued_bytes', { learner_sid: '3', learner_type: 'observer' }),
    4096,
  );
  assert.equal(sampleValue(f, 'zkensemble_learner_synced', { learner_sid: 'unknown' }), 0);
  assert.equal(sampleValue(f, 'zkensemble_learner_connections_refused_total', { reason: 'allow_list' }), 2);
  assert.equal(
    sampleValue(f, 'zkensemble_learner_connections_refused_total', { reason: 'shared_secret' }),
    1,
  );
  assert.equal(
    sampleValue(f, 'zkensemble_learner_connections_refused_total', { reason: 'tls_certificate' }),
    0,
  );
});

test('refused election connections, by reason, apart from learner refusals', async () => {
  status.stats.electionRefused('tls_handshake');
  const f = await scrape();
  assert.equal(
    sampleValue(f, 'zkensemble_election_connections_refused_total', { reason: 'tls_handshake' }),
    1,
  );
  assert.equal(sampleValue(f, 'zkensemble_election_connections_refused_total', { reason: 'allow_list' }), 0);
  assert.equal(
    sampleValue(f, 'zkensemble_learner_connections_refused_total', { reason: 'tls_handshake' }),
    0,
  );
});

test('learner side: lag in txns and ms, INFORMs counted as commits', async () => {
  status.current = { mode: 'observer', masterSid: 2 };
  const s = status.stats;
  s.syncBegan(0, 0x100000005);
  s.learnerPacket(19 /* INFORMANDACTIVATE */, 0x100000006, 1);
  s.learnerPacket(8 /* INFORM */, 0x100000007, 2);
  s.applied(0x100000006, 1, 3);
  const now = Date.now();
  s.learnerPacket(5 /* PING */, 0x10000000a, now - 500);
  let f = await scrape();
  assert.equal(sampleValue(f, 'learner_commit_received_count'), 2);
  assert.equal(sampleValue(f, 'zkensemble_learner_lag_txns'), 4);
  assert.ok(sampleValue(f, 'zkensemble_learner_lag_ms')! >= 500);
  assert.equal(sampleValue(f, 'observer_master_id'), 2);
  s.applied(0x10000000a, now, now);
  f = await scrape();
  assert.equal(sampleValue(f, 'zkensemble_learner_lag_txns'), 0);
  assert.equal(sampleValue(f, 'zkensemble_learner_lag_ms'), 0);
  const prop = f.get('propagation_latency')!.metrics[0]!;
  assert.equal(prop.count, '2');
});
