// Runs one peer from a parsed zoo.cfg: recovers the data dir, opens the txn log, serves clients,
// takes snapshots in the background and purges old files. Standalone for now.

import type { ZooConfig } from './config/zoocfg.ts';
import { log } from './log.ts';
import { startAutopurge } from './persistence/purge.ts';
import { recover } from './persistence/recovery.ts';
import { writeSnapshot } from './persistence/snapshot.ts';
import { SnapshotPolicy } from './persistence/snapshot-policy.ts';
import { TxnLog } from './persistence/txnlog.ts';
import { LocalWritePath } from './server/write-path.ts';
import { ZkServer } from './server/zkserver.ts';

export interface RunningPeer {
  server: ZkServer;
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startPeer(cfg: ZooConfig): Promise<RunningPeer> {
  const started = Date.now();
  const { tree, sessions, lastZxid } = await recover(cfg.dataDir, cfg.dataLogDir);
  log.info(
    {
      zxid: `0x${lastZxid.toString(16)}`,
      nodes: tree.nodeCount,
      sessions: sessions.size,
      ms: Date.now() - started,
    },
    'data directory recovered',
  );
  const txnLog = await TxnLog.open(cfg.dataLogDir, {
    forceSync: cfg.forceSync,
    preAllocSize: cfg.preAllocSizeKb * 1024,
  });
  const settings = {
    serverId: 0,
    tickTime: cfg.tickTime,
    minSessionTimeout: cfg.minSessionTimeout,
    maxSessionTimeout: cfg.maxSessionTimeout,
    maxClientCnxns: cfg.maxClientCnxns,
    maxBuffer: cfg.juteMaxBuffer,
    extendedTypes: cfg.extendedTypesEnabled,
    auth: { superDigest: cfg.superDigest, skipACL: cfg.skipACL },
    fourLetterWords: cfg.fourLetterWords,
    sessionlessCnxnTimeoutMs: cfg.sessionlessCnxnTimeoutMs,
    containerCheckIntervalMs: cfg.containerCheckIntervalMs,
    containerMaxPerMinute: cfg.containerMaxPerMinute,
    containerMaxNeverUsedIntervalMs: cfg.containerMaxNeverUsedIntervalMs,
    describe: () => ({
      clientPort: cfg.clientPort,
      secureClientPort: -1,
      dataDir: `${cfg.dataDir}/version-2`,
      dataDirSize: 0,
      dataLogDir: `${cfg.dataLogDir}/version-2`,
      dataLogSize: 0,
      tickTime: cfg.tickTime,
      maxClientCnxns: cfg.maxClientCnxns,
      minSessionTimeout: cfg.minSessionTimeout,
      maxSessionTimeout: cfg.maxSessionTimeout,
      clientPortListenBacklog: -1,
      serverId: 0,
    }),
  };
  const server = new ZkServer(
    tree,
    sessions,
    settings,
    (s) => new LocalWritePath(s.view, s.sessions, txnLog, settings, s, tree.lastProcessedZxid),
  );

  // Snapshots: after a randomized number of txns or log bytes, roll the log and write a fuzzy
  // snapshot in the background; one at a time.
  const policy = new SnapshotPolicy(cfg.snapCount, cfg.snapSizeLimitInKb);
  let txnsSinceRoll = 0;
  let snapshotting = false;
  server.onApplied = () => {
    txnsSinceRoll++;
    if (snapshotting || !policy.shouldSnapshot(txnsSinceRoll, txnLog.bytesSinceRoll)) return;
    policy.reset();
    txnsSinceRoll = 0;
    snapshotting = true;
    txnLog.roll();
    const zxid = tree.lastProcessedZxid;
    const t0 = Date.now();
    writeSnapshot(cfg.dataDir, tree, server.sessions.snapshot(), zxid)
      .then((file) => log.info({ file, ms: Date.now() - t0 }, 'snapshot written'))
      .catch((err) => log.error({ err }, 'snapshot failed'))
      .finally(() => {
        snapshotting = false;
      });
  };

  const stopPurge = startAutopurge({
    dataDir: cfg.dataDir,
    dataLogDir: cfg.dataLogDir,
    snapRetainCount: cfg.autopurgeSnapRetainCount,
    purgeIntervalHours: cfg.autopurgePurgeIntervalHours,
    onPurged: (files) => files.length > 0 && log.info({ files: files.length }, 'autopurge removed old files'),
    onError: (err) => log.error({ err }, 'autopurge failed'),
  });

  const addr = await server.listen(cfg.clientPortAddress, cfg.clientPort);
  log.info({ host: addr.address, port: addr.port, mode: 'standalone' }, 'serving clients');
  return {
    server,
    host: addr.address,
    port: addr.port,
    async stop() {
      stopPurge();
      await server.close();
      await txnLog.close();
    },
  };
}
