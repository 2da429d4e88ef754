// Autopurge (PurgeTxnLog, DatadirCleanupManager): keep the N newest valid snapshots and the log
// files needed to replay from the oldest of them; delete older snapshots and logs.

import { unlink } from 'node:fs/promises';
import { LOG_PREFIX, listDataFiles, logFilesFrom, SNAPSHOT_PREFIX, versionDir } from './files.ts';
import { findValidSnapshots } from './snapshot.ts';

/** autopurge.snapRetainCount minimum. */
export const MIN_SNAP_RETAIN_COUNT = 3;

/**
 * Deletes what `retain` snapshots no longer need, in <dataDir>/version-2 and <dataLogDir>/version-2.
 * Returns the deleted paths.
 */
export async function purge(dataDir: string, dataLogDir: string, retain: number): Promise<string[]> {
  if (retain < MIN_SNAP_RETAIN_COUNT)
    throw new RangeError(`snapRetainCount must be >= ${MIN_SNAP_RETAIN_COUNT}`);
  const snapDir = versionDir(dataDir);
  const logDir = versionDir(dataLogDir);
  const kept = await findValidSnapshots(snapDir, retain);
  if (kept.length === 0) return [];
  const least = kept[kept.length - 1]!.zxid;
  const logs = await listDataFiles(logDir, LOG_PREFIX);
  const neededLogs = new Set(logFilesFrom(logs, least).map((f) => f.path));
  const doomed = [
    ...logs.filter((f) => f.zxid < least && !neededLogs.has(f.path)),
    ...(await listDataFiles(snapDir, SNAPSHOT_PREFIX)).filter((f) => f.zxid < least),
  ];
  const deleted: string[] = [];
  for (const f of doomed) {
    try {
      await unlink(f.path);
      deleted.push(f.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return deleted;
}

export interface AutopurgeOptions {
  dataDir: string;
  dataLogDir?: string;
  /** autopurge.snapRetainCount (default 3; lower values become 3, as in ZooKeeper). */
  snapRetainCount?: number;
  /** autopurge.purgeInterval in hours; <= 0 disables autopurge (the default). */
  purgeIntervalHours?: number;
  onPurged?: (deleted: string[]) => void;
  onError?: (e: unknown) => void;
}

/** Runs purge now and then every purgeInterval hours. Returns a stop function (a no-op if disabled). */
export function startAutopurge(opts: AutopurgeOptions): () => void {
  const hours = opts.purgeIntervalHours ?? 0;
  if (!(hours > 0)) return () => {};
  const retain = Math.max(MIN_SNAP_RETAIN_COUNT, opts.snapRetainCount ?? MIN_SNAP_RETAIN_COUNT);
  let running = false;
  const run = (): void => {
    if (running) return;
    running = true;
    purge(opts.dataDir, opts.dataLogDir ?? opts.dataDir, retain)
      .then(
        (d) => opts.onPurged?.(d),
        (e: unknown) => opts.onError?.(e),
      )
      .finally(() => {
        running = false;
      });
  };
  // Timers cap at 2^31-1 ms (about 24.8 days).
  const timer = setInterval(run, Math.min(hours * 3_600_000, 0x7fffffff));
  timer.unref();
  const first = setTimeout(run, 0);
  first.unref();
  return () => {
    clearInterval(timer);
    clearTimeout(first);
  };
}
