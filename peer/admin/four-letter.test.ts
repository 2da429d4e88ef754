// The four-letter-word renderers against ZooKeeper 3.8's own text (captured from Apache ZooKeeper
// with the same inputs), and the whitelist.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FOUR_LETTER_WORDS } from '../protocol/constants.ts';
import type { CommandContext } from './commands.ts';
import {
  answerFourLetterWord,
  connectionLine,
  javaDate,
  javaDouble,
  renderConf,
  renderDump,
  renderFourLetter,
  renderMonitor,
  renderServerStats,
  renderWatchesByPath,
  renderWatchesBySession,
} from './four-letter.ts';
import { SteeredStatus, testConfig } from './testutil.ts';

const VERSION = '3.8.0-zkensemble, built on 2026-11-21 00:00 UTC';
const SID = 0x100008d6cf10000n;

const serverStats = {
  version: VERSION,
  read_only: false,
  server_stats: {
    packets_sent: 20,
    packets_received: 20,
    server_state: 'standalone',
    outstanding_requests: 0,
    min_latency: 1,
    avg_latency: 16.4,
    max_latency: 57,
    last_processed_zxid: 3,
    num_alive_client_connections: 2,
  },
  node_count: 7,
};

test('srvr is ZooKeeper StatCommand text; a leader adds proposal sizes', () => {
  assert.equal(
    renderServerStats(serverStats),
    `Zookeeper version: ${VERSION}\nLatency min/avg/max: 1/16.4/57\nReceived: 20\nSent: 20\n` +
      'Connections: 2\nOutstanding: 0\nZxid: 0x3\nMode: standalone\nNode count: 7\n',
  );
  const leader = {
    ...serverStats,
    server_stats: { ...serverStats.server_stats, server_state: 'leader', avg_latency: 0 },
    proposal_stats: { last_buffer_size: -1, min_buffer_size: -1, max_buffer_size: -1 },
  };
  assert.match(
    renderServerStats(leader),
    /Latency min\/avg\/max: 1\/0\.0\/57\n[\s\S]*Mode: leader\nNode count: 7\nProposal sizes last\/min\/max: -1\/-1\/-1\n$/,
  );
});

test('stat puts the brief connection lines after the version line', () => {
  const text = renderServerStats({
    ...serverStats,
    connections: [
      {
        remote_socket_address: '127.0.0.1:50128',
        interest_ops: 1,
        outstanding_requests: 0,
        packets_received: 5,
        packets_sent: 5,
      },
    ],
  });
  assert.ok(
    text.startsWith(
      `Zookeeper version: ${VERSION}\nClients:\n /127.0.0.1:50128[1](queued=0,recved=5,sent=5)\n\nLatency min/avg/max:`,
    ),
  );
});

test('cons: the full line of a connection with a session, as ZooKeeper prints it (less lresp)', () => {
  assert.equal(
    connectionLine({
      remote_socket_address: '127.0.0.1:50128',
      interest_ops: 1,
      outstanding_requests: 0,
      packets_received: 5,
      packets_sent: 5,
      session_id: SID,
      last_operation: 'EXIS',
      established: 1795273661973,
      session_timeout: 10000,
      last_cxid: 4,
      last_zxid: 3,
      last_latency: 1,
      min_latency: 0,
      avg_latency: 16,
      max_latency: 57,
    }),
    ' /127.0.0.1:50128[1](queued=0,recved=5,sent=5,sid=0x100008d6cf10000,lop=EXIS,est=1795273661973,' +
      'to=10000,lcxid=0x4,lzxid=0x3,llat=1,minlat=0,avglat=16,maxlat=57)\n',
  );
  assert.equal(
    renderFourLetter('cons', {
      connections: [],
      secure_connections: [],
      command: 'connections',
      error: null,
    }),
    '\n',
  );
});

test('wchc, wchp and wchs', () => {
  assert.equal(
    renderWatchesBySession({ session_id_to_watched_paths: { [String(SID)]: ['/w', '/nope'] } }),
    '0x100008d6cf10000\n\t/w\n\t/nope\n\n',
  );
  assert.equal(
    renderWatchesByPath({ path_to_session_ids: { '/w': [SID], '/nope': [SID] } }),
    '/w\n\t0x100008d6cf10000\n/nope\n\t0x100008d6cf10000\n\n',
  );
  assert.equal(renderWatchesBySession({ session_id_to_watched_paths: {} }), '\n');
  assert.equal(
    renderFourLetter('wchs', { num_connections: 1, num_paths: 2, num_total_watches: 2 }),
    '1 connections watching 2 paths\nTotal watches:2\n',
  );
  // A negative (high-bit) session id prints as unsigned hex, as Java's Long.toHexString does.
  assert.equal(renderWatchesByPath({ path_to_session_ids: { '/a': [-1n] } }), '/a\n\t0xffffffffffffffff\n\n');
});

test('dump: sessions by expiry time and ephemerals by session', () => {
  const at = Date.UTC(2026, 10, 21, 15, 7, 52);
  assert.equal(javaDate(at), 'Sat Nov 21 15:07:52 UTC 2026');
  assert.equal(
    renderDump({
      expiry_time_to_session_ids: { [String(at)]: [SID] },
      session_id_to_ephemeral_paths: { [String(SID)]: ['/eph'] },
    }),
    'SessionTracker dump:\nSession Sets (1)/(1):\n1 expire at Sat Nov 21 15:07:52 UTC 2026:\n' +
      '\t0x100008d6cf10000\nephemeral nodes dump:\nSessions with Ephemerals (1):\n0x100008d6cf10000:\n\t/eph\n',
  );
});

