// Observability end to end. A 3-voter + 1-observer ensemble of peer processes: /metrics scraped and
// parsed with a real Prometheus text-format parser, the observer's questions (lag, INFORMs, its
// master), the leader's (learners, queues, refused learners), probes, and the role label moving
// after the leader is killed; no secret in any log. Then the peer and Apache ZooKeeper side by side:
// every four-letter word and AdminServer command compared key by key, and zktop (Debian's
// package) reading both.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ZkConnection } from '../peer/client/connection.ts';
import { type Families, labelValues, parseExposition, sampleValue } from '../peer/metrics/testutil.ts';
import { CreateFlags, Err } from '../peer/protocol/constants.ts';
import { type Ensemble, startEnsemble } from './lib/ensemble.ts';
import { DEBIAN_PYTHON, fourLetterWord, freePort, type RunningServer, startServer } from './lib/servers.ts';
import { until } from './lib/wait.ts';

async function get(url: string): Promise<{ status: number; text: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, text: await r.text() };
}

describe('metrics of a 3 + 1 ensemble, across a failover', () => {
  const SECRET = 'learner-secret-3f9c2a7d51e04b88';
  const PASSWORD = 'client-password-8d2e61c0';
  const secretDir = mkdtempSync(join(tmpdir(), 'zke-obs-secret-'));
  let e: Ensemble;
  const admin = (sid: number) => `http://127.0.0.1:${e.members.get(sid)!.adminPort}`;
  const scrape = async (sid: number): Promise<Families> => {
    const r = await get(`${admin(sid)}/metrics`);
    assert.equal(r.status, 200);
    return parseExposition(r.text);
  };
  const roleOf = (f: Families) => labelValues(f, 'zkensemble_info', 'role')[0];

  before(async () => {
    writeFileSync(join(secretDir, 'secret'), `${SECRET}\n`);
    e = await startEnsemble({
      voters: 3,
      observers: 1,
      logLevel: 'debug',
      config: {
        'learner.allowList': '127.0.0.1/32',
        'learner.sharedSecretFile': join(secretDir, 'secret'),
        'zkensemble.ensemble': 'obs-test',
      },
      extraFor: (sid) => ({ 'zkensemble.region': sid === 4 ? 'region-b' : 'region-a' }),
    });
    await e.waitFormed();
  });
  after(async () => {
    await e.close();
    rmSync(secretDir, { recursive: true, force: true });
  });

  test('series, labels and the answers to what operators ask, then the role label after a failover', async () => {
    const leader = await e.waitFormed();
    const observer = 4;
    const followers = [1, 2, 3].filter((s) => s !== leader);

    // Writes through the observer and the leader; a client authenticates with a digest password.
    const viaObserver = await ZkConnection.connect({
      port: e.members.get(observer)!.clientPort,
      timeOut: 10_000,
    });
    assert.equal((await viaObserver.auth('digest', `alice:${PASSWORD}`)).err, Err.OK);
    const viaLeader = await ZkConnection.connect({
      port: e.members.get(leader)!.clientPort,
      timeOut: 10_000,
    });
    for (let i = 0; i < 20; i++) assert.equal((await viaObserver.create(`/o${i}`, 'x')).err, Err.OK);
    for (let i = 0; i < 10; i++) assert.equal((await viaLeader.create(`/l${i}`, 'x')).err, Err.OK);
    assert.equal((await viaObserver.create('/eph', 'x', undefined, CreateFlags.EPHEMERAL)).err, Err.OK);
    await viaObserver.sync('/');

    // A learner connection from an address outside learner.allowList is refused and counted.
    const stranger = net.connect({
      host: e.members.get(leader)!.host,
      port: e.members.get(leader)!.quorumPort,
      localAddress: '127.0.0.2',
    });
    stranger.on('error', () => {});
    await until('the refusal to be counted', 10_000, async () => {
      const f = await scrape(leader);
      return sampleValue(f, 'zkensemble_learner_connections_refused_total', { reason: 'allow_list' }) === 1;
    });
    stranger.destroy();

    // Every member: role label = srvr's Mode, region and ensemble labels, ready.
    for (const sid of [1, 2, 3, 4]) {
      const f = await scrape(sid);
      const mode = await e.mode(sid);
      assert.equal(roleOf(f), mode, `member ${sid}`);
      const region = sid === observer ? 'region-b' : 'region-a';
      for (const line of (await get(`${admin(sid)}/metrics`)).text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        assert.ok(line.includes(`region="${region}"`) && line.includes('ensemble="obs-test"'), line);
      }
      assert.equal(sampleValue(f, 'zkensemble_ready'), 1);
      assert.equal(sampleValue(f, 'zkensemble_info', { server_id: String(sid) }), 1);
      assert.equal(sampleValue(f, 'quorum_size'), 3);
      assert.equal((await get(`${admin(sid)}/readyz`)).status, 200);
      assert.equal((await get(`${admin(sid)}/healthz`)).status, 200);
    }

    // The leader: its learners, how many are synced, a queue per learner, what it proposed.
    const lf = await scrape(leader);
    assert.equal(sampleValue(lf, 'learners'), 3);
    assert.equal(sampleValue(lf, 'synced_followers'), 2);
    assert.equal(sampleValue(lf, 'synced_observers'), 1);
    assert.deepEqual(
      labelValues(lf, 'zkensemble_learner_queued_bytes', 'learner_sid').sort(),
      [...followers, observer].map(String).sort(),
    );
    // A ping written this turn sits corked until the turn ends, so an idle queue reads 0 only
    // between pings: wait for it rather than sample once.
    await until('the observer queue to drain', 10_000, async () => {
      const f = await scrape(leader);
      return sampleValue(f, 'zkensemble_learner_queued_bytes', { learner_type: 'observer' }) === 0;
    });
    assert.ok(sampleValue(lf, 'commit_count')! >= 31);
    assert.ok(sampleValue(lf, 'proposal_count')! >= 31);
    assert.ok(sampleValue(lf, 'max_proposal_size')! > 0);
    assert.equal(sampleValue(lf, 'zkensemble_learner_connections_admitted_total'), 3);
    const obsr = JSON.parse((await get(`${admin(leader)}/commands/observers`)).text);
    assert.equal(obsr.synced_observers, 1);
    assert.equal(obsr.observers[0].sid, observer);

    // The observer: its master, INFORMs (no PROPOSALs), no lag once synced.
    await until('the observer to have no lag', 10_000, async () => {
      const f = await scrape(observer);
      return sampleValue(f, 'zkensemble_learner_lag_txns') === 0;
    });
    const of = await scrape(observer);
    assert.equal(sampleValue(of, 'observer_master_id'), leader);
    assert.equal(sampleValue(of, 'zkensemble_learner_master', { master_sid: String(leader) }), 1);
    assert.ok(sampleValue(of, 'learner_commit_received_count')! >= 31);
    assert.equal(sampleValue(of, 'learner_proposal_received_count'), 0);
    assert.equal(sampleValue(of, 'zkensemble_learner_lag_ms'), 0);
    assert.ok(Number(of.get('propagation_latency')!.metrics[0]!.count) >= 31);
    assert.equal(sampleValue(of, 'ephemerals_count'), 1);
    const lead = JSON.parse((await get(`${admin(observer)}/commands/leader`)).text);
    assert.deepEqual([lead.is_leader, lead.leader_id, lead.error], [false, leader, null]);
    // A follower gets PROPOSALs and COMMITs.
    const ff = await scrape(followers[0]!);
    assert.ok(sampleValue(ff, 'learner_proposal_received_count')! >= 31);
    assert.ok(sampleValue(ff, 'learner_commit_received_count')! >= 31);
    viaObserver.destroy();
    viaLeader.destroy();

    // mntr on each role has ZooKeeper's role keys (from ZooKeeper 3.8 ensembles' output).
    const keys = async (sid: number) =>
      new Set(
        (await fourLetterWord('127.0.0.1', e.members.get(sid)!.clientPort, 'mntr'))
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\t')[0]!),
      );
    const leaderOnly = [
      'zk_learners',
      'zk_synced_followers',
      'zk_synced_non_voting_followers',
      'zk_synced_observers',
      'zk_leader_uptime',
      'zk_last_proposal_size',
      'zk_min_proposal_size',
      'zk_max_proposal_size',
    ];
    const lk = await keys(leader);
    for (const k of [...leaderOnly, 'zk_peer_state', 'zk_quorum_size']) assert.ok(lk.has(k), `leader ${k}`);
    const ok = await keys(observer);
    for (const k of ['zk_observer_master_id', 'zk_peer_state', 'zk_quorum_size']) assert.ok(ok.has(k), k);
    for (const k of leaderOnly) assert.ok(!ok.has(k), `observer has no ${k}`);
    const fk = await keys(followers[0]!);
    assert.ok(!fk.has('zk_observer_master_id') && !fk.has('zk_learners'));

    // Kill the leader: a new one is elected and the role labels move with it.
    const lookingBefore = sampleValue(of, 'looking_count')!;
    await e.kill9(leader);
    const newLeader = await e.waitFormed();
    assert.notEqual(newLeader, leader);
    await until('the role labels to settle', 10_000, async () => {
      for (const sid of [...followers, observer]) {
        const f = await scrape(sid);
        if (roleOf(f) !== (sid === newLeader ? 'leader' : sid === observer ? 'observer' : 'follower'))
          return false;
        if (sampleValue(f, 'zkensemble_ready') !== 1) return false;
      }
      return true;
    });
    const nf = await scrape(newLeader);
    assert.equal(sampleValue(nf, 'learners'), 2);
    assert.equal(sampleValue(nf, 'synced_observers'), 1);
    const of2 = await scrape(observer);
    assert.equal(sampleValue(of2, 'observer_master_id'), newLeader);
    assert.ok(sampleValue(of2, 'looking_count')! > lookingBefore);
    assert.equal(sampleValue(of2, 'zkensemble_learner_master', { master_sid: String(newLeader) }), 1);

    // No secret reached any log, debug level included.
    for (const m of e.members.values()) {
      assert.ok(m.output.length > 0);
      assert.ok(!m.output.includes(SECRET), `member ${m.sid} logged the shared secret`);
      assert.ok(!m.output.includes(PASSWORD), `member ${m.sid} logged a client password`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The peer against Apache ZooKeeper 3.8 (standalone, same zoo.cfg lines).

/**
 * mntr keys ZooKeeper prints that the peer does not, by base name (summaries: zk_avg_/min_/max_/
 * cnt_/sum_/p50_... of the base). Each group says why.
 */
const MNTR_NOT_PRINTED: Record<string, readonly string[]> = {
  // The JVM, Netty and ZooKeeper's watcher-cleaner threads have no counterpart.
  'JVM and thread internals': [
    'jvm_pause_time_ms',
    'netty_queued_buffer_capacity',
    'add_dead_watcher_stall_time',
    'dead_watchers_queued',
    'dead_watchers_cleared',
    'dead_watchers_cleaner_latency',
    'socket_closing_time',
    'cnxn_closed_without_zk_server_running',
  ],
  // Queues and threads of ZooKeeper's request-processor chain; the peer is one event loop.
  'request-processor pipeline stages': [
    'prep_processor_request_queued',
    'prep_processor_queue_size',
    'prep_processor_queue_time_ms',
    'prep_process_time',
    'close_session_prep_time',
    'outstanding_changes_queued',
    'outstanding_changes_removed',
    'request_commit_queued',
    'requests_not_forwarded_to_commit_processor',
    'commit_commit_proc_req_queued',
    'read_commit_proc_req_queued',
    'write_commit_proc_req_queued',
    'read_commit_proc_issued',
    'write_commit_proc_issued',
    'read_commitproc_time_ms',
    'write_commitproc_time_ms',
    'commit_process_time',
    'concurrent_request_processing_in_commit_processor',
    'write_batch_time_in_commit_processor',
    'time_waiting_empty_pool_in_commit_processor_read_ms',
    'requests_in_session_queue',
    'pending_session_queue_size',
    'reads_after_write_in_session_queue',
    'reads_issued_from_session_queue',
    'session_queues_drained',
    'sync_processor_request_queued',
    'sync_processor_queue_size',
    'sync_processor_queue_time_ms',
    'sync_processor_queue_flush_time_ms',
    'sync_processor_queue_and_flush_time_ms',
    'sync_processor_batch_size',
    'sync_process_time',
    'proposal_process_time',
    'read_final_proc_time_ms',
    'write_final_proc_time_ms',
    'local_write_committed_time_ms',
    'server_write_committed_time_ms',
    'learner_request_processor_queue_size',
    'skip_learner_request_to_next_processor_count',
    'om_proposal_process_time_ms',
    'om_commit_process_time_ms',
  ],
  // Features the peer does not have: throttling, the response cache, a TLS client port, quorum SASL,
  // response-size tracking, sync throttling, digest verification.
  'features not implemented': [
    'connection_token_deficit',
    'connection_drop_count',
    'request_throttle_queue_time_ms',
    'request_throttle_wait_count',
    'throttled_ops',
    'large_requests_rejected',
    'stale_requests',
    'stale_requests_dropped',
    'stale_replies',
    'response_packet_cache_hits',
    'response_packet_cache_misses',
    'response_packet_get_children_cache_hits',
    'response_packet_get_children_cache_misses',
    'non_mtls_local_conn_count',
    'non_mtls_remote_conn_count',
    'tls_handshake_exceeded',
    'insecure_admin_count',
    'unsuccessful_handshake',
    'ensemble_auth_success',
    'ensemble_auth_fail',
    'ensemble_auth_skip',
    'client_response_size',
    'last_client_response_size',
    'response_bytes',
    'watch_bytes',
    'inflight_snap_count',
    'inflight_diff_count',
    'quit_leading_due_to_disloyal_voter',
    'digest_mismatches_count',
  ],
  // Meaningful, not measured yet.
  'not measured yet': [
    'fsynctime',
    'snapshottime',
    'readlatency',
    'updatelatency',
    'node_created_watch_count',
    'node_deleted_watch_count',
    'node_changed_watch_count',
    'node_children_watch_count',
    'connection_request_count',
    'connection_rejected',
    'connection_revalidate_count',
    'revalidate_count',
    'bytes_received_count',
    'sessionless_connections_expired',
    'stale_sessions_expired',
    'unrecoverable_error_count',
    'startup_snap_load_time',
    'startup_txns_loaded',
    'startup_txns_load_time',
    'unavailable_time',
    'leader_unavailable_time',
    'commit_propagation_latency',
    'proposal_latency',
    'proposal_ack_creation_latency',
    'quorum_ack_latency',
  ],
};

/**
 * Summary sets per top-level znode (`<namespace>_read_per_namespace`, `..._write_per_namespace`):
 * per-namespace request sizes are not measured yet.
 */
const PER_NAMESPACE = /_(read|write)_per_namespace$/;

/** Single keys not printed: the peer keeps min/avg/max/count/sum of propagation_latency, no quantiles. */
const MNTR_KEYS_NOT_PRINTED = ['p50', 'p95', 'p99', 'p999'].map((p) => `zk_${p}_propagation_latency`);

const SUMMARY_KEY = /^zk_(?:avg|min|max|cnt|sum|p50|p95|p99|p999)_(.+)$/;

function mntrKeys(text: string): string[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[0]!);
}

/** The `label:` part of each line of srvr/stat (connection lines and blanks left out). */
function statLabels(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith(' /'))
    .map((l) => l.slice(0, l.indexOf(':') + 1));
}

function confKeys(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => l.slice(0, l.indexOf('=')));
}

/** Session ids, dates and numbers replaced, so texts of the two servers can be compared. */
function shape(text: string): string {
  return text
    .replace(/0x[0-9a-f]+/g, '<hex>')
    .replace(/\w{3} \w{3} \d\d \d\d:\d\d:\d\d \w+ \d{4}/g, '<date>')
    .replace(/\d+/g, 'N');
}

/** key=value names of a cons line. */
function consFields(line: string): string[] {
  const inner = /\((.*)\)$/.exec(line)?.[1] ?? '';
  return inner.split(',').map((kv) => kv.split('=')[0]!);
}

/** AdminServer JSON fields ZooKeeper has and the peer deliberately does not. */
const JSON_NOT_RETURNED: Record<string, readonly string[]> = {
  // The transaction log's fsync warnings and per-response buffer sizes are not tracked.
  server_stats: ['client_response'],
  stats: ['client_response'],
  'server_stats.server_stats': [
    'fsync_threshold_exceed_count',
    'client_response_stats',
    'non_mtlsremote_conn_count',
    'non_mtlslocal_conn_count',
  ],
  // Java-only environment entries (node.version stands in for java.version).
  environment: [
    'java.version',
    'java.vendor',
    'java.home',
    'java.class.path',
    'java.library.path',
    'java.compiler',
  ],
  // lresp (last response time) is not kept per connection.
  'connections.connections': ['last_response_time'],
};

describe('the peer and Apache ZooKeeper side by side', () => {
  let zk: RunningServer;
  let peer: RunningServer;
  const adminPorts = new Map<RunningServer, number>();
  const clients: ZkConnection[] = [];
  // Every word this server answers, and not `hash`: both must refuse it as not whitelisted.
  const whitelist = 'ruok,srvr,stat,mntr,conf,cons,crst,srst,envi,dirs,wchs,wchc,wchp,dump,isro';

  before(async () => {
    const start = async (kind: 'peer' | 'zookeeper') => {
      const port = await freePort();
      const s = await startServer(kind, {
        config: {
          '4lw.commands.whitelist': whitelist,
          'admin.enableServer': 'true',
          'admin.serverAddress': '127.0.0.1',
          'admin.serverPort': port,
        },
      });
      adminPorts.set(s, port);
      return s;
    };
    [zk, peer] = await Promise.all([start('zookeeper'), start('peer')]);
    // The same state on both: a session with an ephemeral, data and exists watches.
    for (const s of [zk, peer]) {
      const c = await ZkConnection.connect({ port: s.port, timeOut: 10_000 });
      clients.push(c);
      assert.equal((await c.create('/eph', 'x', undefined, CreateFlags.EPHEMERAL)).err, Err.OK);
      assert.equal((await c.create('/w', 'y')).err, Err.OK);
      await c.getData('/w', true);
      await c.exists('/nope', true);
    }
    await until('ZooKeeper admin server', 15_000, () =>
      get(`http://127.0.0.1:${adminPorts.get(zk)}/commands/ruok`).then(
        (r) => r.status === 200,
        () => false,
      ),
    );
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await Promise.all([zk?.stop(), peer?.stop()]);
  });

  const word = (s: RunningServer, w: string) => fourLetterWord(s.host, s.port, w);

  test('mntr: the peer prints every ZooKeeper key except the listed ones, and none of those', async () => {
    const zkKeys = mntrKeys(await word(zk, 'mntr'));
    const peerKeys = new Set(mntrKeys(await word(peer, 'mntr')));
    const notPrinted = new Set(Object.values(MNTR_NOT_PRINTED).flat());
    const baseOf = (k: string) => SUMMARY_KEY.exec(k)?.[1] ?? k.slice(3);
    const missing = zkKeys.filter(
      (k) =>
        !peerKeys.has(k) &&
        !notPrinted.has(baseOf(k)) &&
        !MNTR_KEYS_NOT_PRINTED.includes(k) &&
        !PER_NAMESPACE.test(k),
    );
    assert.deepEqual(missing, [], 'ZooKeeper keys the peer lacks without a listed reason');
    const listedButPrinted = [...peerKeys].filter(
      (k) => notPrinted.has(baseOf(k)) || MNTR_KEYS_NOT_PRINTED.includes(k),
    );
    assert.deepEqual(listedButPrinted, [], 'keys listed as not printed that the peer prints');
    const zkBases = new Set(zkKeys.map(baseOf));
    const stale = [...notPrinted].filter((b) => !zkBases.has(b));
    assert.deepEqual(stale, [], 'listed keys ZooKeeper does not print either');
    // The values that can be compared are the same.
    const values = (t: string) =>
      new Map(
        t
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\t') as [string, string]),
      );
    const [zv, pv] = [values(await word(zk, 'mntr')), values(await word(peer, 'mntr'))];
    for (const k of [
      'zk_server_state',
      'zk_znode_count',
      'zk_ephemerals_count',
      'zk_global_sessions',
      'zk_watch_count',
    ])
      assert.equal(pv.get(k), zv.get(k), k);
  });

  test('srvr, stat, conf, envi, dirs, isro, ruok: the same lines and keys', async () => {
    for (const w of ['srvr', 'stat'])
      assert.deepEqual(statLabels(await word(peer, w)), statLabels(await word(zk, w)), w);
    assert.match(await word(peer, 'srvr'), /^Zookeeper version: 3\.8\.0-/);
    assert.deepEqual(confKeys(await word(peer, 'conf')), confKeys(await word(zk, 'conf')));
    const javaOnly = new Set(JSON_NOT_RETURNED.environment);
    const zkEnv = confKeys(await word(zk, 'envi')).filter((k) => !javaOnly.has(k));
    const peerEnv = new Set(confKeys(await word(peer, 'envi')));
    assert.deepEqual(
      zkEnv.filter((k) => !peerEnv.has(k)),
      [],
    );
    assert.equal(shape(await word(peer, 'dirs')), shape(await word(zk, 'dirs')));
    for (const w of ['isro', 'ruok']) assert.equal(await word(peer, w), await word(zk, w), w);
  });

  test('cons, wchs, wchc, wchp, dump: the same layout', async () => {
    const sessionLine = (t: string) => t.split('\n').find((l) => l.includes(',sid='))!;
    const zkCons = consFields(sessionLine(await word(zk, 'cons'))).filter((f) => f !== 'lresp');
    assert.deepEqual(consFields(sessionLine(await word(peer, 'cons'))), zkCons);
    for (const w of ['wchs', 'wchc', 'wchp'])
      assert.deepEqual(
        shape(await word(peer, w))
          .split('\n')
          .sort(),
        shape(await word(zk, w))
          .split('\n')
          .sort(),
        w,
      );
    // ZooKeeper goes on with its connection expiry queue, which the peer does not have.
    const zkDump = (await word(zk, 'dump')).split('Connections dump:')[0]!;
    assert.equal(shape(await word(peer, 'dump')), shape(zkDump));
  });

  test('the whitelist refuses alike', async () => {
    assert.equal(await word(peer, 'hash'), await word(zk, 'hash'));
    assert.equal(await word(peer, 'hash'), 'hash is not executed because it is not in the whitelist.\n');
  });

  test('AdminServer commands: ZooKeeper field names, less the listed ones', async () => {
    const json = async (s: RunningServer, cmd: string) =>
      JSON.parse((await get(`http://127.0.0.1:${adminPorts.get(s)}/commands/${cmd}`)).text) as Record<
        string,
        unknown
      >;
    const lacking = (zkObj: object, peerObj: object, listed: readonly string[] = []) =>
      Object.keys(zkObj).filter((k) => !(k in peerObj) && !listed.includes(k));
    for (const cmd of [
      'ruok',
      'server_stats',
      'stats',
      'configuration',
      'connections',
      'dirs',
      'dump',
      'environment',
      'is_read_only',
      'last_snapshot',
      'leader',
      'monitor',
      'watch_summary',
      'watches',
      'watches_by_path',
      'initial_configuration',
      'connection_stat_reset',
      'observers',
      'voting_view',
      'zabstate',
    ]) {
      const [z, p] = [await json(zk, cmd), await json(peer, cmd)];
      assert.equal(p.command, z.command, cmd);
      assert.equal(p.error, z.error, cmd);
      if (cmd === 'monitor') continue; // compared key by key through mntr above
      assert.deepEqual(lacking(z, p, JSON_NOT_RETURNED[cmd]), [], cmd);
    }
    const [zs, ps] = [await json(zk, 'srvr'), await json(peer, 'srvr')];
    assert.deepEqual(
      lacking(
        zs.server_stats as object,
        ps.server_stats as object,
        JSON_NOT_RETURNED['server_stats.server_stats'],
      ),
      [],
    );
    const first = (o: Record<string, unknown>) => (o.connections as object[])[0]!;
    const [zc, pc] = [await json(zk, 'cons'), await json(peer, 'cons')];
    assert.deepEqual(lacking(first(zc), first(pc), JSON_NOT_RETURNED['connections.connections']), []);
    // Session ids are JSON numbers on both, digit for digit (longs beyond 2^53).
    const raw = await get(`http://127.0.0.1:${adminPorts.get(peer)}/commands/cons`);
    const id = BigInt.asIntN(64, clients[1]!.sessionId).toString();
    assert.match(raw.text, new RegExp(`"session_id": ${id}\\b`));
  });

  test('zktop reads both servers: its stat parser, and its screen', async () => {
    const servers = `${zk.connectString},${peer.connectString}`;
    // zktop has no batch mode: its own parser (zktop.ZKServer) is what the screen shows.
    const script = [
      'import json, sys',
      `sys.argv = ['zktop', '--servers', ${JSON.stringify(servers)}, '--timeout', '5']`,
      'import zktop',
      'out = []',
      'for i, s in enumerate(sys.argv[2].split(",")):',
      '    z = zktop.ZKServer(s, i)',
      '    out.append({"unavailable": z.unavailable, "mode": z.mode, "version": z.version,',
      '                "node_count": getattr(z, "node_count", None), "zxid": getattr(z, "zxid", None),',
      '                "latency": [z.min_latency, z.avg_latency, z.max_latency] if not z.unavailable else None,',
      '                "sessions": [[x.queued, x.recved, x.sent] for x in z.sessions]})',
      'print(json.dumps(out))',
    ].join('\n');
    const r = spawnSync(DEBIAN_PYTHON, ['-c', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const [z, p] = JSON.parse(r.stdout) as {
      unavailable: boolean;
      mode: string;
      node_count: string;
      sessions: unknown[];
    }[];
    assert.equal(z!.unavailable, false);
    assert.equal(p!.unavailable, false, 'zktop could not parse the peer');
    assert.equal(p!.mode, 'standalone');
    assert.equal(p!.node_count, z!.node_count);
    assert.ok(p!.sessions.length >= 1);

    // And the curses screen, under tmux on a private socket, for a bounded time.
    const sock = `zke-zktop-${process.pid}`;
    const tmux = (...args: string[]) =>
      spawnSync('tmux', ['-L', sock, ...args], { encoding: 'utf8', timeout: 10_000 });
    const started = tmux('new-session', '-d', '-x', '120', '-y', '20', `zktop --servers ${servers}`);
    assert.equal(started.status, 0, started.stderr);
    try {
      let screen = '';
      await until('zktop to draw both servers', 15_000, () => {
        screen = tmux('capture-pane', '-p').stdout;
        return /^0 +127\.0\.0\.1 +\d+ S +\d/m.test(screen) && /^1 +127\.0\.0\.1 +\d+ S +\d/m.test(screen);
      });
      assert.match(screen, /Ensemble -- nodecount:\d+ zxid:0x[0-9a-f]+ sessions:\d+/);
      tmux('send-keys', 'q');
    } finally {
      tmux('kill-server');
    }
  });

  test('an admin port already taken is logged, and the peer serves anyway', async () => {
    const s = await startServer('peer', {
      config: {
        'admin.enableServer': 'true',
        'admin.serverAddress': '127.0.0.1',
        'admin.serverPort': adminPorts.get(zk)!,
      },
    });
    try {
      assert.match(await fourLetterWord(s.host, s.port, 'srvr'), /Mode: standalone/);
      assert.match(s.output(), /admin server could not start/);
    } finally {
      await s.stop();
    }
  });
});
