// A ZooKeeper client meant to run inside a network namespace (`ip netns exec NS node ns-client.ts`),
// so tests can reach servers listening on namespace addresses. It prints JSON, one line per request.
//
//   node ns-client.ts '<request json>'   one request, one reply line, exit
//   node ns-client.ts --serve            one request per stdin line, one reply line each (with its id)
//
// A request: {id?, host, port, timeoutMs?, sessionTimeoutMs?, conn?, ops: [...]} or
// {id?, host, port, timeoutMs?, fourLetter: 'srvr'}. Ops: create {path, data?, flags?}, set {path,
// data}, get {path}, children {path}, delete {path}, sync {path}, dump {path?} (the whole subtree:
// data and stat of every node), drop (forget the named connection). Without `conn` a session is
// opened for the request and closed after it; with `conn` the session is kept (and pinged) under that
// name for later requests. The reply: {id, ok, results, error?, code?, ms}; ok is false when the
// connection could not be made, was closed, or the request did not finish within timeoutMs.

import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type Result, ZkConnection } from '../../peer/client/connection.ts';
import type { Stat } from '../../peer/jute/records.ts';
import type { NetnsNetwork } from './netns.ts';
import { fourLetterWord } from './servers.ts';

export type NsOp =
  | { op: 'create'; path: string; data?: string; flags?: number }
  | { op: 'set'; path: string; data: string }
  | { op: 'get'; path: string }
  | { op: 'children'; path: string }
  | { op: 'delete'; path: string }
  | { op: 'sync'; path: string }
  | { op: 'dump'; path?: string }
  | { op: 'drop' };

export interface NsRequest {
  id?: number;
  host: string;
  port: number;
  timeoutMs?: number;
  sessionTimeoutMs?: number;
  conn?: string;
  /** Send readOnly=true in the ConnectRequest: a read-only server may take the session. */
  readOnly?: boolean;
  ops?: NsOp[];
  fourLetter?: string;
}

export interface DumpedNode {
  data: string | null;
  czxid: number;
  mzxid: number;
  pzxid: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: string;
  numChildren: number;
}

export interface NsOpResult {
  op: string;
  err: number;
  zxid?: number;
  path?: string;
  data?: string | null;
  children?: string[];
  nodes?: Record<string, DumpedNode>;
  text?: string;
}

export interface NsReply {
  id?: number;
  ok: boolean;
  results: NsOpResult[];
  error?: string;
  /** ECONNREFUSED, EHOSTUNREACH, ... , CLOSED, TIMEOUT or REFUSED (a handshake answered with timeOut 0). */
  code?: string;
  /** The ConnectResponse's readOnly flag, when a session was opened or used. */
  readOnly?: boolean;
  ms: number;
}

class RequestTimeout extends Error {
  code = 'TIMEOUT';
}

const kept = new Map<string, { conn: ZkConnection; pinger: NodeJS.Timeout }>();

function forget(name: string): void {
  const k = kept.get(name);
  if (!k) return;
  clearInterval(k.pinger);
  k.conn.destroy();
  kept.delete(name);
}

function statOf(s: Stat): Omit<DumpedNode, 'data'> {
  return {
    czxid: s.czxid,
    mzxid: s.mzxid,
    pzxid: s.pzxid,
    version: s.version,
    cversion: s.cversion,
    aversion: s.aversion,
    ephemeralOwner: s.ephemeralOwner.toString(),
    numChildren: s.numChildren,
  };
}

async function dump(c: ZkConnection, root: string): Promise<NsOpResult> {
  const nodes: Record<string, DumpedNode> = {};
  const visit = async (path: string): Promise<number> => {
    const [d, k] = await Promise.all([c.getData(path), c.getChildren(path)]);
    if (d.err !== 0) return d.err;
    if (k.err !== 0) return k.err;
    nodes[path] = { data: d.data ? d.data.toString('utf8') : null, ...statOf(d.stat!) };
    for (const child of [...(k.children ?? [])].sort()) {
      const err = await visit(path === '/' ? `/${child}` : `${path}/${child}`);
      if (err !== 0) return err;
    }
    return 0;
  };
  const err = await visit(root);
  return { op: 'dump', err, nodes };
}

async function runOp(c: ZkConnection, op: NsOp): Promise<NsOpResult> {
  const base = (r: Result): NsOpResult => ({ op: op.op, err: r.err, zxid: r.zxid });
  switch (op.op) {
    case 'create': {
      const r = await c.create(op.path, op.data ?? null, undefined, op.flags ?? 0);
      return { ...base(r), path: r.path };
    }
    case 'set':
      return base(await c.setData(op.path, op.data));
    case 'get': {
      const r = await c.getData(op.path);
      return { ...base(r), data: r.data ? r.data.toString('utf8') : null };
    }
    case 'children': {
      const r = await c.getChildren(op.path);
      return { ...base(r), children: r.children };
    }
    case 'delete':
      return base(await c.delete(op.path));
    case 'sync':
      return base(await c.sync(op.path));
    case 'dump':
      return dump(c, op.path ?? '/');
    case 'drop':
      return { op: 'drop', err: 0 };
  }
}

