// ZkServer settings from a parsed zoo.cfg.

import type { ZooConfig } from './config/zoocfg.ts';
import type { ServerMode, ServerSettings } from './server/zkserver.ts';

export function serverSettings(cfg: ZooConfig, serverId: number, mode: ServerMode): ServerSettings {
  return {
    serverId,
    mode,
    tickTime: cfg.tickTime,
    minSessionTimeout: cfg.minSessionTimeout,
    maxSessionTimeout: cfg.maxSessionTimeout,
    maxClientCnxns: cfg.maxClientCnxns,
    maxBuffer: cfg.juteMaxBuffer,
    extendedTypes: cfg.extendedTypesEnabled,
    auth: { superDigest: cfg.superDigest, skipACL: cfg.skipACL },
    sessionlessCnxnTimeoutMs: cfg.sessionlessCnxnTimeoutMs,
    containerCheckIntervalMs: cfg.containerCheckIntervalMs,
    containerMaxPerMinute: cfg.containerMaxPerMinute,
    containerMaxNeverUsedIntervalMs: cfg.containerMaxNeverUsedIntervalMs,
  };
}
