// One server's observability, wired together: the admin commands over its live status, the
// four-letter words, the Prometheus registry and the HTTP admin server. Started once per process,
// before the server's first role, and kept across roles.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ZooConfig } from '../config/zoocfg.ts';
import { PeerMetrics } from '../metrics/registry.ts';
import type { CommandContext } from './commands.ts';
import { answerFourLetterWord } from './four-letter.ts';
import { adminApp, closeAdmin, listenAdmin } from './http.ts';
import { observabilitySettings } from './settings.ts';
import type { RoleStatus } from './status.ts';

export interface Observability {
  readonly context: CommandContext;
  readonly metrics: PeerMetrics;
  /** Base URL of the admin server, or null when it is disabled or could not bind. */
  readonly adminUrl: string | null;
  /** The reply to a four-letter word on the client port. */
  fourLetterWord(word: string): string;
  stop(): Promise<void>;
}

export async function startObservability(
  cfg: ZooConfig,
  status: RoleStatus,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Observability> {
  const settings = observabilitySettings(cfg.raw, env);
  const context: CommandContext = { status, cfg };
  const metrics = new PeerMetrics(status, settings.labels, { processMetrics: true });
  const server: Server | null = await listenAdmin(
    adminApp(context, metrics, settings.admin.commandURL),
    settings.admin,
  );
  const addr = server?.address() as AddressInfo | undefined;
  const host = addr && (addr.family === 'IPv6' ? `[${addr.address}]` : addr.address);
  return {
    context,
    metrics,
    adminUrl: addr ? `http://${host}:${addr.port}` : null,
    fourLetterWord: (word) => answerFourLetterWord(word, context),
    stop: () => closeAdmin(server),
  };
}