async function connect(req: NsRequest, deadline: number): Promise<ZkConnection> {
  const sessionTimeout = req.sessionTimeoutMs ?? 4000;
  const c = await ZkConnection.connect({
    host: req.host,
    port: req.port,
    timeOut: sessionTimeout,
    connectTimeoutMs: Math.max(1, deadline - Date.now()),
    readOnly: req.readOnly === true,
  });
  if (!c.session || c.session.timeOut <= 0) {
    c.destroy();
    throw Object.assign(new Error('session refused (timeOut 0)'), { code: 'REFUSED' });
  }
  return c;
}

export async function handle(req: NsRequest): Promise<NsReply> {
  const started = Date.now();
  const deadline = started + (req.timeoutMs ?? 5000);
  const results: NsOpResult[] = [];
  let conn: ZkConnection | null = null;
  let readOnly: boolean | undefined;
  let timer: NodeJS.Timeout | undefined;
  const work = async (): Promise<void> => {
    if (req.fourLetter) {
      const text = await fourLetterWord(
        req.host,
        req.port,
        req.fourLetter,
        Math.max(1, deadline - Date.now()),
      );
      results.push({ op: req.fourLetter, err: 0, text });
      return;
    }
    if (req.conn && req.ops?.some((o) => o.op === 'drop')) {
      forget(req.conn);
      results.push({ op: 'drop', err: 0 });
      return;
    }
    const k = req.conn ? kept.get(req.conn) : undefined;
    if (k && !k.conn.isClosed) conn = k.conn;
    else {
      if (req.conn) forget(req.conn);
      conn = await connect(req, deadline);
      if (req.conn) {
        const c: ZkConnection = conn;
        const every = Math.max(100, (c.session?.timeOut ?? 4000) / 3);
        kept.set(req.conn, { conn: c, pinger: setInterval(() => c.ping().catch(() => {}), every) });
      }
    }
    readOnly = (conn as ZkConnection).session?.readOnly;
    for (const op of req.ops ?? []) results.push(await runOp(conn, op));
    if (!req.conn) {
      // Close the session so it does not linger until it expires; bounded, best effort.
      const c: ZkConnection = conn;
      await Promise.race([c.closeSession().catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
    }
  };
  try {
    await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RequestTimeout('request timed out')), deadline - Date.now());
      }),
    ]);
    return {
      id: req.id,
      ok: true,
      results,
      ms: Date.now() - started,
      ...(readOnly === undefined ? {} : { readOnly }),
    };
  } catch (e) {
    const err = e as Error & { code?: string };
    if (req.conn) forget(req.conn);
    const code = err.code ?? (err.name === 'ConnectionClosedError' ? 'CLOSED' : 'ERROR');
    return {
      id: req.id,
      ok: false,
      results,
      error: err.message,
      code,
      ms: Date.now() - started,
      ...(readOnly === undefined ? {} : { readOnly }),
    };
  } finally {
    clearTimeout(timer);
    if (!req.conn) (conn as ZkConnection | null)?.destroy();
  }
}

/** A `--serve` client running in one namespace, driven from the test process. */
export interface NsAgent {
  host: string;
  pid: number;
  request(req: NsRequest): Promise<NsReply>;
  /** Ends the agent (stdin closed, then SIGKILL if it lingers) and waits for it to exit. */
  close(): Promise<void>;
}

export function startAgent(network: NetnsNetwork, host: string): NsAgent {
  const child: ChildProcess = network.spawn(host, [process.execPath, import.meta.filename, '--serve'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const waiting = new Map<number, (r: NsReply) => void>();
  let nextId = 1;
  let stderr = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let reply: NsReply;
    try {
      reply = JSON.parse(line) as NsReply;
    } catch {
      return;
    }
    const w = reply.id === undefined ? undefined : waiting.get(reply.id);
    if (w) {
      waiting.delete(reply.id!);
      w(reply);
    }
  });
  void exited.then(() => {
    for (const [id, w] of waiting) {
      waiting.delete(id);
      w({ id, ok: false, results: [], error: `agent exited: ${stderr.trim()}`, code: 'AGENT', ms: 0 });
    }
  });
  return {
    host,
    pid: child.pid!,
    request(req) {
      const id = nextId++;
      const limit = (req.timeoutMs ?? 5000) + 3000;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve({ id, ok: false, results: [], error: 'agent did not answer', code: 'AGENT', ms: limit });
        }, limit);
        waiting.set(id, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        child.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    },
  };
}

function isMain(): boolean {
  return process.argv[1] !== undefined && import.meta.filename === process.argv[1];
}

if (isMain()) {
  if (process.argv[2] === '--serve') {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (!line.trim()) return;
      let req: NsRequest;
      try {
        req = JSON.parse(line) as NsRequest;
      } catch (e) {
        process.stdout.write(
          `${JSON.stringify({ ok: false, results: [], error: String(e), code: 'BADREQ', ms: 0 })}\n`,
        );
        return;
      }
      void handle(req).then((reply) => process.stdout.write(`${JSON.stringify(reply)}\n`));
    });
    rl.on('close', () => {
      for (const name of [...kept.keys()]) forget(name);
      process.exit(0);
    });
  } else {
    const reply = await handle(JSON.parse(process.argv[2] ?? '{}') as NsRequest);
    process.stdout.write(`${JSON.stringify(reply)}\n`);
    process.exit(0);
  }
}
