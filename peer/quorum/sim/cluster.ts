// A simulated Zab cluster: the leader and learner cores (../leader.ts, ../learner.ts) run over a
// simulated network and simulated disks, driven by a seeded PRNG, with the invariants of Zab
// checked as the run goes. Leader election is an oracle here (the election core is tested on its
// own): among a connected quorum of LOOKING voters it usually picks the most up-to-date voter by
// (currentEpoch, lastZxid, sid), and sometimes an arbitrary one, which the leader's own checks
// (ACKEPOCH "more recent than the leader") must cope with.
//
// What is simulated:
//   network   one TCP-like connection per learner: FIFO per direction, no duplication, reordering
//             across connections, everything in flight lost when it closes; partitions stall
//             connections between groups (the cores' read timeouts notice); every packet goes
//             through the jute codec and the streaming decoder
//   disk      per member: acceptedEpoch, currentEpoch and a txn history (snapshot + log) that is
//             durable, plus a FIFO of disk writes not yet durable; completing a write reports it
//             to the core; a crash keeps a random prefix of the pending writes; going back to
//             election (no crash) lets the pending writes complete
//   memory    the tree (the txns applied, in order) and the cores; lost on a crash; reloaded from
//             disk whenever a member goes back to election
//
// Invariants (a violation throws SimViolation with the seed and step):
//   - at most one leader establishes per epoch
//   - every txn anyone applies is committed, with the same bytes everywhere (committed = a leader
//     applied it after a quorum of acks, or it was in the initial history of an established leader);
//     the committed txns form one zxid-ordered sequence that only grows at its end
//   - no committed txn is lost: an established leader's initial history holds every txn committed
//     in an earlier epoch, whenever that commit happened
//   - a serving member's tree is a prefix of the committed sequence; a learner that becomes
//     UPTODATE holds at least its leader's initial history
//   - SYNC: when a learner's sync completes it has applied what its leader had proposed when it
//     processed the sync
//   - observers never receive a PROPOSAL from our leader (they are synced with INFORM) nor a
//     COMMIT, and never send an ACK for a txn
//   - no protocol error ever happens between our own cores
//   - every commit rests on a quorum: the voters whose ACK reached the leader (the leader once its
//     own write is durable) and that hold the txn durably are a quorum of the config in force
//
// Reconfiguration (SimOptions.reconfig): leaders get reconfig requests (add/remove observers and
// voters, change a member's role, whole member lists) through the real prep stage
// (../../server/reconfig.ts, which refuses unsafe ones), and an "operator" starts servers with the
// current membership plus themselves, as a joining server is started. The shell around the cores
// does what ../../ensemble/member.ts does: a member adopts a config when it applies a reconfig txn,
// from NEWLEADER and from election notifications when it is newer (a server waiting to be added
// keeps its own line); it records it in its data dir; it leaves a role the config in force no
// longer gives it (also when that config came with the sync, at UPTODATE) and idles once removed;
// a leader whose initial history holds a reconfig it had not activated activates it once
// established and re-elects; a restart takes the newest of its config file and its record.
// Added invariants:
//   - every member that activates a config activates the same config for the same version (the
//     zxid of its reconfig txn), and an activated config is never lost: its reconfig txn commits
//   - configs activate in zxid order: a serving member's config is the one of the last reconfig
//     txn in its tree, and a leader activates the reconfig it proposed, when it commits
//   - while a reconfig is pending, every commit (the reconfig's own included) rests on a quorum of
//     the old and of the new voters; once it is activated, only the new voters count, so removed
//     voters never count towards a quorum again
//   - a member never serves in a role the config in force does not give it (removed: not at all)

import { decodeTxnEntry, encodeTxnEntry } from '../../jute/txn.ts';
import { errorName, KeeperError, OpCode } from '../../protocol/constants.ts';
import type { PendingView } from '../../server/prep.ts';
import { CONFIG_NODE, prepReconfig, type ReconfigRequest } from '../../server/reconfig.ts';
import { Leader, type LeaderEffect, type LeaderInput, type LeaderOptions } from '../leader.ts';
import { Learner, type LearnerEffect, type LearnerOptions } from '../learner.ts';
import {
  decodeRequest,
  encodeQuorumPacket,
  encodeTouchTable,
  PacketType,
  packet,
  packetTypeName,
  type QuorumPacket,
  QuorumPacketDecoder,
} from '../packets.ts';
import { parseDynamicConfig, type QuorumConfig, QuorumVerifier } from '../quorum-config.ts';
import {
  counterOf,
  type DiskEffect,
  epochOf,
  hex,
  isReconfigTxn,
  type Proposal,
  type ZabTiming,
} from '../zab-common.ts';
import { verifierFor } from '../zab-testutil.ts';

export class SimViolation extends Error {
  override name = 'SimViolation';
}

/** Small fast seeded PRNG (mulberry32). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

type DiskOp =
  | { kind: 'append'; p: Proposal }
  | { kind: 'truncate'; zxid: number }
  | { kind: 'snapshot'; zxid: number; contents: Proposal[] }
  | { kind: 'epoch'; which: 'accepted' | 'current'; epoch: number };

interface Member {
  sid: number;
  /** Running (an idle member, out of the config in force, runs too). */
  alive: boolean;
  /** Started by the operator at some point (spare sids wait for a join). */
  provisioned: boolean;
  /** The config in force here (member.ts ctx.config). */
  config: QuorumVerifier;
  /** Whether config is one the ensemble agreed on, not a joining server's own (current + itself). */
  official: boolean;
  /** Whether the member keeps a dynamic config file (rewritten on every adoption); else its static one. */
  dynamicFile: boolean;
  /** What a restart reads from the config files, and whether that is an agreed config. */
  fileConfig: QuorumVerifier;
  fileOfficial: boolean;
  /** The last config activated, as the data dir records it (durably, before it is acted on). */
  record: { config: QuorumVerifier; official: boolean } | null;
  /** member.ts ctx.joining: not in the leader's config (NEWLEADER), waiting to be added. */
  joining: boolean;
  /** Zxid of the last reconfig txn in the tree (0: none). */
  treeConfigZxid: number;
  /** What the shell checks of the leader core running here. */
  shadow: LeaderShadow | null;
  acceptedEpoch: number;
  currentEpoch: number;
  /** Durable txns: snapshot contents and log, in zxid order. */
  history: Proposal[];
  pending: DiskOp[];
  /** Applied txns (the data tree). */
  tree: Proposal[];
  leader: Leader | null;
  learner: Learner | null;
  /** The learner's connection. */
  conn: Conn | null;
  serving: boolean;
}

/**
 * What the shell knows of its leader's proposals, to check commits independently of the core: the
 * configs each proposal needs a quorum of, and who acknowledged it.
 */
interface LeaderShadow {
  inForce: QuorumVerifier;
  /** A reconfig proposed and not yet activated. */
  pending: { zxid: number; config: QuorumVerifier } | null;
  required: Map<number, QuorumVerifier[]>;
  /** Voters whose ACK reached the leader, and the leader itself once its own write is durable. */
  acks: Map<number, Set<number>>;
}

type Item = { kind: 'packet'; bytes: Buffer } | { kind: 'snapshot'; zxid: number; contents: Proposal[] };

interface Conn {
  id: number;
  learner: number;
  leader: number;
  observer: boolean;
  open: boolean;
  toLeader: Item[];
  toLearner: Item[];
  leaderDecoder: QuorumPacketDecoder;
  learnerDecoder: QuorumPacketDecoder;
  /** What each sync request of this learner requires, in FIFO order (set when the leader processes it). */
  syncRequired: number[];
}

export interface SimOptions {
  seed: number;
  voters: number;
  observers: number;
  /** Steps of the chaos phase. */
  steps: number;
  /** In-memory committed log bound; small values exercise SNAP. */
  commitLogCount?: number;
  /** Probability that the oracle picks the best voter (else an arbitrary looking voter). */
  pBestLeader?: number;
  faults?: boolean;
  /** Keep a trace of the last events (printed on a violation). */
  traceSize?: number;
  /** Builds the learner cores (tests inject broken ones to show the checks catch them). */
  learnerFactory?: (o: LearnerOptions) => Learner;
  /** Builds the leader cores (likewise). */
  leaderFactory?: (o: LeaderOptions) => Leader;
  /** Reconfigs during the chaos phase, and servers that can join (spare sids). */
  reconfig?: boolean;
  spares?: number;
}

