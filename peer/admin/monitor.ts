// The values behind `mntr`, the AdminServer's `monitor` and the Prometheus gauges: ZooKeeper's keys
// (zk-protocol.md §6.2, §7.3) without the `zk_` prefix, computed from live state on each call.
// Keys ZooKeeper prints that have no meaning here are left out (e2e/observability.test.ts lists them).

import { readdirSync, readFileSync } from 'node:fs';
import { QuorumVerifier } from '../quorum/quorum-config.ts';
import type { Tally } from '../server/stats.ts';
import type { ZkServer } from '../server/zkserver.ts';
import type { MemberStats, RoleStatus } from './status.ts';
import { VERSION_LINE } from './version.ts';

export type MonitorValues = Record<string, number | string>;

export interface ProcessInfo {
  openFds: number;
  maxFds: number;
}

/** Open and allowed file descriptors, on Linux (ZooKeeper prints these on Unix only). */
export function processInfo(): ProcessInfo | null {
  try {
    const openFds = readdirSync('/proc/self/fd').length;
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    const maxFds = m && m[1] !== 'unlimited' ? Number(m[1]) : -1;
    return { openFds, maxFds };
  } catch {
    return null;
  }
}

function tally(out: MonitorValues, name: string, t: Tally): void {
  out[`avg_${name}`] = t.avg;
  out[`min_${name}`] = t.min;
  out[`max_${name}`] = t.max;
  out[`cnt_${name}`] = t.count;
  out[`sum_${name}`] = t.sum;
}

/** ZooKeeper counts the root twice (under "" and "/"); tools compare against that number. */
export function reportedNodeCount(server: ZkServer): number {
  return server.tree.nodeCount + 1;
}

/** `<state> - <zabstate>[ - <syncmode>]`, e.g. `observing - broadcast` (zk_peer_state). */
export function peerState(status: RoleStatus): string {
  const v = status.view();
  if (!v) return 'looking';
  const state = v.mode === 'leader' ? 'leading' : v.mode === 'follower' ? 'following' : 'observing';
  const zab = v.zabState();
  const sync = zab === 'synchronization' ? v.syncMode() : null;
  return sync ? `${state} - ${zab} - ${sync}` : `${state} - ${zab}`;
}

/** The counters kept by the member, by their ServerMetrics names. */
export function counterValues(s: MemberStats) {
  return {
    looking_count: s.lookingCount,
    diff_count: s.diffSyncs,
    snap_count: s.snapSyncs,
    commit_count: s.commits,
    proposal_count: s.proposals,
    learner_proposal_received_count: s.proposalsReceived,
    learner_commit_received_count: s.commitsReceived,
  };
}

/** Counters and summaries kept by the member (ServerMetrics names). */
function memberCounters(out: MonitorValues, s: MemberStats): void {
  Object.assign(out, counterValues(s));
  tally(out, 'election_time', s.electionTime);
  tally(out, 'follower_sync_time', s.followerSyncTime);
  tally(out, 'observer_sync_time', s.observerSyncTime);
  tally(out, 'propagation_latency', s.propagation);
  tally(out, 'dbinittime', s.dbInitTime);
}

/**
 * mntr's values, in ZooKeeper's order where it has one. Null when the server is not serving
 * clients (ZooKeeper answers "not currently serving requests" then).
 */
export function monitorValues(
  status: RoleStatus,
  now: number,
  proc: ProcessInfo | null,
): MonitorValues | null {
  const server = status.server();
  if (!server) return null;
  const st = server.stats;
  const out: MonitorValues = {
    version: VERSION_LINE,
    server_state: status.role(),
  };
  const view = status.view();
  const quorum = status.quorum();
  if (view && quorum) {
    out.peer_state = peerState(status);
    out.quorum_size = new QuorumVerifier(quorum).voters.size;
  }
  Object.assign(out, {
    avg_latency: st.latency.avg,
    max_latency: st.latency.max,
    min_latency: st.latency.min,
    packets_received: st.received,
    packets_sent: st.sent,
    num_alive_connections: server.connectionCount,
    outstanding_requests: server.outstanding,
    uptime: now - server.startedAt,
    znode_count: reportedNodeCount(server),
    watch_count: server.watches.watchCount,
    ephemerals_count: server.tree.ephemeralCount(),
    approximate_data_size: server.tree.approximateDataSize,
    // A read-only server's sessions are its own (ZooKeeper's local sessions).
    global_sessions: server.readOnly ? 0 : server.sessions.sessions.size,
    local_sessions: server.readOnly ? server.sessions.sessions.size : 0,
    connection_drop_probability: 0,
    outstanding_tls_handshake: 0,
    auth_failed_count: st.authFailed,
  });
  if (proc) {
    out.open_file_descriptor_count = proc.openFds;
    out.max_file_descriptor_count = proc.maxFds;
  }
  if (view?.mode === 'leader') {
    const learners = view.learners();
    const synced = learners.filter((l) => l.synced);
    out.learners = learners.length;
    out.synced_followers = synced.filter((l) => l.kind === 'follower').length;
    out.synced_non_voting_followers = synced.filter((l) => l.kind === 'follower' && !l.voting).length;
    out.synced_observers = synced.filter((l) => l.kind === 'observer').length;
    const est = view.establishedAt();
    out.leader_uptime = est > 0 ? now - est : 0;
    out.last_proposal_size = status.stats.lastProposalSize;
    out.min_proposal_size = status.stats.minProposalSize;
    out.max_proposal_size = status.stats.maxProposalSize;
  }
  // As ZooKeeper's FollowerZooKeeperServer: a follower hosting observers reports how many are synced.
  if (view?.mode === 'follower' && view.hostsObservers?.())
    out.synced_observers = view.learners().filter((l) => l.synced).length;
  if (view?.mode === 'observer') out.observer_master_id = view.master()?.sid ?? -1;
  memberCounters(out, status.stats);
  return out;
}
