// Observability settings from zoo.cfg and the environment: ZooKeeper's AdminServer keys
// (`admin.enableServer`, `admin.serverAddress`, `admin.serverPort`, `admin.commandURL`; enabled on
// 0.0.0.0:8080 by default, as in ZooKeeper), the `region` and `ensemble` metric labels
// (`zkensemble.region`, `zkensemble.ensemble`; env ZKE_REGION and ZKE_ENSEMBLE win, as Kubernetes
// pods set them) and the log level (`zkensemble.logLevel`; env LOG_LEVEL wins).

import { ConfigError, rawSetting } from '../config/zoocfg.ts';

export interface AdminSettings {
  enabled: boolean;
  address: string;
  port: number;
  commandURL: string;
}

export interface ObservabilitySettings {
  admin: AdminSettings;
  labels: { region: string; ensemble: string };
  /** null: leave the level as the process started with. */
  logLevel: string | null;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function observabilitySettings(
  raw: ReadonlyMap<string, string>,
  env: Readonly<Record<string, string | undefined>>,
): ObservabilitySettings {
  const enable = (rawSetting(raw, 'admin.enableServer') ?? 'true').toLowerCase();
  if (enable !== 'true' && enable !== 'false')
    throw new ConfigError(`admin.enableServer=${enable} is not a boolean (true/false)`);
  const portText = rawSetting(raw, 'admin.serverPort') ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535)
    throw new ConfigError(`admin.serverPort=${portText} is not a port number`);
  let commandURL = rawSetting(raw, 'admin.commandURL') ?? '/commands';
  if (!commandURL.startsWith('/')) commandURL = `/${commandURL}`;
  commandURL = commandURL.replace(/\/+$/, '') || '/commands';
  const level = env.LOG_LEVEL || rawSetting(raw, 'zkensemble.logLevel') || null;
  if (level !== null && !(LOG_LEVELS as readonly string[]).includes(level))
    throw new ConfigError(`log level ${level} is not one of ${LOG_LEVELS.join(', ')}`);
  return {
    admin: {
      enabled: enable === 'true',
      address: rawSetting(raw, 'admin.serverAddress') ?? '0.0.0.0',
      port,
      commandURL,
    },
    labels: {
      region: env.ZKE_REGION || rawSetting(raw, 'zkensemble.region') || 'default',
      ensemble: env.ZKE_ENSEMBLE || rawSetting(raw, 'zkensemble.ensemble') || 'default',
    },
    logLevel: level,
  };
}