export interface SimStats {
  steps: number;
  established: number;
  committed: number;
  applied: number;
  crashes: number;
  partitions: number;
  drops: number;
  syncModes: Record<string, number>;
  closes: Record<string, number>;
  leaderStops: number;
  syncsChecked: number;
  /** Reconfigs the prep let through, and why the others were refused. */
  reconfigsProposed: number;
  reconfigsRefused: Record<string, number>;
  /** Reconfigs activated by a leader; those that changed the voters; those that removed the leader. */
  reconfigsActivated: number;
  voterChanges: number;
  leaderRemoved: number;
  /** Configs adopted by members (by how), servers started by the operator. */
  adoptions: Record<string, number>;
  joins: number;
  /** Idle or never started servers the operator had to start to settle. */
  operatorRestarts: number;
  /** Learners that left a role the config took away; commits checked against a pending reconfig. */
  rolesLeft: number;
  jointCommits: number;
}

/** What the leader's shell feeds back: core inputs, or a forwarded write to turn into a proposal. */
type LeaderFeed = LeaderInput | { kind: 'write'; clientId: bigint; cxid: number; payload: Buffer };

const TIMING: ZabTiming = { tickTime: 100, initLimit: 10, syncLimit: 5 };

/** What the reconfig prep reads and writes of /zookeeper/config (its ACL and stat matter not here). */
const CONFIG_VIEW = {
  need: (path: string) => {
    if (path !== CONFIG_NODE) throw new Error(`prep asked for ${path}`);
    return { stat: { version: 0 }, childCount: 0, acl: [] };
  },
  set: () => {},
} as unknown as PendingView;
const NO_ACL = { superDigest: null, skipACL: true };

const key = (p: Proposal) => p.data.toString('base64');

/** A member entry as prep parses it from `server.N=` (ports as zab-testutil.ts lays them out). */
function serverSpec(sid: number, role: 'participant' | 'observer'): string {
  return `server.${sid}=127.0.0.1:${2888 + sid * 10}:${3888 + sid * 10}:${role}`;
}

function withMember(c: QuorumConfig, sid: number, role: 'participant' | 'observer'): QuorumVerifier {
  const members = new Map(c.members);
  members.set(sid, { ...verifierFor([sid]).config.members.get(sid)!, role });
  return new QuorumVerifier({ members, version: c.version });
}

export class Cluster {
  readonly rng: Rng;
  readonly opts: Required<SimOptions>;
  readonly members = new Map<number, Member>();
  private readonly initialConfig: QuorumVerifier;
  /** Every config version activated anywhere (or committed), with its text. */
  private readonly configTexts = new Map<number, string>();
  /** Activated config versions whose reconfig txn has not committed (yet). */
  private readonly uncommittedConfigs = new Set<number>();
  private readonly configOfTxn = new Map<string, QuorumVerifier>();
  private readonly conns = new Map<number, Conn>();
  private nextConn = 1;
  private now = 0;
  private stepNo = 0;
  private group = new Map<number, number>();
  private writeNo = 0;
  readonly trace: string[] = [];

  /** The committed sequence, zxid-ordered, and an index by zxid. */
  private readonly committed: Proposal[] = [];
  private readonly committedBy = new Map<number, string>();
  /** Established epochs: leader sid and initial history. */
  private readonly established = new Map<
    number,
    { sid: number; history: Map<number, string>; length: number }
  >();

  readonly stats: SimStats = {
    steps: 0,
    established: 0,
    committed: 0,
    applied: 0,
    crashes: 0,
    partitions: 0,
    drops: 0,
    syncModes: {},
    closes: {},
    leaderStops: 0,
    syncsChecked: 0,
    reconfigsProposed: 0,
    reconfigsRefused: {},
    reconfigsActivated: 0,
    voterChanges: 0,
    leaderRemoved: 0,
    adoptions: {},
    joins: 0,
    operatorRestarts: 0,
    rolesLeft: 0,
    jointCommits: 0,
  };

  constructor(o: SimOptions) {
    this.opts = {
      commitLogCount: 8,
      pBestLeader: 0.8,
      faults: true,
      traceSize: 300,
      learnerFactory: (lo) => new Learner(lo),
      leaderFactory: (lo) => new Leader(lo),
      reconfig: false,
      spares: o.reconfig ? 2 : 0,
      ...o,
    };
    this.rng = new Rng(o.seed);
    const voters = Array.from({ length: o.voters }, (_, i) => i + 1);
    const observers = Array.from({ length: o.observers }, (_, i) => o.voters + i + 1);
    const spares = Array.from({ length: this.opts.spares }, (_, i) => o.voters + o.observers + i + 1);
    this.initialConfig = verifierFor(voters, observers);
    this.configTexts.set(0, this.initialConfig.toString());
    for (const sid of [...voters, ...observers, ...spares]) {
      const provisioned = !spares.includes(sid);
      this.members.set(sid, {
        sid,
        alive: provisioned,
        provisioned,
        config: this.initialConfig,
        official: true,
        // Half the members rewrite a dynamic config file; the others restart from their static one.
        dynamicFile: o.reconfig === true && this.rng.chance(0.5),
        fileConfig: this.initialConfig,
        fileOfficial: true,
        record: null,
        joining: false,
        treeConfigZxid: 0,
        shadow: null,
        acceptedEpoch: 0,
        currentEpoch: 0,
        history: [],
        pending: [],
        tree: [],
        leader: null,
        learner: null,
        conn: null,
        serving: false,
      });
      this.group.set(sid, 0);
    }
  }

  // --- running ---

  /** The chaos phase: random events, faults included, checking invariants after every step. */
  run(): void {
    for (let i = 0; i < this.opts.steps; i++) this.step(this.opts.faults);
  }

  /**
   * Heals everything (no partitions, every member up, best-leader elections only) and runs until
   * one leader serves with every member UPTODATE and idle, with the same tree. Returns false if
   * that does not happen within the budget.
   */
  settle(budget = 20_000): boolean {
    this.heal();
    for (const m of this.members.values()) if (!m.alive && m.provisioned) this.restart(m);
    for (let i = 0; i < budget; i++) {
      if (this.converged()) return true;
      // The operator starts the members the config lists that do not run as members.
      if (this.opts.reconfig && i % 200 === 0) this.provisionMissing();
      this.step(false, 1, false);
    }
    return this.converged();
  }

  /** Writes through the leader and every serving learner, then settles again. */
  writeAndSettle(n: number): boolean {
    for (let i = 0; i < n; i++) this.clientWrite();
    return this.settle();
  }

  /**
   * One leader in broadcast; every member of its config serves, follows it and has its tree and
   * config; nobody else serves.
   */
  converged(): boolean {
    const all = [...this.members.values()];
    const leaders = all.filter((m) => m.leader?.phase === 'broadcast');
    if (leaders.length !== 1) return false;
    const l = leaders[0]!;
    // A server started to join (its own config: the current one plus itself) follows too.
    const ms = all.filter(
      (m) => l.config.isMember(m.sid) || (m.alive && !m.official && m.config.isMember(m.sid)),
    );
    if (all.some((m) => m.serving && !ms.includes(m))) return false;
    if (!ms.every((m) => m.alive && m.serving && m.pending.length === 0)) return false;
    // Every learner follows this leader over an open connection (a stale one waits for its timeout).
    for (const m of ms) {
      if (m === l) continue;
      if (!m.learner || !m.conn?.open || m.conn.leader !== l.sid || m.learner.epoch !== l.leader!.epoch)
        return false;
      if (m.config.version !== l.config.version) return false;
    }
    for (const c of this.conns.values())
      if (c.open && (c.toLeader.length > 0 || c.toLearner.length > 0)) return false;
    if (l.leader!.outstandingCount > 0) return false;
    const last = l.tree.at(-1)?.zxid ?? 0;
    return ms.every((m) => (m.tree.at(-1)?.zxid ?? 0) === last && m.tree.length === l.tree.length);
  }

  /** The config the serving leader has (for the test's final checks). */
  leaderConfig(): QuorumVerifier | null {
    const l = [...this.members.values()].find((m) => m.leader?.phase === 'broadcast');
    return l ? l.config : null;
  }

