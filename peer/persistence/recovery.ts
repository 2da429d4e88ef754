// Startup recovery (FileTxnSnapLog.restore): load the newest valid snapshot, replay the txn logs
// from its zxid + 1 (fuzzy-snapshot tolerant), keep the session table in step with
// createSession/closeSession txns, check tree digests like ZooKeeper, and clean up after a crash:
// a torn tail is cut off so nothing can misread it later, and empty headerless log files go.

import { readdir, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Txn } from '../jute/txn.ts';
import { DIGEST_VERSION } from '../jute/txn.ts';
import { OpCode } from '../protocol/constants.ts';
import { DataTree } from '../tree/datatree.ts';
import { ensureDir, fsyncDir, versionDir } from './files.ts';
import {
  findValidSnapshots,
  type LoadedSnapshot,
  readSnapshot,
  TMP_PREFIX,
  writeSnapshot,
  type ZxidDigest,
} from './snapshot.ts';
import { decodeRecord, LogFileReader, lastLoggedZxid, logFilesFor } from './txnlog-reader.ts';

export interface RecoverOptions {
  /** Start from logs alone when there is no snapshot (zookeeper.snapshot.trust.empty). */
  trustEmptySnapshot?: boolean;
  /** On an empty data dir, write snapshot.0 as ZooKeeper does (default true). */
  initialSnapshot?: boolean;
  /** Data of /zookeeper/config in a brand-new tree. */
  config?: Buffer;
  log?: (level: 'info' | 'warn', msg: string) => void;
  /** Hears every txn replayed, as logged (its record's bytes), in log order. */
  replayed?: (zxid: number, bytes: Buffer) => void;
}

export interface Recovered {
  tree: DataTree;
  sessions: Map<bigint, number>;
  /** Highest zxid in the snapshot or the logs. */
  lastZxid: number;
  snapshotZxid: number;
  snapshotFile: string | null;
  txnsReplayed: number;
  /** Digest checks that failed (logged; not fatal, as in ZooKeeper). */
  digestMismatches: number;
  /** Log files cut back to their valid end, or removed. */
  repaired: string[];
  /** <dataDir>/version-2 and <dataLogDir>/version-2: where to write snapshots and logs. */
  snapDir: string;
  logDir: string;
}

const MAX_SNAPSHOTS_TRIED = 100;

