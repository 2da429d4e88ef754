// Bringing a learner up to date, as both learner masters do it: the leader (leader.ts) for its
// followers and observers, and a follower's observer master (observer-master.ts) for the observers
// it hosts. The LearnerInfo checks, the choice of DIFF/TRUNC/SNAP (zk-protocol.md §2.3 step 6,
// LearnerHandler.syncFollower) and the packets that carry committed txns are the same for both, so
// they live here once.

import {
  decodeLearnerInfo,
  describePacket,
  encodeInformAndActivate,
  PacketType,
  packet,
  type QuorumPacket,
  ZAB_PROTOCOL_VERSION,
} from './packets.ts';
import { counterOf, epochOf, type Proposal } from './zab-common.ts';

// --- the learner's hello (FOLLOWERINFO / OBSERVERINFO) ---

export interface LearnerHello {
  sid: number;
  kind: 'follower' | 'observer';
  /** The epoch the learner last accepted (the zxid of its LearnerInfo packet). */
  acceptedEpoch: number;
}

/**
 * Reads a learner's first packet as LearnerHandler does; a string is the reason to close the
 * connection. `accepts` narrows the kinds this master hosts (an observer master takes observers only).
 */
export function readLearnerHello(
  p: QuorumPacket,
  master: { sid: number; configVersion: number; accepts?: 'observer' },
): LearnerHello | string {
  const wanted = master.accepts === 'observer' ? 'OBSERVERINFO' : 'FOLLOWERINFO or OBSERVERINFO';
  const observer = p.type === PacketType.OBSERVERINFO;
  if (!observer && (p.type !== PacketType.FOLLOWERINFO || master.accepts === 'observer'))
    return `protocol error: got ${describePacket(p)}, expected ${wanted}`;
  const info = decodeLearnerInfo(p.data);
  if (info === null || info.sid === null) return 'LearnerInfo without a server id';
  if (info.protocolVersion < ZAB_PROTOCOL_VERSION)
    return `learner protocol version 0x${info.protocolVersion.toString(16)} is pre-Zab 1.0`;
  if (info.configVersion !== null && info.configVersion > master.configVersion)
    return 'Follower is ahead of the leader (has a later activated configuration)';
  if (info.sid === master.sid) return `learner claims this server's own sid ${master.sid}`;
  return { sid: info.sid, kind: observer ? 'observer' : 'follower', acceptedEpoch: epochOf(p.zxid) };
}

// --- choosing how to sync a learner (LearnerHandler.syncFollower / queueCommittedProposals) ---

export type SyncMode = 'DIFF' | 'TRUNC' | 'SNAP';

export interface SyncPlan {
  mode: SyncMode;
  /** zxid of the DIFF or TRUNC packet; for SNAP, the zxid the snapshot is taken at. */
  zxid: number;
  /** Committed txns to send after the DIFF/TRUNC packet, each as PROPOSAL + COMMIT (or INFORM). */
  proposals: Proposal[];
  /** Where the learner stands once those are sent: forwarding continues after this zxid. */
  lastZxid: number;
}

export interface SyncSource {
  /** The master's last applied zxid. */
  lastProcessedZxid: number;
  /** The most recent committed proposals held in memory, oldest first, ending at lastProcessedZxid. */
  committedLog: readonly Proposal[];
  /**
   * Proposals read from the on-disk txn log for a learner older than the committed log
   * (ZKDatabase.getProposalsFromTxnLog): oldest first, starting at or before the learner's zxid.
   * Null when txn-log sync is disabled or the log does not reach back that far.
   */
  txnLog?: readonly Proposal[] | null;
}

interface WalkState {
  op: { mode: 'DIFF' | 'TRUNC'; zxid: number } | null;
  proposals: Proposal[];
}

// Queues the proposals of `log` after peerLastZxid (up to maxZxid), deciding DIFF or TRUNC at the
// first one; returns the last zxid queued. Leaves st.op null if only a snapshot will do (a TRUNC
// would have to cross an epoch boundary).
function walk(
  log: readonly Proposal[],
  peerLastZxid: number,
  maxZxid: number | null,
  lastCommittedZxid: number,
  st: WalkState,
): number {
  const peerAtNewEpoch = counterOf(peerLastZxid) === 0;
  let queued = peerLastZxid;
  let prev = -1;
  for (const p of log) {
    const z = p.zxid;
    if (maxZxid !== null && z > maxZxid) break;
    if (z < peerLastZxid) {
      prev = z;
      continue;
    }
    if (st.op === null) {
      if (z === peerLastZxid) {
        st.op = { mode: 'DIFF', zxid: lastCommittedZxid };
        continue;
      }
      if (peerAtNewEpoch) {
        st.op = { mode: 'DIFF', zxid: lastCommittedZxid };
      } else if (z > peerLastZxid) {
        // The learner has txns this history lacks (it may have led before). TRUNC may not cross an
        // epoch boundary: the learner could not truncate that far, so that case needs a snapshot.
        if (epochOf(z) !== epochOf(peerLastZxid)) return queued;
        st.op = { mode: 'TRUNC', zxid: prev };
      }
    }
    if (z <= queued) continue;
    st.proposals.push(p);
    queued = z;
  }
  if (st.op === null && peerAtNewEpoch) st.op = { mode: 'DIFF', zxid: lastCommittedZxid };
  return queued;
}