  /** One line per member and connection, for failure messages. */
  describe(): string {
    const lines = [...this.members.values()].map((m) => {
      const role = m.leader
        ? `leader ${m.leader.phase} epoch ${m.leader.epoch}`
        : m.learner
          ? `${m.learner.role} ${m.learner.phase}`
          : 'looking';
      const as = m.config.config.members.get(m.sid)?.role ?? 'not a member';
      return `member ${m.sid} (${as} in config ${hex(m.config.version)}): ${m.alive ? 'up' : 'down'}, ${role}, serving ${m.serving}, tree ${m.tree.length} (${hex(m.tree.at(-1)?.zxid ?? 0)}), log ${m.history.length}, pending ${m.pending.length}, epochs ${m.acceptedEpoch}/${m.currentEpoch}`;
    });
    for (const c of this.conns.values())
      lines.push(
        `conn ${c.id} ${c.learner}->${c.leader} open ${c.open}: ${c.toLeader.length} up, ${c.toLearner.length} down`,
      );
    return lines.join('\n');
  }

  /** Trees of the serving members (for final comparisons). */
  trees(): Map<number, string[]> {
    const serving = [...this.members.values()].filter((m) => m.serving);
    return new Map(serving.map((m) => [m.sid, m.tree.map(key)]));
  }

  committedLength(): number {
    return this.committed.length;
  }

  step(faults: boolean, pBest = this.opts.pBestLeader, writes = true): void {
    this.stepNo++;
    this.stats.steps++;
    const r = this.rng.next() * 100;
    if (r < 45) {
      // The network's throughput grows with the cluster (pings alone are 2 per learner per tick) and
      // with the backlog (a big DIFF is many packets, but few bytes): bandwidth is not what is tested.
      let backlog = 0;
      for (const c of this.conns.values()) backlog += c.toLeader.length + c.toLearner.length;
      const burst = 1 + this.rng.int(Math.max(this.members.size, backlog >> 3));
      for (let i = 0; i < burst; i++) this.deliverOne();
    } else if (r < 62) this.diskOne();
    else if (r < 69) this.advanceTime();
    else if (r < 76) writes ? this.clientWrite() : this.deliverOne();
    else if (r < 77) writes ? this.clientSync() : this.deliverOne();
    else if (r < 77.5) writes ? this.clientRevalidate() : this.deliverOne();
    else if (r < 84) this.elect(pBest);
    else if (!faults) this.deliverOne();
    else if (r < 85) this.crashOne();
    else if (r < 88) this.restartOne();
    else if (r < 89) this.partition();
    else if (r < 90.5) this.dropConnection();
    else if (r < 92 && this.opts.reconfig && writes) this.reconfigOne();
    else if (r < 92.7 && this.opts.reconfig && writes) this.joinOne();
    else this.deliverOne();
    this.checkEveryStep();
  }

  // --- events ---

  private reachable(a: number, b: number): boolean {
    return this.group.get(a) === this.group.get(b);
  }

  private deliverOne(): void {
    const ready: Array<[Conn, 'toLeader' | 'toLearner']> = [];
    for (const c of this.conns.values()) {
      if (!c.open || !this.reachable(c.leader, c.learner)) continue;
      if (c.toLeader.length > 0) ready.push([c, 'toLeader']);
      if (c.toLearner.length > 0) ready.push([c, 'toLearner']);
    }
    if (ready.length === 0) return;
    const [c, dir] = this.rng.pick(ready);
    const item = c[dir].shift()!;
    if (dir === 'toLeader') {
      const m = this.members.get(c.leader)!;
      if (!m.leader || item.kind !== 'packet') return;
      const p = this.decode(c.leaderDecoder, item.bytes);
      this.log(`${c.learner}->${c.leader} ${packetTypeName(p.type)} ${hex(p.zxid)}`);
      if (p.type === PacketType.ACK) m.shadow?.acks.get(p.zxid)?.add(c.learner);
      this.leaderStep(m, { kind: 'packet', conn: c.id, packet: p });
    } else {
      const m = this.members.get(c.learner)!;
      if (!m.learner || m.conn !== c) return;
      let p: QuorumPacket;
      if (item.kind === 'snapshot') {
        // The shell reads the snapshot body and loads it before handing SNAP to the core.
        this.setTree(m, item.contents.slice());
        p = this.decode(c.learnerDecoder, encodeQuorumPacket(packet(PacketType.SNAP, item.zxid)));
      } else {
        p = this.decode(c.learnerDecoder, item.bytes);
      }
      if (c.observer && p.type === PacketType.PROPOSAL)
        this.violation(`observer ${m.sid} received PROPOSAL ${hex(p.zxid)} from our leader ${c.leader}`);
      this.log(`${c.leader}->${c.learner} ${packetTypeName(p.type)} ${hex(p.zxid)}`);
      this.learnerStep(m, { kind: 'packet', packet: p });
    }
  }

  private decode(d: QuorumPacketDecoder, bytes: Buffer): QuorumPacket {
    // Feed in two pieces to exercise the streaming decoder.
    const cut = this.rng.int(bytes.length + 1);
    d.push(bytes.subarray(0, cut));
    const early = d.next();
    if (early !== null && cut < bytes.length)
      this.violation('decoder returned a packet before it was complete');
    d.push(bytes.subarray(cut));
    const p = early ?? d.next();
    if (p === null || d.buffered !== 0) this.violation('decoder did not return exactly one packet');
    return p!;
  }

  private diskOne(): void {
    const busy = [...this.members.values()].filter((m) => m.alive && m.pending.length > 0);
    if (busy.length === 0) return;
    const m = this.rng.pick(busy);
    const n = 1 + this.rng.int(3);
    for (let i = 0; i < n && m.pending.length > 0; i++) {
      const op = m.pending.shift()!;
      this.makeDurable(m, op);
      this.notifyDisk(m, op);
      if (!m.alive) return;
    }
  }

  private makeDurable(m: Member, op: DiskOp): void {
    switch (op.kind) {
      case 'append': {
        const last = m.history.at(-1)?.zxid ?? 0;
        if (op.p.zxid <= last) this.violation(`member ${m.sid} logs ${hex(op.p.zxid)} after ${hex(last)}`);
        m.history.push(op.p);
        break;
      }
      case 'truncate':
        m.history = m.history.filter((p) => p.zxid <= op.zxid);
        break;
      case 'snapshot':
        m.history = op.contents.slice();
        break;
      case 'epoch':
        if (op.which === 'accepted') {
          if (op.epoch < m.acceptedEpoch) this.violation(`member ${m.sid} lowers its acceptedEpoch`);
          m.acceptedEpoch = op.epoch;
        } else {
          if (op.epoch < m.currentEpoch) this.violation(`member ${m.sid} lowers its currentEpoch`);
          if (op.epoch > m.acceptedEpoch) this.violation(`member ${m.sid} currentEpoch above acceptedEpoch`);
          m.currentEpoch = op.epoch;
        }
        break;
    }
  }

  private notifyDisk(m: Member, op: DiskOp): void {
    if (op.kind === 'append') {
      if (m.shadow) for (const [zxid, acks] of m.shadow.acks) if (zxid <= op.p.zxid) acks.add(m.sid);
      if (m.leader) this.leaderStep(m, { kind: 'fsynced', zxid: op.p.zxid });
      else if (m.learner) this.learnerStep(m, { kind: 'fsynced', zxid: op.p.zxid });
    } else if (op.kind === 'epoch') {
      const input = { kind: 'persisted', which: op.which, epoch: op.epoch } as const;
      if (m.leader) this.leaderStep(m, input);
      else if (m.learner) this.learnerStep(m, input);
    } else if (op.kind === 'snapshot') {
      if (m.learner) this.learnerStep(m, { kind: 'snapshotted', zxid: op.zxid });
    }
  }

  private advanceTime(): void {
    this.now += TIMING.tickTime / 2;
    for (const m of this.members.values()) {
      if (!m.alive) continue;
      if (m.leader) this.leaderStep(m, { kind: 'tick', now: this.now });
      else if (m.learner) this.learnerStep(m, { kind: 'tick', now: this.now });
    }
  }