test('conf: standalone keys, then the quorum keys and membership of an ensemble member', () => {
  const base = {
    client_port: 12182,
    secure_client_port: -1,
    data_dir: '/d/version-2',
    data_dir_size: 594,
    data_log_dir: '/d/version-2',
    data_log_size: 594,
    tick_time: 500,
    max_client_cnxns: 60,
    min_session_timeout: 1000,
    max_session_timeout: 10000,
    client_port_listen_backlog: -1,
    server_id: 2,
  };
  const standalone =
    'clientPort=12182\nsecureClientPort=-1\ndataDir=/d/version-2\ndataDirSize=594\ndataLogDir=/d/version-2\n' +
    'dataLogSize=594\ntickTime=500\nmaxClientCnxns=60\nminSessionTimeout=1000\nmaxSessionTimeout=10000\n' +
    'clientPortListenBacklog=-1\nserverId=2\n';
  assert.equal(renderConf(base), standalone);
  const membership =
    'server.1=127.0.0.1:12881:13881:participant\nserver.2=127.0.0.1:12882:13882:participant\n' +
    'server.3=127.0.0.1:12883:13883:observer\nversion=0';
  assert.equal(
    renderConf({
      ...base,
      init_limit: 10,
      sync_limit: 5,
      election_alg: 3,
      election_port: 13882,
      quorum_port: 12882,
      peer_type: 0,
      membership,
    }),
    `${standalone}initLimit=10\nsyncLimit=5\nelectionAlg=3\nelectionPort=13882\nquorumPort=12882\n` +
      `peerType=0\nmembership: \n${membership}\n`,
  );
});

test('mntr: zk_ keys, tab, Java doubles for averages, nothing for command/error', () => {
  assert.equal(
    renderMonitor({
      version: VERSION,
      avg_latency: 0,
      max_latency: 3,
      connection_drop_probability: 0,
      avg_election_time: 271.5,
      cnt_election_time: 2,
      command: 'monitor',
      error: null,
    }),
    `zk_version\t${VERSION}\nzk_avg_latency\t0.0\nzk_max_latency\t3\nzk_connection_drop_probability\t0.0\n` +
      'zk_avg_election_time\t271.5\nzk_cnt_election_time\t2\n',
  );
});

test('javaDouble matches Double.toString', () => {
  assert.equal(javaDouble(0), '0.0');
  assert.equal(javaDouble(16.4), '16.4');
  assert.equal(javaDouble(1 / 3), '0.3333333333333333');
  assert.equal(javaDouble(0.0001), '1.0E-4');
  assert.equal(javaDouble(12345678.5), '1.23456785E7');
});

test('errors, ruok, isro, resets and words this server does not implement', () => {
  const notServing = {
    command: 'monitor',
    error: 'This ZooKeeper instance is not currently serving requests',
  };
  assert.equal(
    renderFourLetter('mntr', notServing),
    'This ZooKeeper instance is not currently serving requests\n',
  );
  assert.equal(renderFourLetter('ruok', {}), 'imok');
  assert.equal(renderFourLetter('isro', { read_only: false }), 'rw');
  assert.equal(renderFourLetter('isro', { read_only: true }), 'ro');
  assert.equal(renderFourLetter('srst', {}), 'Server stats reset.\n');
  assert.equal(renderFourLetter('crst', {}), 'Connection stats reset.\n');
  assert.equal(renderFourLetter('gtmk', {}), 'gtmk is not supported by this server.\n');
});

test('the whitelist: srvr only by default; a listed word runs; ruok answers while not serving', () => {
  const cfg = testConfig();
  cfg.fourLetterWords = new Set(['srvr', 'ruok']);
  const status = new SteeredStatus(1, null, cfg);
  const ctx: CommandContext = { status, cfg };
  assert.equal(
    answerFourLetterWord('mntr', ctx),
    'mntr is not executed because it is not in the whitelist.\n',
  );
  assert.equal(answerFourLetterWord('ruok', ctx), 'imok');
  assert.equal(
    answerFourLetterWord('srvr', ctx),
    'This ZooKeeper instance is not currently serving requests\n',
  );
  // IsroCommand prints `null` while no server runs.
  cfg.fourLetterWords.add('isro');
  assert.equal(answerFourLetterWord('isro', ctx), 'null');
});

test('every four-letter word but gtmk, stmk and hash runs its admin command; other aliases are no words', () => {
  const cfg = testConfig();
  cfg.fourLetterWords = 'all';
  const ctx: CommandContext = { status: new SteeredStatus(1, null, cfg), cfg };
  const unsupported = [...FOUR_LETTER_WORDS, 'lead', 'lsnp']
    .filter((w) => answerFourLetterWord(w, ctx) === `${w} is not supported by this server.\n`)
    .sort();
  assert.deepEqual(unsupported, ['gtmk', 'hash', 'lead', 'lsnp', 'stmk']);
  assert.match(answerFourLetterWord('envi', ctx), /^Environment:\nzookeeper\.version=/);
});