/**
 * How to bring a learner whose last logged zxid is peerLastZxid up to date (zk-protocol.md §2.3 step
 * 6): (a) it is where the master is: empty DIFF; (b) it is past the committed log (and not at the
 * start of an epoch): TRUNC to the end of the log; (c) it is within the committed log: DIFF (or a
 * same-epoch TRUNC) plus the txns it misses; (d) it is older than the committed log but the txn log
 * reaches back to it: the same from the txn log, then the committed log; (e) otherwise SNAP.
 */
export function decideSync(peerLastZxid: number, src: SyncSource): SyncPlan {
  const { lastProcessedZxid, committedLog } = src;
  const snap: SyncPlan = {
    mode: 'SNAP',
    zxid: lastProcessedZxid,
    proposals: [],
    lastZxid: lastProcessedZxid,
  };
  let minCommitted = lastProcessedZxid;
  let maxCommitted = lastProcessedZxid;
  if (committedLog.length > 0) {
    minCommitted = committedLog[0]!.zxid;
    maxCommitted = committedLog[committedLog.length - 1]!.zxid;
  }
  const st: WalkState = { op: null, proposals: [] };
  let last: number;
  if (peerLastZxid === lastProcessedZxid) {
    return { mode: 'DIFF', zxid: peerLastZxid, proposals: [], lastZxid: peerLastZxid };
  } else if (peerLastZxid > maxCommitted && counterOf(peerLastZxid) !== 0) {
    return { mode: 'TRUNC', zxid: maxCommitted, proposals: [], lastZxid: maxCommitted };
  } else if (minCommitted <= peerLastZxid && peerLastZxid <= maxCommitted) {
    last = walk(committedLog, peerLastZxid, null, maxCommitted, st);
  } else if (peerLastZxid < minCommitted && src.txnLog && src.txnLog.length > 0) {
    if (src.txnLog[0]!.zxid > peerLastZxid) return snap;
    last = walk(src.txnLog, peerLastZxid, minCommitted, maxCommitted, st);
    last = walk(committedLog, last, null, maxCommitted, st);
  } else {
    return snap;
  }
  if (st.op === null) return snap;
  return { mode: st.op.mode, zxid: st.op.zxid, proposals: st.proposals, lastZxid: last };
}

// --- the sync stream ---

/** What a master hands its shell to sync one learner connection. */
export type SyncEffect =
  | { type: 'send'; conn: number; packet: QuorumPacket }
  /**
   * Write SNAP(zxid), then the snapshot body of the tree as of that zxid, then the string
   * "BenWasHere" on this connection, in order with the other sends (persistence/snapstream.ts).
   */
  | { type: 'send-snapshot'; conn: number; zxid: number };

/** A txn for a follower to log and ack. */
export function proposalPacket(p: Proposal): QuorumPacket {
  return packet(PacketType.PROPOSAL, p.zxid, p.data);
}

/** A committed txn for an observer. */
export function informPacket(p: Proposal): QuorumPacket {
  return packet(PacketType.INFORM, p.zxid, p.data);
}

/** A committed reconfig txn for an observer, naming the leader of the config it installs. */
export function informAndActivatePacket(p: Proposal, designatedLeader: number): QuorumPacket {
  return packet(PacketType.INFORMANDACTIVATE, p.zxid, encodeInformAndActivate(designatedLeader, p.data));
}

/**
 * The start of a learner's sync, per plan: the DIFF or TRUNC packet (or the snapshot), then the
 * committed txns it misses. The caller goes on with what only it knows (outstanding proposals,
 * NEWLEADER) and forwards live txns from plan.lastZxid on.
 */
export function syncOpening<E>(
  conn: number,
  kind: 'follower' | 'observer',
  plan: SyncPlan,
  out: (E | SyncEffect)[],
): void {
  if (plan.mode === 'SNAP') out.push({ type: 'send-snapshot', conn, zxid: plan.zxid });
  else {
    const type = plan.mode === 'DIFF' ? PacketType.DIFF : PacketType.TRUNC;
    out.push({ type: 'send', conn, packet: packet(type, plan.zxid) });
  }
  // A committed txn: PROPOSAL + COMMIT to a follower, INFORM to an observer.
  for (const p of plan.proposals) {
    if (kind === 'observer') out.push({ type: 'send', conn, packet: informPacket(p) });
    else {
      out.push({ type: 'send', conn, packet: proposalPacket(p) });
      out.push({ type: 'send', conn, packet: packet(PacketType.COMMIT, p.zxid) });
    }
  }
}