  private newTxn(zxid: number, clientId: bigint, cxid: number, payload: Buffer): Buffer {
    return encodeTxnEntry(
      { clientId, cxid, zxid, time: this.now, type: 5 },
      { type: 5, path: '/k', data: payload, version: -1 },
      null,
    );
  }

  private clientWrite(): void {
    const serving = [...this.members.values()].filter(
      (m) => m.alive && ((m.leader && m.leader.phase === 'broadcast') || m.learner?.serving),
    );
    if (serving.length === 0) return;
    const m = this.rng.pick(serving);
    const n = ++this.writeNo;
    const payload = Buffer.from(`write ${n} seed ${this.opts.seed}`);
    if (m.leader) {
      const zxid = m.leader.nextZxid;
      this.propose(m, zxid, this.newTxn(zxid, BigInt(m.sid), n, payload));
    } else {
      this.learnerStep(m, {
        kind: 'request',
        request: {
          sessionId: BigInt(m.sid),
          cxid: n,
          type: 5,
          body: payload,
          authinfo: [{ scheme: 'ip', id: '10.0.0.1' }],
        },
      });
    }
  }

  /**
   * Proposes a txn at m's leader, noting which configs it needs a quorum of: the config in force,
   * and while a reconfig is pending (this one included) the config it installs.
   */
  private propose(m: Member, zxid: number, data: Buffer, config?: QuorumVerifier): void {
    const sh = m.shadow!;
    if (config) sh.pending = { zxid, config };
    sh.required.set(zxid, sh.pending ? [sh.inForce, sh.pending.config] : [sh.inForce]);
    sh.acks.set(zxid, new Set());
    this.leaderStep(m, { kind: 'propose', zxid, data, ...(config ? { config } : {}) });
  }

  /**
   * A reconfig request at a serving leader, through the leader's prep stage (server/reconfig.ts)
   * with what member.ts's reconfigHost tells it; proposed when the prep lets it through.
   */
  private reconfigOne(): void {
    const leaders = [...this.members.values()].filter((m) => m.alive && m.leader?.phase === 'broadcast');
    if (leaders.length === 0) return;
    const m = this.rng.pick(leaders);
    const l = m.leader!;
    const current = (l.lastSeenVerifier as QuorumVerifier).config;
    const sids = [...this.members.keys()];
    const inside = sids.filter((s) => current.members.has(s));
    const outside = sids.filter((s) => !current.members.has(s));
    const role = () => (this.rng.chance(0.5) ? 'observer' : 'participant');
    const req: ReconfigRequest = {
      joiningServers: null,
      leavingServers: null,
      newMembers: null,
      curConfigId: -1,
    };
    const r = this.rng.next();
    let what: string;
    if (r < 0.4 && outside.length > 0) {
      const sid = this.rng.pick(outside);
      req.joiningServers = serverSpec(sid, role());
      what = `add ${req.joiningServers}`;
    } else if (r < 0.75) {
      const sid = this.rng.pick(inside);
      req.leavingServers = String(sid);
      what = `remove ${sid}`;
    } else if (r < 0.9) {
      // The same server joining again with another role replaces its entry.
      const sid = this.rng.pick(inside);
      const now = current.members.get(sid)!.role;
      req.joiningServers = serverSpec(sid, now === 'observer' ? 'participant' : 'observer');
      what = `make ${sid} ${now === 'observer' ? 'a participant' : 'an observer'}`;
    } else {
      // A whole member list: the current one without a random member, plus a random outsider.
      const drop = this.rng.pick(inside);
      const list = inside.filter((s) => s !== drop).map((s) => serverSpec(s, current.members.get(s)!.role));
      if (outside.length > 0) list.push(serverSpec(this.rng.pick(outside), role()));
      req.newMembers = list.join(',');
      what = `members ${req.newMembers}`;
    }
    // Sometimes against a stale version, as a client holding an old config would send it.
    if (this.rng.chance(0.1)) req.curConfigId = current.version === 0 ? 1 : current.version - 1;
    else if (this.rng.chance(0.5)) req.curConfigId = current.version;
    const zxid = l.nextZxid;
    let txn: ReturnType<typeof prepReconfig>;
    try {
      txn = prepReconfig(
        req,
        { view: CONFIG_VIEW, ids: [], auth: NO_ACL, zxid, time: this.now },
        {
          enabled: true,
          config: () => current,
          inProgress: () => l.reconfigInProgress,
          syncedVoters: () => l.syncedFollowers(),
        },
      );
    } catch (e) {
      if (!(e instanceof KeeperError)) throw e;
      const why = errorName(e.code);
      this.stats.reconfigsRefused[why] = (this.stats.reconfigsRefused[why] ?? 0) + 1;
      this.log(`leader ${m.sid} refuses reconfig (${what}): ${why}`);
      return;
    }
    if (txn.type !== OpCode.reconfig) throw new Error('prepReconfig returned no reconfig txn');
    const next = new QuorumVerifier(parseDynamicConfig(txn.data.toString('utf8')));
    const data = encodeTxnEntry(
      { clientId: 0n, cxid: 0, zxid, time: this.now, type: OpCode.reconfig },
      txn,
      null,
    );
    this.stats.reconfigsProposed++;
    this.log(`leader ${m.sid} proposes reconfig ${hex(zxid)}: ${what}`);
    this.propose(m, zxid, data, next);
  }

  /**
   * The operator starts (or restarts) a server with the membership a serving leader has, plus the
   * server itself when it is not in it yet: how a server that is to join is started. Its data is
   * kept or wiped.
   */
  private joinOne(): void {
    const leaders = [...this.members.values()].filter((m) => m.alive && m.leader?.phase === 'broadcast');
    if (leaders.length === 0) return;
    const l = this.rng.pick(leaders);
    const candidates = [...this.members.values()].filter(
      (m) => m !== l && (!m.alive || !m.config.isMember(m.sid) || !l.config.isMember(m.sid)),
    );
    if (candidates.length === 0) return;
    const m = this.rng.pick(candidates);
    const known = l.config.config.members.get(m.sid)?.role;
    const counted = known !== undefined || l.leader!.lastSeenVerifier.isVoter(m.sid);
    this.join(m, l.config, known ?? (this.rng.chance(0.6) ? 'observer' : 'participant'), !counted);
  }

  private join(m: Member, current: QuorumVerifier, role: 'participant' | 'observer', mayWipe = false): void {
    if (m.alive) {
      // A clean stop: pending writes complete.
      this.backToElection(m);
      m.alive = false;
    }
    // Losing the disk is outside Zab's fault model for a server whose acks may count: only a server
    // that no config of the leader lists starts afresh (or one never started).
    const wipe = !m.provisioned || (mayWipe && this.rng.chance(0.3));
    if (wipe) {
      m.history = [];
      m.pending = [];
      m.acceptedEpoch = 0;
      m.currentEpoch = 0;
      m.record = null;
    }
    const listed = current.config.members.get(m.sid)?.role === role;
    m.provisioned = true;
    m.dynamicFile = true;
    m.fileConfig = listed ? current : withMember(current.config, m.sid, role);
    m.fileOfficial = listed;
    this.stats.joins++;
    this.log(
      `operator starts ${m.sid} as ${role} with config ${hex(current.version)}${listed ? '' : ' + itself'}${wipe ? ', data wiped' : ''}`,
    );
    this.restart(m);
  }

  /**
   * settle(): the operator (re)starts the servers that the last committed config lists and that do
   * not run as members: never started, or idle because the config in force at them leaves them
   * out (a server started to join that adopted a newer config without itself, as a removed member
   * would, before it was added).
   */
  private provisionMissing(): void {
    const last = this.committed.findLast((p) => isReconfigTxn(p.data));
    const current = last ? this.configOf(last) : this.initialConfig;
    for (const m of this.members.values()) {
      const role = current.config.members.get(m.sid)?.role;
      if (!role) continue;
      if (!m.provisioned || (m.alive && !m.leader && !m.learner && !m.config.isMember(m.sid))) {
        this.stats.operatorRestarts++;
        this.join(m, current, role);
      }
    }
  }

