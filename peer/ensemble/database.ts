// A member's database between roles: the tree, the sessions and the recent txns, and how they are
// brought back to what the disk holds when a role ends (logged-but-uncommitted proposals included,
// as ZooKeeper does: the next election must vote with the last *logged* zxid).

import { decodeTxnEntry, type Txn, type TxnEntry, type TxnHeader } from '../jute/txn.ts';
import type { RecentTxns } from '../persistence/recent-txns.ts';
import { recover } from '../persistence/recovery.ts';
import type { Snapshotter } from '../persistence/snapshotter.ts';
import type { TxnLog } from '../persistence/txnlog.ts';
import { readLogs } from '../persistence/txnlog-reader.ts';
import { OpCode } from '../protocol/constants.ts';
import { parseDynamicConfig, type QuorumConfig } from '../quorum/quorum-config.ts';
import type { Proposal } from '../quorum/zab-common.ts';
import { CONFIG_NODE } from '../server/reconfig.ts';
import type { DataTree } from '../tree/datatree.ts';

/** Recent txns kept for DIFF syncs when this member leads (the leader's committed log). */
export const COMMIT_LOG_COUNT = 500;

/** What survives from one role to the next: the data and the durable log. */
export interface Db {
  tree: DataTree;
  sessions: Map<bigint, number>;
  /** The durable log; its `recent` entries back DIFF syncs when this member leads. */
  txnLog: TxnLog;
  /**
   * /zookeeper/config as loaded from the snapshot and txn log: newer than the config in force when
   * the log holds a reconfig whose commit this member did not hear of (a leader activates it once
   * established).
   */
  loggedConfig: QuorumConfig | null;
  snapshotter: Snapshotter;
  /**
   * The tree is the disk's snapshot plus the txns logged up to its last zxid, so that the end of a
   * role can fast-forward it: false from a SNAP until its snapshot is written, and from a TRUNC
   * until the tree is read back from the shortened log.
   */
  treeOnDisk: boolean;
}

/**
 * The tree and sessions as the disk has them (snapshot plus every logged txn); `recent` (the txn
 * log's) is refilled with the txns logged since the snapshot, of which it keeps the last.
 */
export async function loadFromDisk(
  dataDir: string,
  dataLogDir: string,
  recent: RecentTxns,
): Promise<Pick<Db, 'tree' | 'sessions' | 'loggedConfig'>> {
  recent.clear();
  const r = await recover(dataDir, dataLogDir, { replayed: (zxid, bytes) => recent.add(zxid, bytes) });
  return { tree: r.tree, sessions: r.sessions, loggedConfig: configInTree(r.tree) };
}

/** The recent entries a DIFF can be served from: they must end where the tree does. */
export function committedLogOf(db: Pick<Db, 'tree' | 'txnLog'>): Proposal[] {
  const log = db.txnLog.recent.tail(COMMIT_LOG_COUNT);
  return log.length > 0 && log[log.length - 1]!.zxid === db.tree.lastProcessedZxid ? log : [];
}

/**
 * After a role: db as loadFromDisk would give it. Fast-forwarded when the tree is known to be the
 * disk's state up to its last zxid, else loaded again. Returns how, and how many txns were applied.
 */
export async function backToDisk(
  dataDir: string,
  dataLogDir: string,
  db: Db,
): Promise<{ how: 'fast-forwarded' | 'reloaded'; txns: number | null; fastForwardError?: string }> {
  // A fast-forward that fails (an entry it cannot decode or apply) may leave the tree half done;
  // the reload replaces it, and why the fast path failed goes to the caller to log.
  let fastForwardError: string | undefined;
  const txns = db.treeOnDisk
    ? await fastForward(dataLogDir, db).catch((e: unknown) => {
        fastForwardError = e instanceof Error ? e.message : String(e);
        return null;
      })
    : null;
  if (txns !== null) return { how: 'fast-forwarded', txns };
  Object.assign(db, await loadFromDisk(dataDir, dataLogDir, db.txnLog.recent), { treeOnDisk: true });
  return fastForwardError === undefined
    ? { how: 'reloaded', txns: null }
    : { how: 'reloaded', txns: null, fastForwardError };
}

/**
 * What loadFromDisk gives, from the tree in memory (ZooKeeper's fastForwardDataBase): the txns
 * logged above its last zxid are applied to it. Reading and replaying the whole log again took
 * 0.6-0.8 s after a leader failure with 5,000 sessions, all before this member could vote. Txns are
 * logged before they are applied, so the txns to apply are among the last entries, which the log
 * keeps in memory. Returns how many txns were applied, or null when the log does not hold
 * the tree's last txn (nothing logged since a snapshot was loaded, say): the tree is left as it was.
 */
export async function fastForward(dataLogDir: string, db: Db): Promise<number | null> {
  const from = db.tree.lastProcessedZxid;
  const recent = db.txnLog.recent;
  const entries: TxnEntry[] = [];
  const kept = recent.after(from);
  if (kept) for (const bytes of kept) entries.push(decodeTxnEntry(bytes));
  else {
    // Not among the entries the log keeps (cleared by a SNAP, say): from the files, which then
    // become the entries kept.
    const logs = readLogs(dataLogDir, from);
    const first = await logs.next();
    if (first.done || first.value.header.zxid !== from) {
      await logs.return(undefined);
      return null;
    }
    const read = [first.value];
    for await (const e of logs) read.push(e);
    recent.clear();
    for (const e of read) recent.add(e.header.zxid, e.bytes);
    entries.push(...read.slice(1));
  }
  for (const e of entries) applyToDb(db, e.header, e.txn);
  db.loggedConfig = configInTree(db.tree);
  return entries.length;
}

/** A committed txn applied to the tree and the session table, before a front end serves them. */
export function applyToDb(db: Pick<Db, 'tree' | 'sessions'>, header: TxnHeader, txn: Txn): void {
  db.tree.applyTxn(header, txn);
  if (header.type === OpCode.createSession && txn.type === OpCode.createSession)
    db.sessions.set(header.clientId, txn.timeOut);
  else if (header.type === OpCode.closeSession) db.sessions.delete(header.clientId);
}

export function configInTree(tree: DataTree): QuorumConfig | null {
  const node = tree.getNode(CONFIG_NODE);
  if (!node || node.data.length === 0) return null;
  try {
    return parseDynamicConfig(node.data.toString('utf8'));
  } catch {
    return null;
  }
}