export async function recover(
  dataDir: string,
  dataLogDir = dataDir,
  opts: RecoverOptions = {},
): Promise<Recovered> {
  const log = opts.log ?? (() => {});
  const snapDir = versionDir(dataDir);
  const logDir = versionDir(dataLogDir);
  await ensureDir(snapDir);
  await ensureDir(logDir);
  await removeStaleTemps(snapDir);

  let loaded: LoadedSnapshot | null = null;
  for (const f of await findValidSnapshots(snapDir, MAX_SNAPSHOTS_TRIED)) {
    try {
      loaded = await readSnapshot(f.path);
      break;
    } catch (e) {
      log('warn', `skipping snapshot: ${(e as Error).message}`);
    }
  }

  let tree: DataTree;
  let sessions: Map<bigint, number>;
  let snapshotZxid = 0;
  let digestMismatches = 0;
  let pendingDigest: ZxidDigest | null = null;
  const danglingAcl = loaded?.danglingAcl ?? new Map<string, number>();
  if (loaded) {
    ({ tree, sessions } = loaded);
    tree.setupQuotas();
    snapshotZxid = loaded.zxid;
    log('info', `loaded snapshot ${loaded.file}: ${tree.nodeCount} nodes, ${sessions.size} sessions`);
    if (loaded.digestMatches === false) {
      digestMismatches++;
      log('warn', `tree digest of ${loaded.file} does not match its digest section`);
    } else if (loaded.digestMatches === null && loaded.digest && loaded.digest.zxid > snapshotZxid) {
      pendingDigest = loaded.digest;
    }
  } else {
    const last = await lastLoggedZxid(logDir);
    if (last !== -1 && !opts.trustEmptySnapshot) {
      throw new Error(
        `no valid snapshot in ${snapDir}, but there are log entries up to 0x${last.toString(16)}`,
      );
    }
    tree = new DataTree(opts.config ? { config: opts.config } : {});
    sessions = new Map();
    if (last === -1 && (opts.initialSnapshot ?? true)) await writeSnapshot(snapDir, tree, sessions, 0);
  }

  const from = snapshotZxid + 1;
  let highest = snapshotZxid;
  let replayed = 0;
  const repaired: string[] = [];
  for (const file of await logFilesFor(logDir, from)) {
    const reader = new LogFileReader(file.path);
    for await (const rec of reader.records()) {
      const { header, txn, digest } = decodeRecord(file.path, rec);
      if (header.zxid < from) continue;
      if (header.zxid < highest) {
        log('warn', `txn 0x${header.zxid.toString(16)} in ${file.path} is below 0x${highest.toString(16)}`);
      } else {
        highest = header.zxid;
      }
      if (header.type === OpCode.createSession && txn.type === OpCode.createSession) {
        sessions.set(header.clientId, txn.timeOut);
      } else if (header.type === OpCode.closeSession) {
        sessions.delete(header.clientId);
      }
      tree.applyTxn(header, txn);
      if (danglingAcl.size > 0) repairAcl(tree, danglingAcl, txn);
      replayed++;
      opts.replayed?.(header.zxid, rec.bytes);
      // Digest checks as DataTree.compareSnapshotDigests / compareDigest do them.
      if (pendingDigest) {
        if (header.zxid === pendingDigest.zxid) {
          if (pendingDigest.version === DIGEST_VERSION && tree.digest() !== pendingDigest.digest) {
            digestMismatches++;
            log(
              'warn',
              `tree digest after 0x${header.zxid.toString(16)} does not match the snapshot's digest`,
            );
          }
          pendingDigest = null;
        }
      } else if (digest && digest.version === DIGEST_VERSION && tree.digest() !== digest.treeDigest) {
        if (digestMismatches === 0) {
          log(
            'warn',
            `tree digest after txn 0x${header.zxid.toString(16)} (type ${header.type}) does not match the log`,
          );
        }
        digestMismatches++;
      }
    }
    const end = reader.end!;
    if (end.reason === 'header') {
      await unlink(file.path);
      repaired.push(file.path);
      log('warn', `removed ${file.path}: no file header (crash right after creating it)`);
    } else if (await reader.hasGarbageAfterEnd()) {
      await truncate(file.path, end.validEnd);
      repaired.push(file.path);
      log('warn', `cut ${file.path} back to ${end.validEnd} bytes (torn write: ${end.reason})`);
    }
  }
  if (repaired.length > 0) await fsyncDir(logDir);
  if (pendingDigest) {
    log(
      'warn',
      `logs end at 0x${highest.toString(16)}, before the snapshot digest's 0x${pendingDigest.zxid.toString(16)}`,
    );
  }
  if (danglingAcl.size > 0) {
    log(
      'warn',
      `${danglingAcl.size} nodes still lack their ACL after replay: ${[...danglingAcl.keys()].slice(0, 5).join(', ')}`,
    );
  }
  tree.lastProcessedZxid = highest;
  // A fuzzy snapshot can have counted some replayed txns already: count quotas afresh.
  if (replayed > 0) tree.setupQuotas();
  return {
    tree,
    sessions,
    lastZxid: highest,
    snapshotZxid,
    snapshotFile: loaded?.file ?? null,
    txnsReplayed: replayed,
    digestMismatches,
    repaired,
    snapDir,
    logDir,
  };
}

/** Gives nodes loaded with UNKNOWN_ACL the ACL from the replayed txn that created them. */
function repairAcl(tree: DataTree, dangling: Map<string, number>, txn: Txn): void {
  if (txn.type === OpCode.multi) {
    for (const sub of txn.txns) repairAcl(tree, dangling, sub);
    return;
  }
  if (!('path' in txn)) return;
  const index = dangling.get(txn.path);
  if (index === undefined) return;
  if ('acl' in txn) {
    tree.repairAcl(txn.path, index, txn.acl);
    dangling.delete(txn.path);
  } else if (txn.type === OpCode.delete || txn.type === OpCode.deleteContainer) {
    dangling.delete(txn.path);
  }
}

async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.startsWith(`${TMP_PREFIX}snapshot.`)) await unlink(join(dir, name)).catch(() => {});
  }
}