  private clientSync(): void {
    const ls = [...this.members.values()].filter((m) => m.alive && m.learner?.serving);
    if (ls.length === 0) return;
    const m = this.rng.pick(ls);
    this.learnerStep(m, {
      kind: 'request',
      request: { sessionId: BigInt(m.sid), cxid: 0, type: 9, body: Buffer.from('/'), authinfo: null },
    });
  }

  private clientRevalidate(): void {
    const ls = [...this.members.values()].filter((m) => m.alive && m.learner?.serving);
    if (ls.length === 0) return;
    this.learnerStep(this.rng.pick(ls), { kind: 'revalidate', sessionId: 77n, timeout: 4000 });
  }

  private crashOne(): void {
    const alive = [...this.members.values()].filter((m) => m.alive);
    if (alive.length === 0) return;
    const m = this.rng.pick(alive);
    this.stats.crashes++;
    // A random prefix of the writes not yet reported durable survives.
    const keep = this.rng.int(m.pending.length + 1);
    for (const op of m.pending.slice(0, keep)) this.makeDurable(m, op);
    m.pending = [];
    this.log(`crash ${m.sid} (kept ${keep} pending writes)`);
    this.dropCores(m, 'crash');
    m.alive = false;
  }

  private restartOne(): void {
    const dead = [...this.members.values()].filter((m) => !m.alive && m.provisioned);
    if (dead.length > 0) this.restart(this.rng.pick(dead));
  }

  private restart(m: Member): void {
    m.alive = true;
    this.setTree(m, m.history.slice());
    m.serving = false;
    // member.ts startMember: the config files, unless the data dir records a newer activated one.
    // (Not the tree's: its logged txns may hold a reconfig that never commits.)
    const r = m.record;
    const useRecord = r !== null && r.config.version > m.fileConfig.version;
    m.config = useRecord ? r.config : m.fileConfig;
    m.official = useRecord ? r.official : m.fileOfficial;
    m.joining = false;
    if (m.official)
      this.registerConfig(m, m.config, `restart, from ${useRecord ? 'the data dir' : 'the config file'}`);
    this.log(`restart ${m.sid} with config ${hex(m.config.version)}`);
  }

  private partition(): void {
    this.stats.partitions++;
    if (this.rng.chance(0.4)) {
      this.heal();
      return;
    }
    for (const sid of this.members.keys()) this.group.set(sid, this.rng.int(2));
    this.log(`partition ${[...this.group].map(([s, g]) => `${s}:${g}`).join(' ')}`);
  }

  /** A network blip: one connection breaks; both ends notice (the learner goes back to election). */
  private dropConnection(): void {
    const open = [...this.conns.values()].filter((c) => c.open);
    if (open.length === 0) return;
    const c = this.rng.pick(open);
    this.log(`connection ${c.learner}->${c.leader} breaks`);
    this.stats.drops++;
    const learner = this.members.get(c.learner)!;
    this.closeConn(c, 'leader', 'network blip');
    this.leaderStep(this.members.get(c.leader)!, { kind: 'disconnected', conn: c.id });
    if (learner.conn === c) this.learnerStep(learner, { kind: 'disconnected' });
  }

  private heal(): void {
    for (const sid of this.members.keys()) this.group.set(sid, 0);
  }

  /**
   * The election oracle. Each member votes under the config in force at it: a voter is elected by
   * the looking voters of its config that count it as a voter too, when they are a quorum of it.
   */
  private elect(pBest: number): void {
    const groups = new Map<number, Member[]>();
    for (const m of this.members.values()) {
      if (!m.alive || m.leader || m.learner || !m.config.isMember(m.sid)) continue;
      const g = this.group.get(m.sid)!;
      groups.set(g, [...(groups.get(g) ?? []), m]);
    }
    for (const [g, all] of groups) {
      if (this.opts.reconfig) for (const m of all) this.configFromNotifications(m);
      const lookers = all.filter((m) => m.config.isMember(m.sid));
      const leaders = [...this.members.values()].filter(
        (m) => m.alive && m.leader && m.leader.phase !== 'stopped' && this.group.get(m.sid) === g,
      );
      if (leaders.length > 0) {
        // Join the most recent leader in reach, as FLE makes a restarted member follow.
        const l = leaders.reduce((a, b) => (a.leader!.epoch >= b.leader!.epoch ? a : b));
        for (const m of lookers) if (this.rng.chance(0.7) && m.config.isVoter(l.sid)) this.follow(m, l);
        continue;
      }
      const voters = lookers.filter((m) => m.config.isVoter(m.sid));
      const backers = (c: Member) =>
        voters.filter((m) => c.config.isVoter(m.sid) && m.config.isVoter(c.sid)).map((m) => m.sid);
      const electable = voters.filter((c) => c.config.containsQuorum(backers(c)));
      if (electable.length === 0) continue;
      const best = electable.reduce((a, b) => (this.rank(a, b) >= 0 ? a : b));
      const l = this.rng.chance(pBest) ? best : this.rng.pick(electable);
      this.lead(l);
      for (const m of lookers)
        if (m !== l && this.rng.chance(0.9) && m.config.isVoter(l.sid)) this.follow(m, l);
    }
  }

  /**
   * Election notifications carry the sender's config; a looking member adopts a newer one
   * (member.ts onNewerConfig). It hears from the voters of its own config, some of the time.
   */
  private configFromNotifications(m: Member): void {
    if (!this.rng.chance(0.5)) return;
    let newest: Member | null = null;
    for (const x of this.members.values()) {
      if (!x.alive || x === m || !x.official || !m.config.isVoter(x.sid) || !this.reachable(m.sid, x.sid))
        continue;
      if (x.config.version > (newest?.config.version ?? m.config.version)) newest = x;
    }
    if (newest) this.adopt(m, newest.config, 'an election notification');
  }

  /** FLE's order on votes: currentEpoch, then last zxid, then sid. */
  private rank(a: Member, b: Member): number {
    const za = a.history.at(-1)?.zxid ?? 0;
    const zb = b.history.at(-1)?.zxid ?? 0;
    return a.currentEpoch - b.currentEpoch || za - zb || a.sid - b.sid;
  }

  private lead(m: Member): void {
    const history = m.history;
    const useTxnLog = this.rng.chance(0.5);
    m.shadow = { inForce: m.config, pending: null, required: new Map(), acks: new Map() };
    m.leader = this.opts.leaderFactory({
      sid: m.sid,
      verifier: m.config,
      timing: TIMING,
      acceptedEpoch: m.acceptedEpoch,
      currentEpoch: m.currentEpoch,
      lastZxid: history.at(-1)?.zxid ?? 0,
      committedLog: history.slice(-this.opts.commitLogCount),
      commitLogCount: this.opts.commitLogCount,
      readTxnLog: useTxnLog ? (from) => this.readTxnLog(m, from) : null,
      now: this.now,
    });
    this.log(
      `lead ${m.sid} (epoch ${m.currentEpoch}/${m.acceptedEpoch}, last ${hex(history.at(-1)?.zxid ?? 0)}, config ${hex(m.config.version)})`,
    );
    this.runLeaderEffects(m, m.leader.start());
  }

  /** The txn log as the leader's shell would read it: from some entry at or before `from`. */
  private readTxnLog(m: Member, from: number): Proposal[] | null {
    const log = this.visibleLog(m);
    let i = log.findLastIndex((p) => p.zxid <= from);
    if (i < 0) return this.rng.chance(0.5) ? null : log.slice(0, 3);
    i = Math.max(0, i - this.rng.int(3));
    return log.slice(i);
  }

  /** Durable history with the pending writes applied: what a read of the files would see. */
  private visibleLog(m: Member): Proposal[] {
    let log = m.history.slice();
    for (const op of m.pending) {
      if (op.kind === 'append') log.push(op.p);
      else if (op.kind === 'truncate') log = log.filter((p) => p.zxid <= op.zxid);
      else if (op.kind === 'snapshot') log = op.contents.slice();
    }
    return log;
  }

