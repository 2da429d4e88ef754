// The admin commands over a live server (in memory, on loopback, driven by a real client): the
// AdminServer JSON field names, the mntr keys of each role, and what is kept out of sight.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ZkConnection } from '../client/connection.ts';
import { CreateFlags, Err } from '../protocol/constants.ts';
import { NO_WRITES } from '../server/read-only.ts';
import { ZkServer } from '../server/zkserver.ts';
import { serverSettings } from '../server-settings.ts';
import { DataTree } from '../tree/datatree.ts';
import { COMMANDS, type CommandContext, findCommand, redactedConfigText, runCommand } from './commands.ts';
import { answerFourLetterWord } from './four-letter.ts';
import { isReady } from './status.ts';
import { memoryServer, SteeredStatus, testConfig } from './testutil.ts';

describe('commands on a serving server', () => {
  let server: ZkServer;
  let client: ZkConnection;
  let status: SteeredStatus;
  let ctx: CommandContext;

  before(async () => {
    const cfg = testConfig('DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n');
    const m = await memoryServer(cfg);
    server = m.server;
    status = new SteeredStatus(1, server, cfg);
    status.standalone = true;
    ctx = { status, cfg };
    client = await ZkConnection.connect({ port: m.port, timeOut: 10_000 });
    assert.equal((await client.create('/eph', 'x', undefined, CreateFlags.EPHEMERAL)).err, Err.OK);
    assert.equal((await client.create('/w', 'y')).err, Err.OK);
    await client.getData('/w', true);
    await client.exists('/nope', true);
    await client.getChildren('/', true);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('stats and server_stats carry ZooKeeper field names and live numbers', () => {
    const r = runCommand('srvr', ctx);
    assert.equal(r.command, 'server_stats');
    assert.equal(r.error, null);
    const st = r.server_stats as Record<string, unknown>;
    for (const k of [
      'packets_sent',
      'packets_received',
      'server_state',
      'outstanding_requests',
      'min_latency',
      'avg_latency',
      'max_latency',
      'data_dir_size',
      'log_dir_size',
      'last_processed_zxid',
      'num_alive_client_connections',
      'uptime',
      'auth_failed_count',
    ])
      assert.ok(k in st, k);
    assert.equal(st.server_state, 'standalone');
    assert.equal(st.last_processed_zxid, server.lastProcessedZxid);
    assert.equal(r.node_count, server.tree.nodeCount + 1);
    const stat = runCommand('stats', ctx);
    assert.equal(stat.command, 'stats');
    assert.equal((stat.connections as unknown[]).length, 1);
    assert.deepEqual(stat.secure_connections, []);
  });

  test('connections: the session fields of a connection with a session', () => {
    const r = runCommand('cons', ctx);
    const [c] = r.connections as Record<string, unknown>[];
    assert.equal(c!.session_id, BigInt.asIntN(64, client.sessionId));
    assert.equal(c!.last_operation, 'GETC');
    assert.equal(c!.interest_ops, 1);
    const text = answerFourLetterWord('cons', ctx);
    assert.match(text, new RegExp(`sid=0x${client.sessionId.toString(16)},lop=GETC,`));
  });

  test('watches: the data-watch table, by session and by path, as ZooKeeper reports it', () => {
    const id = String(BigInt.asIntN(64, client.sessionId));
    assert.deepEqual(runCommand('wchc', ctx).session_id_to_watched_paths, { [id]: ['/w', '/nope'] });
    assert.deepEqual(runCommand('wchp', ctx).path_to_session_ids, {
      '/w': [BigInt(id)],
      '/nope': [BigInt(id)],
    });
    const sum = runCommand('wchs', ctx);
    assert.deepEqual([sum.num_connections, sum.num_paths, sum.num_total_watches], [1, 2, 2]);
  });

  test('dump: the session and its ephemeral', () => {
    const r = runCommand('dump', ctx);
    const id = String(BigInt.asIntN(64, client.sessionId));
    assert.deepEqual(r.session_id_to_ephemeral_paths, { [id]: ['/eph'] });
    const expiry = Object.values(r.expiry_time_to_session_ids as Record<string, bigint[]>).flat();
    assert.deepEqual(expiry, [BigInt(id)]);
  });

  test('monitor: the standalone keys with live values, no ensemble keys', () => {
    const r = runCommand('mntr', ctx);
    assert.equal(r.server_state, 'standalone');
    assert.equal(r.znode_count, server.tree.nodeCount + 1);
    assert.equal(r.ephemerals_count, 1);
    assert.equal(r.global_sessions, 1);
    assert.equal(r.watch_count, server.watches.watchCount);
    for (const k of ['peer_state', 'quorum_size', 'learners', 'observer_master_id']) assert.ok(!(k in r), k);
  });

  test('monitor on a leader and on an observer: their role keys', () => {
    status.standalone = false;
    try {
      status.current = {
        mode: 'leader',
        learners: [
          learner(2, 'follower', true, true),
          learner(3, 'observer', false, true),
          learner(5, 'observer', false, false),
        ],
      };
      status.stats.proposed(100);
      status.stats.proposed(40);
      const r = runCommand('mntr', ctx);
      assert.equal(r.server_state, 'leader');
      assert.equal(r.peer_state, 'leading - broadcast');
      assert.equal(r.quorum_size, 2);
      assert.deepEqual(
        [r.learners, r.synced_followers, r.synced_non_voting_followers, r.synced_observers],
        [3, 1, 0, 1],
      );
      assert.deepEqual([r.last_proposal_size, r.min_proposal_size, r.max_proposal_size], [40, 40, 100]);
      const obsr = runCommand('obsr', ctx);
      assert.equal(obsr.synced_observers, 1);
      assert.deepEqual(
        (obsr.observers as { sid: number }[]).map((o) => o.sid),
        [3, 5],
      );
      assert.match(
        answerFourLetterWord('srvr', ctx),
        /Mode: leader\n[\s\S]*Proposal sizes last\/min\/max: 40\/40\/100\n/,
      );

      status.current = { mode: 'observer', masterSid: 2, zab: 'synchronization' };
      const o = runCommand('mntr', ctx);
      assert.equal(o.observer_master_id, 2);
      assert.equal(o.peer_state, 'observing - synchronization');
      assert.ok(!('learners' in o));
      assert.deepEqual(runCommand('lead', ctx), {
        is_leader: false,
        leader_id: 2,
        leader_ip: '127.0.0.1',
        command: 'leader',
        error: null,
      });
      assert.equal(runCommand('zabstate', ctx).zabstate, 'synchronization');
    } finally {
      status.current = null;
      status.standalone = true;
    }
  });

  test('configuration and voting_view of an ensemble member', () => {
    status.standalone = false;
    status.current = { mode: 'follower', masterSid: 2 };
    try {
      const conf = runCommand('conf', ctx);
      assert.equal(conf.server_id, 1);
      assert.equal(conf.peer_type, 0);
      assert.match(String(conf.membership), /^server\.1=127\.0\.0\.1:2888:3888:participant\n/);
      assert.match(answerFourLetterWord('conf', ctx), /\npeerType=0\nmembership: \nserver\.1=/);
      const vv = runCommand('voting_view', ctx).current_config as Record<string, { learner_type: string }>;
      assert.deepEqual(Object.keys(vv), ['1', '2']);
      assert.equal(vv['1']!.learner_type, 'participant');
    } finally {
      status.current = null;
      status.standalone = true;
    }
  });

  test('srst and crst reset the counters they name', () => {
    assert.ok(server.stats.received > 0);
    runCommand('srst', ctx);
    assert.equal(server.stats.received, 0);
    runCommand('crst', ctx);
    for (const c of server.allConnections()) assert.equal(c.stats.received, 0);
  });

  test('initial_configuration hides the super digest', () => {
    const text = String(runCommand('icfg', ctx).initial_configuration);
    assert.match(text, /^DigestAuthenticationProvider\.superDigest=\[redacted\]$/m);
    assert.doesNotMatch(text, /D\/InIHSb7/);
    assert.match(redactedConfigText(new Map([['learner.sharedSecretFile', '/s']])), /sharedSecretFile=\/s/);
  });
});

test('a member serving read-only clients: isro, srvr, mntr and readiness say so', async () => {
  const cfg = testConfig('readonlymode.enabled=true\n');
  const server = new ZkServer(
    new DataTree(),
    new Map(),
    serverSettings(cfg, 1, 'read-only'),
    () => NO_WRITES,
  );
  const { port } = await server.listen('127.0.0.1', 0);
  const client = await ZkConnection.connect({ port, readOnly: true });
  try {
    const status = new SteeredStatus(1, server, cfg);
    const ctx: CommandContext = { status, cfg };
    status.readOnly = true;
    assert.equal(runCommand('isro', ctx).read_only, true);
    assert.equal(answerFourLetterWord('isro', ctx), 'ro');
    const srvr = answerFourLetterWord('srvr', ctx);
    assert.match(srvr, /^Zookeeper version: .*\nREAD-ONLY mode; serving only read-only clients\nLatency/);
    assert.match(srvr, /\nMode: read-only\n/);
    const mntr = runCommand('mntr', ctx);
    assert.equal(mntr.server_state, 'read-only');
    assert.deepEqual([mntr.global_sessions, mntr.local_sessions], [0, 1]);
    assert.equal(isReady(status), false, 'a read-only member is not ready');
    // A read/write server answers rw and prints no READ-ONLY line.
    const rw = await memoryServer(cfg);
    try {
      const standalone = new SteeredStatus(1, rw.server, cfg);
      standalone.standalone = true;
      assert.equal(answerFourLetterWord('isro', { status: standalone, cfg }), 'rw');
      assert.doesNotMatch(answerFourLetterWord('srvr', { status: standalone, cfg }), /READ-ONLY/);
    } finally {
      await rw.server.close();
    }
  } finally {
    client.destroy();
    await server.close();
  }
});

test('not serving, unknown commands, and the command table', () => {
  const cfg = testConfig();
  const ctx: CommandContext = { status: new SteeredStatus(1, null, cfg), cfg };
  assert.deepEqual(runCommand('mntr', ctx), {
    command: 'monitor',
    error: 'This ZooKeeper instance is not currently serving requests',
  });
  assert.deepEqual(runCommand('nosuch', ctx), { command: 'nosuch', error: 'Unknown command: nosuch' });
  assert.equal(runCommand('ruok', ctx).error, null);
  assert.equal(runCommand('lead', ctx).error, 'server is not initialized');
  // Every name and alias resolves to exactly one command.
  const names = COMMANDS.flatMap((c) => [c.name, ...c.aliases]);
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.ok(findCommand(n));
});

function learner(sid: number, kind: 'follower' | 'observer', voting: boolean, synced: boolean) {
  return {
    sid,
    kind,
    voting,
    synced,
    remoteAddress: `127.0.0.${sid}:4000`,
    queuedBytes: 10 * sid,
    established: 1,
  };
}
