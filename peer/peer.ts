// Runs a standalone peer from a parsed zoo.cfg: recovers the data dir, opens the txn log, serves
// clients, takes snapshots in the background and purges old files. Ensemble members run from
// peer/ensemble/member.ts instead.

import { startObservability } from './admin/observability.ts';
import { MemberStats, standaloneStatus } from './admin/status.ts';
import type { ZooConfig } from './config/zoocfg.ts';
import { log } from './log.ts';
import { startAutopurge } from './persistence/purge.ts';
import { recover } from './persistence/recovery.ts';
import { Snapshotter } from './persistence/snapshotter.ts';
import { TxnLog } from './persistence/txnlog.ts';
import { LocalWritePath } from './server/write-path.ts';
import { ZkServer } from './server/zkserver.ts';
import { serverSettings } from './server-settings.ts';

export interface RunningPeer {
  server: ZkServer;
  host: string;
  port: number;
  /** Base URL of the admin server, or null when it is disabled or could not bind. */
  adminUrl: string | null;
  stop(): Promise<void>;
}

export async function startPeer(cfg: ZooConfig): Promise<RunningPeer> {
  const started = Date.now();
  const { tree, sessions, lastZxid } = await recover(cfg.dataDir, cfg.dataLogDir);
  const stats = new MemberStats();
  stats.dbInitTime.record(Date.now() - started);
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
  const settings = serverSettings(cfg, 0, 'standalone');
  const server = new ZkServer(
    tree,
    sessions,
    settings,
    (s) => new LocalWritePath(s.view, s.sessions, txnLog, settings, s, tree.lastProcessedZxid),
  );

  let listening = false;
  const obs = await startObservability(
    cfg,
    standaloneStatus(() => (listening ? server : null), stats),
  );
  server.fourLetterWord = obs.fourLetterWord;

  const snapshotter = new Snapshotter(cfg, txnLog);
  server.onApplied = () => snapshotter.applied(tree, () => server.sessions.snapshot());

  const stopPurge = startAutopurge({
    dataDir: cfg.dataDir,
    dataLogDir: cfg.dataLogDir,
    snapRetainCount: cfg.autopurgeSnapRetainCount,
    purgeIntervalHours: cfg.autopurgePurgeIntervalHours,
    onPurged: (files) => files.length > 0 && log.info({ files: files.length }, 'autopurge removed old files'),
    onError: (err) => log.error({ err }, 'autopurge failed'),
  });

  const addr = await server.listen(cfg.clientPortAddress, cfg.clientPort);
  listening = true;
  log.info({ host: addr.address, port: addr.port, mode: 'standalone' }, 'serving clients');
  return {
    server,
    host: addr.address,
    port: addr.port,
    adminUrl: obs.adminUrl,
    async stop() {
      stopPurge();
      await server.close();
      await txnLog.close();
      await obs.stop();
    },
  };
}