  private follow(m: Member, l: Member): void {
    const observer = !m.config.isVoter(m.sid);
    m.learner = this.opts.learnerFactory({
      sid: m.sid,
      role: observer ? 'observer' : 'follower',
      timing: TIMING,
      acceptedEpoch: m.acceptedEpoch,
      currentEpoch: m.currentEpoch,
      lastLoggedZxid: m.history.at(-1)?.zxid ?? 0,
      configVersion: m.config.version,
      now: this.now,
    });
    this.log(`${m.sid} follows ${l.sid}`);
    if (!l.alive || !l.leader || l.leader.phase === 'stopped' || !this.reachable(m.sid, l.sid)) {
      this.learnerStep(m, { kind: 'disconnected' });
      return;
    }
    const c: Conn = {
      id: this.nextConn++,
      learner: m.sid,
      leader: l.sid,
      observer,
      open: true,
      toLeader: [],
      toLearner: [],
      leaderDecoder: new QuorumPacketDecoder(),
      learnerDecoder: new QuorumPacketDecoder(),
      syncRequired: [],
    };
    this.conns.set(c.id, c);
    m.conn = c;
    this.leaderStep(l, { kind: 'connected', conn: c.id });
    this.learnerStep(m, { kind: 'connected' });
  }

  // --- cores and their effects ---

  private leaderStep(m: Member, input: LeaderInput): void {
    if (!m.leader) return;
    if (input.kind === 'sync') {
      const l = m.leader;
      this.conns
        .get(input.conn)
        ?.syncRequired.push(l.outstandingCount > 0 ? l.lastProposedZxid : l.lastCommittedZxid);
    }
    this.runLeaderEffects(m, m.leader.step(input));
  }

  private learnerStep(m: Member, input: Parameters<Learner['step']>[0]): void {
    if (!m.learner) return;
    this.runLearnerEffects(m, m.learner.step(input));
  }

  private closeConn(c: Conn, by: 'leader' | 'learner', reason: string): void {
    if (!c.open) return;
    c.open = false;
    c.toLeader.length = 0;
    c.toLearner.length = 0;
    const kind = reason.replace(/[0-9a-fx]{6,}|\d+/g, '#');
    this.stats.closes[kind] = (this.stats.closes[kind] ?? 0) + 1;
    if (/protocol error/.test(reason)) this.violation(`protocol error between our cores: ${reason}`);
    // The other end learns at once if it can be reached; otherwise its read timeout tells it.
    if (!this.reachable(c.leader, c.learner)) return;
    if (by === 'leader') {
      const m = this.members.get(c.learner)!;
      if (m.conn === c) this.learnerStep(m, { kind: 'disconnected' });
    } else {
      const m = this.members.get(c.leader)!;
      this.leaderStep(m, { kind: 'disconnected', conn: c.id });
    }
  }

  private runLeaderEffects(m: Member, effects: LeaderEffect[]): void {
    const l = m.leader!;
    // Inputs the shell feeds back (proposals for forwarded requests, ...) wait until every effect
    // of this step has been executed, so the order of sends stays the core's.
    const later: LeaderFeed[] = [];
    this.runLeaderEffectList(m, l, effects, later);
    for (const input of later) {
      if (m.leader !== l) return;
      if (input.kind === 'write') {
        if (l.phase !== 'broadcast') continue;
        const zxid = l.nextZxid;
        this.propose(m, zxid, this.newTxn(zxid, input.clientId, input.cxid, input.payload));
      } else {
        this.leaderStep(m, input);
      }
    }
  }

