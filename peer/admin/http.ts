// The HTTP admin server: ZooKeeper's AdminServer commands as JSON under admin.commandURL, Prometheus
// metrics on /metrics, and /healthz (the process answers) and /readyz (serving and synced; 503
// otherwise) for Kubernetes probes. Like ZooKeeper, a port that cannot be bound is logged and the
// server carries on without it.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { log } from '../log.ts';
import type { PeerMetrics } from '../metrics/registry.ts';
import { COMMANDS, type CommandContext, runCommand } from './commands.ts';
import type { AdminSettings } from './settings.ts';
import { isReady } from './status.ts';

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** JSON with bigint values written as plain numbers (ZooKeeper's longs: session ids, zxids). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? rawJSON(v.toString()) : v), 2);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function adminApp(ctx: CommandContext, metrics: PeerMetrics, commandURL: string): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const ready = isReady(ctx.status);
    res
      .status(ready ? 200 : 503)
      .type('text/plain')
      .send(`${ready ? 'ready' : 'not ready'}: ${ctx.status.role()}\n`);
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      const text = await metrics.render();
      res.type(metrics.contentType).send(text);
    } catch (e) {
      next(e);
    }
  });
  // The list, as ZooKeeper's AdminServer gives it: one link per command.
  app.get(commandURL, (_req, res) => {
    const links = [...COMMANDS]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((c) => `<a href="${escapeHtml(`${commandURL}/${c.name}`)}">${escapeHtml(c.name)}</a>\n<br/>\n`);
    res.type('text/html').send(links.join(''));
  });
  app.get(`${commandURL}/:name`, (req, res, next) => {
    try {
      const result = runCommand(req.params.name, ctx);
      res.type('application/json').send(toJson(result));
    } catch (e) {
      next(e);
    }
  });
  app.use((err: Error, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    log.warn({ err: err.message, path: req.path }, 'admin request failed');
    res
      .status(500)
      .type('application/json')
      .send(toJson({ error: err.message }));
  });
  return app;
}

/** Listens where configured; null (after logging why) when disabled or the address cannot be bound. */
export async function listenAdmin(app: express.Express, settings: AdminSettings): Promise<Server | null> {
  if (!settings.enabled) return null;
  const server = app.listen(settings.port, settings.address);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (e) {
    log.error(
      { err: (e as Error).message, address: settings.address, port: settings.port },
      'admin server could not start; serving without it',
    );
    server.close();
    return null;
  }
  // Keep-alive sockets of scrapers must not hold the process open at shutdown.
  server.keepAliveTimeout = 5_000;
  const addr = server.address() as AddressInfo;
  log.info(
    { address: addr.address, port: addr.port, commandURL: settings.commandURL },
    'admin server listening',
  );
  return server;
}

export async function closeAdmin(server: Server | null): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}