  private runLeaderEffectList(m: Member, l: Leader, effects: LeaderEffect[], later: LeaderFeed[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'send': {
          const c = this.conns.get(e.conn);
          if (!c?.open) break;
          if (c.observer && (e.packet.type === PacketType.PROPOSAL || e.packet.type === PacketType.COMMIT))
            this.violation(`leader ${m.sid} sends ${packetTypeName(e.packet.type)} to observer ${c.learner}`);
          c.toLearner.push({ kind: 'packet', bytes: encodeQuorumPacket(e.packet) });
          if (e.packet.type === PacketType.DIFF || e.packet.type === PacketType.TRUNC)
            this.count(packetTypeName(e.packet.type));
          break;
        }
        case 'send-snapshot': {
          const c = this.conns.get(e.conn);
          if (!c?.open) break;
          const contents = m.tree.filter((p) => p.zxid <= e.zxid);
          if ((contents.at(-1)?.zxid ?? 0) !== e.zxid && m.tree.length > 0)
            this.violation(`leader ${m.sid} snapshots at ${hex(e.zxid)} but its tree has no such txn`);
          c.toLearner.push({ kind: 'snapshot', zxid: e.zxid, contents });
          this.count('SNAP');
          break;
        }
        case 'close': {
          const c = this.conns.get(e.conn);
          if (c) this.closeConn(c, 'leader', e.reason);
          break;
        }
        case 'log-append':
        case 'persist-epoch':
          this.queueDisk(m, e);
          break;
        case 'apply':
          this.onCommit(m, l, { zxid: e.zxid, data: e.data });
          this.apply(m, { zxid: e.zxid, data: e.data });
          break;
        case 'activate':
          this.onLeaderActivate(m, e.zxid, e.designatedLeader);
          break;
        case 'established':
          this.onEstablished(m, e.epoch, e.lastZxid);
          if (m.treeConfigZxid > m.config.version) {
            // member.ts: the initial history, now committed, holds a reconfig this leader had not
            // activated (it was proposed before the last leader change). The core counts the
            // old config: activate the new one and re-elect under it, before anyone is UPTODATE.
            this.adopt(m, this.treeConfig(m)!, 'established with a newer config in the history');
            this.log(`leader ${m.sid} steps down to re-elect under config ${hex(m.config.version)}`);
            this.backToElection(m);
            return;
          }
          break;
        case 'stopped':
          this.log(`leader ${m.sid} stops: ${e.reason}`);
          this.stats.leaderStops++;
          this.backToElection(m);
          return;
        case 'learner-request': {
          if (e.request.type === OpCode.sync) {
            later.push({ kind: 'sync', conn: e.conn });
          } else {
            later.push({
              kind: 'write',
              clientId: e.request.sessionId,
              cxid: e.request.cxid,
              payload: e.request.body,
            });
          }
          break;
        }
        case 'revalidate':
          later.push({ kind: 'revalidated', conn: e.conn, sessionId: e.sessionId, valid: true });
          break;
        case 'touch':
        case 'warn':
          break;
      }
      if (m.leader !== l) return;
    }
  }

  private runLearnerEffects(m: Member, effects: LearnerEffect[]): void {
    const r = m.learner!;
    const c = m.conn;
    for (const e of effects) {
      switch (e.type) {
        case 'send': {
          if (r.role === 'observer' && e.packet.type === PacketType.ACK && counterOf(e.packet.zxid) !== 0)
            this.violation(`observer ${m.sid} sends ACK ${hex(e.packet.zxid)}`);
          if (e.packet.type === PacketType.REQUEST) decodeRequest(e.packet);
          if (c?.open) c.toLeader.push({ kind: 'packet', bytes: encodeQuorumPacket(e.packet) });
          break;
        }
        case 'log-append':
        case 'persist-epoch':
          this.queueDisk(m, e);
          break;
        case 'truncate-log':
          m.pending.push({ kind: 'truncate', zxid: e.zxid });
          // The shell reloads its tree from the truncated log.
          this.setTree(m, this.visibleLog(m));
          break;
        case 'take-snapshot':
          m.pending.push({ kind: 'snapshot', zxid: e.zxid, contents: m.tree.slice() });
          if ((m.tree.at(-1)?.zxid ?? 0) !== e.zxid && m.tree.length > 0)
            this.violation(
              `learner ${m.sid} snapshots at ${hex(e.zxid)} a tree at ${hex(m.tree.at(-1)!.zxid)}`,
            );
          break;
        case 'apply':
          this.apply(m, { zxid: e.zxid, data: e.data });
          break;
        case 'uptodate':
          // A reconfig committed during the sync was applied just now: it may take this role away.
          if (this.leaveIfConfigMovedOn(m)) return;
          this.onUpToDate(m, e.epoch);
          break;
        case 'ping': {
          const touches = [{ sessionId: BigInt(m.sid) << 56n, timeout: 4000 }];
          const p = packet(PacketType.PING, e.zxid, encodeTouchTable(touches));
          if (c?.open) c.toLeader.push({ kind: 'packet', bytes: encodeQuorumPacket(p) });
          break;
        }
        case 'sync-done': {
          const need = c?.syncRequired.shift();
          if (need === undefined) this.violation(`learner ${m.sid}: SYNC without a pending sync request`);
          const have = m.tree.at(-1)?.zxid ?? 0;
          if (have < need!)
            this.violation(
              `learner ${m.sid} completes a sync at ${hex(have)}, leader required ${hex(need!)}`,
            );
          this.stats.syncsChecked++;
          break;
        }
        case 'leader-config': {
          // NEWLEADER carries the leader's config: adopted when newer, then the role is checked.
          const sent = new QuorumVerifier(parseDynamicConfig(e.text));
          const from = c ? this.members.get(c.leader)! : null;
          if (from?.official && sent.version === from.config.version && e.text !== from.config.toString())
            this.violation(`leader ${from.sid} sends a config in NEWLEADER that is not its own: ${e.text}`);
          m.joining = !sent.isMember(m.sid);
          this.adopt(m, sent, 'NEWLEADER');
          if (this.leaveIfConfigMovedOn(m)) return;
          break;
        }
        case 'activate': {
          const txn = this.committed.find((p) => p.zxid === e.zxid);
          if (!txn || !isReconfigTxn(txn.data))
            this.violation(
              `learner ${m.sid} told to activate ${hex(e.zxid)}, which is no committed reconfig`,
            );
          if (c && e.designatedLeader !== c.leader) {
            this.stopLearner(m, `reconfig: server ${e.designatedLeader} leads the new config`);
            return;
          }
          if (this.leaveIfConfigMovedOn(m)) return;
          break;
        }
        case 'stopped':
          this.log(`learner ${m.sid} stops: ${e.reason}`);
          if (/protocol error/.test(e.reason)) this.violation(`learner ${m.sid}: ${e.reason}`);
          this.stopLearner(m, e.reason);
          return;
        case 'revalidated':
        case 'warn':
          break;
      }
      if (m.learner !== r) return;
    }
  }

  /** A disk effect waits in m's queue until diskOne (or a crash) makes it durable. */
  private queueDisk(m: Member, e: DiskEffect): void {
    m.pending.push(
      e.type === 'log-append'
        ? { kind: 'append', p: { zxid: e.zxid, data: e.data } }
        : { kind: 'epoch', which: e.which, epoch: e.epoch },
    );
  }

  private count(mode: string): void {
    this.stats.syncModes[mode] = (this.stats.syncModes[mode] ?? 0) + 1;
  }

  /** Stops whatever core runs on m, closing its connections; pending disk writes complete. */
  private backToElection(m: Member): void {
    this.dropCores(m, 'back to election');
    for (const op of m.pending) this.makeDurable(m, op);
    m.pending = [];
    // The tree is reloaded from disk; the config in force stays (member.ts: configToTree).
    this.setTree(m, m.history.slice());
  }

  private stopLearner(m: Member, reason: string): void {
    if (m.conn) this.closeConn(m.conn, 'learner', reason);
    this.backToElection(m);
  }

  /** member.ts leaveIfConfigMovedOn: a learner leaves a role the config in force no longer gives it. */
  private leaveIfConfigMovedOn(m: Member): boolean {
    const r = m.learner!;
    const role = m.config.config.members.get(m.sid)?.role;
    const leader = m.conn?.leader ?? -1;
    let why: string | null = null;
    if (!role) why = 'reconfig removed this member';
    else if ((role === 'observer' ? 'observer' : 'follower') !== r.role)
      why = `reconfig made this member a ${role}`;
    else if (!m.config.isMember(leader)) why = 'reconfig removed the leader';
    if (why === null) return false;
    this.stats.rolesLeft++;
    this.log(`learner ${m.sid} leaves: ${why}`);
    this.stopLearner(m, why);
    return true;
  }

  private dropCores(m: Member, reason: string): void {
    const leader = m.leader;
    const conn = m.conn;
    m.leader = null;
    m.shadow = null;
    m.learner = null;
    m.conn = null;
    m.serving = false;
    if (conn) this.closeConn(conn, 'learner', reason);
    if (leader) {
      for (const c of this.conns.values())
        if (c.leader === m.sid && c.open) this.closeConn(c, 'leader', reason);
    }
    for (const [id, c] of this.conns) if (!c.open) this.conns.delete(id);
  }

  // --- configs ---

  /** The config a reconfig txn installs. */
  private configOf(p: Proposal): QuorumVerifier {
    const k = key(p);
    let v = this.configOfTxn.get(k);
    if (!v) {
      const { header, txn } = decodeTxnEntry(p.data);
      if (header.type !== OpCode.reconfig || txn.type !== OpCode.reconfig)
        throw new Error(`${hex(p.zxid)} is no reconfig txn`);
      v = new QuorumVerifier(parseDynamicConfig(txn.data.toString('utf8')));
      this.configOfTxn.set(k, v);
    }
    return v;
  }

  /** The config of the last reconfig txn in m's tree. */
  private treeConfig(m: Member): QuorumVerifier | null {
    if (m.treeConfigZxid === 0) return null;
    return this.configOf(m.tree.findLast((p) => p.zxid === m.treeConfigZxid)!);
  }

  /** Replaces m's tree (reload from disk, TRUNC, SNAP) and finds its last reconfig txn. */
  private setTree(m: Member, tree: Proposal[]): void {
    m.tree = tree;
    m.treeConfigZxid = tree.findLast((p) => isReconfigTxn(p.data))?.zxid ?? 0;
  }

  /**
   * member.ts adoptConfig: a config newer than the one in force replaces it. A server waiting to be
   * added keeps its own line through configs that do not add it yet (that makes its config its own).
   */
  private adopt(m: Member, v: QuorumVerifier, source: string): boolean {
    if (v.version <= m.config.version) return false;
    const mine = m.config.config.members.get(m.sid);
    if (v.isMember(m.sid)) m.joining = false;
    if (m.joining && mine && !v.isMember(m.sid))
      this.setConfig(m, withMember(v.config, m.sid, mine.role), source, false);
    else this.setConfig(m, v, source, true);
    return true;
  }

  private setConfig(m: Member, v: QuorumVerifier, source: string, official: boolean): void {
    if (official) this.registerConfig(m, v, source);
    m.config = v;
    m.official = official;
    m.record = { config: v, official };
    if (m.dynamicFile) {
      m.fileConfig = v;
      m.fileOfficial = official;
    }
    const how = source.replace(/ 0x[0-9a-f]+$/, '');
    this.stats.adoptions[how] = (this.stats.adoptions[how] ?? 0) + 1;
    this.log(`member ${m.sid} activates config ${hex(v.version)} (${source})`);
  }

  /**
   * A config activated at m: the same version must mean the same config everywhere, and one whose
   * reconfig txn has not committed must still be able to (it is checked again at every commit).
   */
  private registerConfig(m: Member, v: QuorumVerifier, source: string): void {
    const text = v.toString();
    const known = this.configTexts.get(v.version);
    if (known !== undefined) {
      if (known !== text)
        this.violation(
          `member ${m.sid} activates config ${hex(v.version)} (${source}) unlike the one activated before:\n${text}\n--- before:\n${known}`,
        );
      return;
    }
    this.configTexts.set(v.version, text);
    const last = this.committed.at(-1)?.zxid ?? 0;
    if (v.version < last)
      this.violation(
        `member ${m.sid} activates config ${hex(v.version)} (${source}), whose reconfig never committed`,
      );
    this.uncommittedConfigs.add(v.version);
  }

  /** The leader's core activated a reconfig: the one its shell proposed, committed just now. */
  private onLeaderActivate(m: Member, zxid: number, designated: number): void {
    const sh = m.shadow!;
    if (sh.pending?.zxid !== zxid)
      this.violation(
        `leader ${m.sid} activates ${hex(zxid)}, the pending reconfig is ${hex(sh.pending?.zxid ?? -1)}`,
      );
    if (m.config.version !== zxid)
      this.violation(`leader ${m.sid} activates ${hex(zxid)} with config ${hex(m.config.version)} in force`);
    const next = sh.pending!.config;
    if (designated !== m.sid && next.isVoter(m.sid))
      this.violation(`leader ${m.sid} still votes after ${hex(zxid)} but designates ${designated}`);
    if (!next.isVoter(designated))
      this.violation(`leader ${m.sid} designates ${designated}, no voter of ${hex(zxid)}`);
    this.stats.reconfigsActivated++;
    const before = sh.inForce.voters;
    if (before.size !== next.voters.size || [...before].some((s) => !next.isVoter(s)))
      this.stats.voterChanges++;
    if (!next.isVoter(m.sid)) this.stats.leaderRemoved++;
    // From here only the new config counts, for every proposal not committed yet.
    sh.inForce = next;
    sh.pending = null;
    for (const z of sh.required.keys()) sh.required.set(z, [next]);
  }

  // --- invariants ---

  private violation(message: string): never {
    throw new SimViolation(
      `seed ${this.opts.seed}, step ${this.stepNo}: ${message}\n--- last events ---\n${this.trace.join('\n')}`,
    );
  }

  private log(s: string): void {
    if (this.opts.traceSize === 0) return;
    this.trace.push(`[${this.stepNo} t=${this.now}] ${s}`);
    if (this.trace.length > this.opts.traceSize) this.trace.shift();
  }

  /** Adds a txn to the committed sequence: known already with the same bytes, or new at its end. */
  private addCommitted(p: Proposal, who: string): void {
    const k = key(p);
    const known = this.committedBy.get(p.zxid);
    if (known !== undefined) {
      if (known !== k) this.violation(`${who}: two different txns committed at ${hex(p.zxid)}`);
      return;
    }
    const last = this.committed.at(-1)?.zxid ?? 0;
    if (p.zxid <= last)
      this.violation(`${who}: txn ${hex(p.zxid)} committed below the committed prefix ${hex(last)}`);
    this.committed.push(p);
    this.committedBy.set(p.zxid, k);
    this.stats.committed++;
    if (isReconfigTxn(p.data)) {
      const text = this.configOf(p).toString();
      const activated = this.configTexts.get(p.zxid);
      if (activated !== undefined && activated !== text)
        this.violation(
          `${who}: reconfig ${hex(p.zxid)} commits a config unlike the one activated at that version`,
        );
      this.configTexts.set(p.zxid, text);
      this.uncommittedConfigs.delete(p.zxid);
    }
    for (const v of this.uncommittedConfigs)
      if (v < p.zxid)
        this.violation(
          `${who}: ${hex(p.zxid)} commits, but config ${hex(v)} was activated and its reconfig txn never committed`,
        );
  }

  private onCommit(m: Member, l: Leader, p: Proposal): void {
    // The commit rests on a quorum of every config it needs: acknowledged, and durable there.
    const sh = m.shadow!;
    const required = sh.required.get(p.zxid);
    if (!required) this.violation(`leader ${m.sid} commits ${hex(p.zxid)}, which its shell never proposed`);
    const holders = [...sh.acks.get(p.zxid)!].filter((sid) => this.holdsDurably(this.members.get(sid)!, p));
    for (const v of required!) {
      if (!v.containsQuorum(holders))
        this.violation(
          `leader ${m.sid} commits ${hex(p.zxid)} without a quorum of config ${hex(v.version)} (voters ${[...v.voters]}): acknowledged and durable at [${holders}]`,
        );
    }
    if (required!.length > 1) this.stats.jointCommits++;
    sh.required.delete(p.zxid);
    sh.acks.delete(p.zxid);
    this.addCommitted(p, `leader ${m.sid} commit`);
    // No committed txn is lost, even one committed by an old leader after a newer one established.
    for (const [epoch, est] of this.established) {
      if (epoch > l.epoch && epochOf(p.zxid) < epoch && est.history.get(p.zxid) !== key(p))
        this.violation(
          `leader ${m.sid} commits ${hex(p.zxid)}, missing from epoch ${epoch}'s initial history`,
        );
    }
  }

  private onEstablished(m: Member, epoch: number, lastZxid: number): void {
    const prior = this.established.get(epoch);
    if (prior) this.violation(`two leaders established epoch ${epoch}: ${prior.sid} and ${m.sid}`);
    if ((m.tree.at(-1)?.zxid ?? 0) !== lastZxid)
      this.violation(`leader ${m.sid} established at a zxid its tree lacks`);
    const history = new Map(m.tree.map((p) => [p.zxid, key(p)]));
    for (const p of this.committed) {
      if (epochOf(p.zxid) < epoch && history.get(p.zxid) !== key(p))
        this.violation(`leader ${m.sid} of epoch ${epoch} lacks committed txn ${hex(p.zxid)}`);
    }
    this.established.set(epoch, { sid: m.sid, history, length: m.tree.length });
    for (const p of m.tree) this.addCommitted(p, `leader ${m.sid} establishing epoch ${epoch}`);
    this.stats.established++;
    m.serving = true;
    this.checkPrefix(m, 'established leader');
    this.log(`leader ${m.sid} established epoch ${epoch} at ${hex(lastZxid)}`);
  }

  private onUpToDate(m: Member, epoch: number): void {
    const est = this.established.get(epoch);
    if (!est) this.violation(`learner ${m.sid} UPTODATE in epoch ${epoch}, which no leader established`);
    if (m.tree.length < est!.length)
      this.violation(
        `learner ${m.sid} UPTODATE with ${m.tree.length} txns, its leader's history has ${est!.length}`,
      );
    m.serving = true;
    this.checkPrefix(m, 'UPTODATE');
  }

  private holdsDurably(m: Member, p: Proposal): boolean {
    for (let i = m.history.length - 1; i >= 0; i--) {
      const h = m.history[i]!;
      if (h.zxid === p.zxid) return key(h) === key(p);
      if (h.zxid < p.zxid) return false;
    }
    return false;
  }

  private apply(m: Member, p: Proposal): void {
    const last = m.tree.at(-1)?.zxid ?? 0;
    if (p.zxid <= last) this.violation(`member ${m.sid} applies ${hex(p.zxid)} after ${hex(last)}`);
    const i = m.tree.length;
    const c = this.committed[i];
    if (!c || c.zxid !== p.zxid || key(c) !== key(p))
      this.violation(
        `member ${m.sid} applies ${hex(p.zxid)}, but committed txn #${i} is ${c ? hex(c.zxid) : 'none'}`,
      );
    if (!m.serving) this.checkPrefix(m, 'apply');
    m.tree.push(p);
    this.stats.applied++;
    if (isReconfigTxn(p.data)) {
      // member.ts apply: the reconfig txn's config is adopted as it is applied.
      m.treeConfigZxid = p.zxid;
      const v = this.configOf(p);
      if (v.version !== p.zxid)
        this.violation(`reconfig ${hex(p.zxid)} installs config version ${hex(v.version)}`);
      this.adopt(m, v, `reconfig ${hex(p.zxid)}`);
    }
  }

  private checkPrefix(m: Member, when: string): void {
    if (m.tree.length > this.committed.length)
      this.violation(
        `${when}: member ${m.sid} holds ${m.tree.length} txns, only ${this.committed.length} committed`,
      );
    for (let i = 0; i < m.tree.length; i++) {
      if (m.tree[i]!.zxid !== this.committed[i]!.zxid || key(m.tree[i]!) !== key(this.committed[i]!))
        this.violation(
          `${when}: member ${m.sid}'s txn #${i} ${hex(m.tree[i]!.zxid)} is not the committed one`,
        );
    }
  }

  private checkEveryStep(): void {
    for (const m of this.members.values()) {
      if (!m.alive || !m.serving) continue;
      const n = m.tree.length;
      if (n > this.committed.length) this.violation(`member ${m.sid} serves uncommitted txns`);
      if (n > 0 && m.tree[n - 1]!.zxid !== this.committed[n - 1]!.zxid)
        this.violation(`member ${m.sid} serves a tree that is not a prefix of the committed txns`);
      const role = m.config.config.members.get(m.sid)?.role;
      const serves = m.leader ? 'participant' : m.learner?.role === 'follower' ? 'participant' : 'observer';
      if (role !== serves)
        this.violation(
          `member ${m.sid} serves as ${m.leader ? 'leader' : m.learner?.role}, but config ${hex(m.config.version)} makes it ${role ?? 'no member'}`,
        );
      if (m.config.version !== m.treeConfigZxid)
        this.violation(
          `member ${m.sid} serves with config ${hex(m.config.version)} in force, but the last reconfig in its tree is ${hex(m.treeConfigZxid)}`,
        );
    }
  }
}
