// One scripted client session against a fresh server, written down as a transcript of lines that
// must be identical whether the server is Apache ZooKeeper or the peer. Only what is inherently
// non-deterministic is normalized: session ids (named S1, S2... in order of appearance), passwords,
// ctime/mtime, and the zxid of watch notifications (ZooKeeper 3.8 sends -1, 3.9 the txn zxid).
// Child lists and getEphemerals lists are sorted (their order is unspecified).
//
// Every step is awaited before the next, so reply-header zxids are deterministic. After each step
// every open connection is flushed with a ping: ZooKeeper queues a watch notification on the
// watcher's connection before the write that caused it is answered, so a ping sent afterwards on
// the watcher's connection is answered after the notification, and the transcript records the events
// of each step right below it without waiting on timers.

import {
  type ACL,
  ConnectionClosedError,
  type ConnectOptions,
  decodeReply,
  OPEN_ACL_UNSAFE,
  type OpResult,
  READ_ACL_UNSAFE,
  type Request,
  type Result,
  type Stat,
  ZkConnection,
} from '../../peer/client/connection.ts';
import { JuteWriter } from '../../peer/jute/archive.ts';
import { writeRequest } from '../../peer/jute/records.ts';
import { errorName, OpCode } from '../../peer/protocol/constants.ts';
import { digestId } from '../../peer/server/auth.ts';

const EVENT_NAMES: Record<number, string> = {
  [-1]: 'None',
  1: 'NodeCreated',
  2: 'NodeDeleted',
  3: 'NodeDataChanged',
  4: 'NodeChildrenChanged',
};

const ACL_SHORT = new Map<string, ACL[]>([
  ['OPEN', OPEN_ACL_UNSAFE],
  ['READ', READ_ACL_UNSAFE],
]);

type ResultMethod = {
  [K in keyof ZkConnection]: ZkConnection[K] extends (...a: never[]) => Promise<Result> ? K : never;
}[keyof ZkConnection];

interface Conn {
  name: string;
  c: ZkConnection;
  /** Closure already written to the transcript. */
  closedReported: boolean;
  /** Not flushed with pings: a close is expected and checked explicitly. */
  expectClose: boolean;
}

export class Transcript {
  readonly lines: string[] = [];
  private readonly sessions = new Map<bigint, string>();
  private readonly conns = new Map<string, Conn>();
  private step = 0;
  /** Sort the events each connection received in a step (for closeSession: ephemerals go in any order). */
  sortEvents = false;

  readonly host: string;
  readonly port: number;

  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  /** Set while steps run whose outcome differs between ZooKeeper versions (see `known`). */
  private divergence: string | undefined;
  /** When set, zxids are written relative to it (`base+N`), so one divergence cannot shift the rest. */
  zxidBase: number | undefined;

  line(s: string): void {
    this.lines.push(this.divergence === undefined ? s : `~ ${s}  [${this.divergence}]`);
  }

  /**
   * Runs steps whose outcome is known to differ between ZooKeeper releases (3.8.0, which the tests
   * run, and 3.9, which the peer follows). Their lines start with `~` and are compared separately.
   */
  async known(reason: string, steps: () => Promise<unknown>): Promise<void> {
    this.divergence = reason;
    try {
      await steps();
    } finally {
      this.divergence = undefined;
    }
  }

  /** Makes zxids relative to connection `name`'s current zxid (taken with a ping). */
  async rebase(name: string): Promise<void> {
    const r = await this.conn(name)
      .ping()
      .catch(() => undefined);
    this.zxidBase = r?.zxid;
  }

  private zxid(z: number): string {
    if (this.zxidBase === undefined || z <= 0) return String(z);
    const d = z - this.zxidBase;
    return d === 0 ? 'base' : `base${d > 0 ? '+' : ''}${d}`;
  }

  section(title: string): void {
    this.line(`## ${title}`);
  }

  session(id: bigint): string {
    if (id === 0n) return '0';
    let n = this.sessions.get(id);
    if (!n) {
      n = `S${this.sessions.size + 1}`;
      this.sessions.set(id, n);
    }
    return n;
  }

  conn(name: string): ZkConnection {
    const c = this.conns.get(name);
    if (!c) throw new Error(`no connection ${name}`);
    return c.c;
  }

  /** Connects (handshake included) and records the ConnectResponse. */
  async connect(
    name: string,
    what: string,
    opts: Partial<ConnectOptions> = {},
  ): Promise<ZkConnection | undefined> {
    const label = `${this.prefix()} ${name} connect ${what}`;
    try {
      const c = await ZkConnection.connect({ host: this.host, port: this.port, ...opts });
      const s = c.session!;
      const refused = s.timeOut === 0;
      this.conns.set(name, { name, c, closedReported: false, expectClose: refused });
      const pw = s.passwd.every((b) => b === 0) ? `zero${s.passwd.length}` : `${s.passwd.length}B`;
      const ro = s.readOnly === undefined ? 'absent' : String(s.readOnly);
      this.line(
        `${label} -> protocolVersion=${s.protocolVersion} timeOut=${s.timeOut} session=${this.session(s.sessionId)} passwd=${pw} readOnly=${ro}`,
      );
      if (refused) await this.expectClosed(name);
      await this.flush();
      return c;
    } catch (e) {
      this.line(`${label} -> ${describeError(e)}`);
      await this.flush();
      return undefined;
    }
  }

  /** Calls a typed helper of connection `name` and records the request and the normalized result. */
  async call<K extends ResultMethod>(
    name: string,
    method: K,
    ...args: Parameters<Extract<ZkConnection[K], (...a: never[]) => unknown>>
  ): Promise<Result | undefined> {
    const c = this.conn(name);
    const label = `${this.prefix()} ${name} ${method}${args.map((a) => ` ${this.arg(a)}`).join('')}`;
    let res: Result | undefined;
    let out: string;
    try {
      res = await (c[method] as (...a: unknown[]) => Promise<Result>)(...args);
      out = this.result(res);
    } catch (e) {
      out = describeError(e);
    }
    this.line(`${label} -> ${out}`);
    await this.flush(this.sortEvents);
    return res;
  }

  /** Sends a request with an arbitrary opcode and body bytes; records the raw reply header. */
  async raw(name: string, what: string, type: number, body: Uint8Array | Request | null): Promise<void> {
    const c = this.conn(name);
    const label = `${this.prefix()} ${name} raw ${what} (opcode ${type})`;
    try {
      const r = await c.request(type, body);
      let out = `err=${errorName(r.header.err)} zxid=${this.zxid(r.header.zxid)} body=${r.body.toString('hex') || '-'}`;
      if (r.header.err === 0 && r.body.length > 0) {
        // Decoded, so that ctime/mtime stay out of the transcript; raw hex if it does not decode.
        try {
          out = this.result(decodeReply(type, r));
        } catch {}
      }
      this.line(`${label} -> ${out}`);
    } catch (e) {
      this.line(`${label} -> ${describeError(e)}`);
    }
  }

  /** Stops flushing connection `name` with pings: the next step is expected to close it. */
  willClose(name: string): void {
    this.conns.get(name)!.expectClose = true;
  }

  /** Records whether the server closed connection `name` within a few seconds. */
  async expectClosed(name: string, timeoutMs = 5000): Promise<void> {
    const k = this.conns.get(name)!;
    k.expectClose = true;
    const closed = await k.c.waitClosed(timeoutMs);
    this.drain(k);
    this.line(`   ${name} closed by server: ${closed}`);
    if (closed) k.closedReported = true;
    else k.c.destroy();
    k.closedReported = true;
  }

  /** Pings every open connection, then records each one's notifications and closures. */
  async flush(sortEvents = false): Promise<void> {
    const list = [...this.conns.values()].filter((k) => !k.closedReported && !k.expectClose);
    const pings = await Promise.all(
      list.map((k) =>
        k.c.ping().then(
          () => true,
          () => false,
        ),
      ),
    );
    for (const [i, k] of list.entries()) {
      this.drain(k, sortEvents);
      if (!pings[i]) {
        this.line(`   ${k.name} CLOSED`);
        k.closedReported = true;
      }
    }
  }

  private drain(k: Conn, sortEvents = false): void {
    const evs = k.c
      .takeNotifications()
      .map(
        (n) =>
          `   ${k.name} event ${EVENT_NAMES[n.event.type] ?? n.event.type} ${n.event.path} state=${n.event.state}`,
      );
    if (sortEvents) evs.sort();
    for (const e of evs) this.line(e);
    if (k.c.strays.length > 0) {
      for (const r of k.c.strays.splice(0))
        this.line(`   ${k.name} STRAY reply xid=${r.header.xid} err=${r.header.err}`);
    }
    if (k.c.outOfOrder > 0) {
      this.line(`   ${k.name} OUT-OF-ORDER replies: ${k.c.outOfOrder}`);
      k.c.outOfOrder = 0;
    }
  }

  /** Destroys every connection (the server is about to be stopped). */
  destroyAll(): void {
    for (const k of this.conns.values()) k.c.destroy();
  }

  private prefix(): string {
    this.step++;
    return `#${this.step}`;
  }

  // ---- rendering --------------------------------------------------------------------------

  arg(a: unknown): string {
    if (a === null || a === undefined) return String(a);
    if (typeof a === 'string') return quote(a);
    if (typeof a === 'number' || typeof a === 'boolean') return String(a);
    if (typeof a === 'bigint') return this.session(a);
    if (Buffer.isBuffer(a)) return renderData(a);
    if (Array.isArray(a)) {
      if (a.length > 0 && typeof a[0] === 'object' && a[0] !== null && 'perms' in a[0]) {
        for (const [k, v] of ACL_SHORT) if (JSON.stringify(v) === JSON.stringify(a)) return k;
        return renderAcl(a as ACL[]);
      }
      if (a.length > 0 && typeof a[0] === 'object' && a[0] !== null && 'type' in a[0])
        return `[${(a as Request[]).map((op) => this.op(op)).join(', ')}]`;
      return JSON.stringify(a);
    }
    return JSON.stringify(a);
  }

  private op(q: Request): string {
    const fields = Object.entries(q)
      .filter(([k]) => k !== 'type')
      .map(
        ([k, v]) =>
          `${k}=${k === 'acl' ? this.arg(v) : Buffer.isBuffer(v) ? renderData(v) : JSON.stringify(v)}`,
      );
    return `${opName(q.type)}(${fields.join(' ')})`;
  }

  stat(s: Stat): string {
    return (
      `{c=${s.czxid} m=${s.mzxid} p=${s.pzxid} v=${s.version} cv=${s.cversion} av=${s.aversion} ` +
      `owner=${this.owner(s.ephemeralOwner)} len=${s.dataLength} kids=${s.numChildren}}`
    );
  }

  private owner(o: bigint): string {
    if (o === 0n) return '0';
    const n = this.sessions.get(o);
    return n ?? `0x${BigInt.asUintN(64, o).toString(16)}`;
  }

  result(r: Result): string {
    const p = [`err=${errorName(r.err)}`, `zxid=${this.zxid(r.zxid)}`];
    if (r.path !== undefined) p.push(`path=${quote(r.path)}`);
    if (r.data !== undefined) p.push(`data=${renderData(r.data)}`);
    if (r.acl !== undefined) p.push(`acl=${renderAcl(r.acl)}`);
    if (r.children !== undefined) p.push(`children=${JSON.stringify([...r.children].sort())}`);
    if (r.stat !== undefined) p.push(`stat=${this.stat(r.stat)}`);
    if (r.results !== undefined) p.push(`results=[${r.results.map((x) => this.opResult(x)).join(', ')}]`);
    if (r.ephemerals !== undefined) p.push(`ephemerals=${JSON.stringify([...r.ephemerals].sort())}`);
    if (r.totalNumber !== undefined) p.push(`total=${r.totalNumber}`);
    if (r.clientInfo !== undefined)
      p.push(`clientInfo=${JSON.stringify(r.clientInfo.map((c) => `${c.authScheme}:${c.user}`))}`);
    if (r.errBody !== undefined) p.push(`body.err=${r.errBody}`);
    return p.join(' ');
  }

  private opResult(x: OpResult): string {
    switch (x.type) {
      case -1:
        return `error(${errorName(x.err)})`;
      case 1:
        return `create(${JSON.stringify(x.path)})`;
      case 15:
        return `create2(${JSON.stringify(x.path)} ${this.stat(x.stat)})`;
      case 2:
        return 'delete';
      case 13:
        return 'check';
      case 5:
        return `setData(${this.stat(x.stat)})`;
      case 8:
        return `getChildren(${JSON.stringify([...x.children].sort())})`;
      case 4:
        return `getData(${renderData(x.data)} ${this.stat(x.stat)})`;
    }
  }
}

function describeError(e: unknown): string {
  if (e instanceof ConnectionClosedError) return 'CLOSED (no reply)';
  return `ERROR ${(e as Error).message}`;
}

/** A JSON string with everything outside printable ASCII escaped, so transcripts stay readable. */
export function quote(s: string): string {
  return JSON.stringify(s).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function opName(type: number): string {
  for (const [k, v] of Object.entries(OpCode)) if (v === type) return k;
  return `op${type}`;
}

function renderData(d: Buffer | null): string {
  if (d === null) return 'null';
  const s = d.toString('utf8');
  const printable = [...s].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f);
  if (Buffer.from(s, 'utf8').equals(d) && printable) return quote(s);
  return `hex:${d.toString('hex')}`;
}

function renderAcl(acl: ACL[]): string {
  return `[${acl.map((a) => `${a.perms}:${a.id.scheme}:${a.id.id}`).join(', ')}]`;
}

// ---- the scenario ------------------------------------------------------------------------------

const acl = (perms: number, scheme: string, id: string): ACL => ({ perms, id: { scheme, id } });
const OPEN = OPEN_ACL_UNSAFE;
const ALL = 31;
const READ = 1;

const create = (path: string, flags = 0, data: string | null = null, a: ACL[] = OPEN): Request => ({
  type: 1,
  path,
  data: data === null ? null : Buffer.from(data),
  acl: a,
  flags,
});

/** Runs the whole scenario against a serving server and returns the transcript. */
export async function runScenario(host: string, port: number): Promise<string[]> {
  const t = new Transcript(host, port);
  try {
    await scenario(t);
  } catch (e) {
    t.line(`SCENARIO ABORTED: ${(e as Error).stack ?? e}`);
  } finally {
    t.destroyAll();
  }
  return t.lines;
}

async function scenario(t: Transcript): Promise<void> {
  const USER = digestId('user:pw');
  const data = (path: string, version = -1, d: string | null = null): Request => ({
    type: 5,
    path,
    data: d === null ? null : Buffer.from(d),
    version,
  });
  const del = (path: string, version = -1): Request => ({ type: 2, path, version });
  const check = (path: string, version: number): Request => ({ type: 13, path, version });
  const get = (path: string, watch = false): Request => ({ type: 4, path, watch });
  const kids = (path: string, watch = false): Request => ({ type: 8, path, watch });

  t.section('connect');
  await t.connect('c1', 'new session, readOnly=false');
  await t.connect('c2', 'new session, no readOnly byte', { readOnly: undefined });
  await t.call('c1', 'ping');
  await t.call('c1', 'getData', '/');
  await t.call('c1', 'getChildren', '/');
  await t.call('c1', 'getChildren2', '/zookeeper');
  await t.call('c1', 'getData', '/zookeeper');
  await t.call('c1', 'getData', '/zookeeper/quota');
  await t.call('c1', 'getData', '/zookeeper/config');
  await t.call('c1', 'getACL', '/');
  await t.call('c1', 'getACL', '/zookeeper');
  await t.call('c1', 'getACL', '/zookeeper/config');
  await t.call('c1', 'exists', '/');
  await t.call('c1', 'whoAmI');
  // ZooKeeper's data tree holds the root under "" too, and reads do not validate paths.
  await t.call('c1', 'getData', '');
  await t.call('c1', 'exists', '');
  await t.call('c1', 'getChildren2', '');
  await t.call('c1', 'getACL', '');
  await t.call('c1', 'getAllChildrenNumber', '');

  t.section('create');
  await t.call('c1', 'create', '/a', 'x', OPEN, 0);
  await t.call('c1', 'create', '/a', 'y', OPEN, 0);
  await t.call('c1', 'create', '/nope/child', 'y', OPEN, 0);
  await t.call('c1', 'create2', '/b', null, OPEN, 0);
  await t.call('c1', 'getData', '/b');
  await t.call('c1', 'create2', '/c', '', OPEN, 0);
  await t.call('c1', 'getData', '/c');
  await t.call('c1', 'create2', '/bin', Buffer.from([0, 1, 2, 255]), OPEN, 0);
  await t.call('c1', 'getData', '/bin');
  await t.call('c1', 'create2', '/a/b', 'ab', OPEN, 0);
  await t.call('c1', 'create2', '/a/b/c', 'abc', OPEN, 0);
  await t.call('c1', 'getData', '/a');
  await t.call('c1', 'create2', '/utf8-\u00e9\u4e2d', 'u', OPEN, 0);
  await t.call('c1', 'create2', '/emoji-\u{1f600}', 'u', OPEN, 0);
  await t.call('c1', 'getChildren', '/');
  for (const p of [
    '',
    'a',
    'a/b',
    '/a/',
    '//a',
    '/a//b',
    '/a/./b',
    '/a/../b',
    '/.',
    '/..',
    '/a/.',
    '/a\u0000b',
    '/a\u0001b',
    '/a\u001fb',
    '/a\u007fb',
    '/a\u009fb',
    '/a\ue000b',
    '/a\ufff0b',
    '/a\ufffeb',
    '/.a',
    '/a..',
  ]) {
    await t.call('c1', 'create', p, 'bad', OPEN, 0);
  }
  await t.call('c1', 'create', '/', 'root', OPEN, 0);
  await t.call('c1', 'create', '/', 'root', OPEN, 2);
  await t.call('c1', 'create', '/zookeeper/mine', 'z', OPEN, 0);
  await t.call('c1', 'delete', '/zookeeper/mine', -1);

  t.section('create flags');
  for (const flags of [7, -1, 100, 4, 5, 6]) await t.call('c1', 'create', '/flags', 'f', OPEN, flags);
  await t.call('c1', 'getData', '/flags');
  await t.call('c1', 'delete', '/flags', -1);
  for (const flags of [5, 6, 4]) await t.call('c1', 'create2', '/flags2', 'f', OPEN, flags);
  await t.call('c1', 'delete', '/flags2', -1);

  t.section('sequential');
  await t.call('c1', 'create', '/seq', null, OPEN, 0);
  await t.call('c1', 'create', '/seq/n-', 'n', OPEN, 2);
  await t.call('c1', 'create', '/seq/n-', 'n', OPEN, 2);
  await t.call('c1', 'create2', '/seq/n-', 'n', OPEN, 2);
  await t.call('c1', 'delete', '/seq/n-0000000001', -1);
  await t.call('c1', 'create', '/seq/n-', 'n', OPEN, 2);
  await t.call('c1', 'create', '/seq/e-', 'e', OPEN, 3);
  await t.call('c1', 'create', '/seq/', 'digits', OPEN, 2);
  await t.call('c1', 'create', '/seq/', 'plain', OPEN, 0);
  await t.call('c1', 'create', '/seq/plain', 'p', OPEN, 0);
  await t.call('c1', 'create', '/seq/plain', 'p', OPEN, 2);
  await t.call('c1', 'create', '/seq/plain', 'p', OPEN, 0);
  await t.call('c1', 'create', '/seq/x/', 'nx', OPEN, 2);
  await t.call('c1', 'getChildren', '/seq');
  await t.call('c1', 'getChildren2', '/seq');
  await t.call('c1', 'delete', '/seq/n-0000000003', -1);
  await t.call('c1', 'delete', '/seq/n-0000000002', -1);
  await t.call('c1', 'create', '/seq/n-', 'n', OPEN, 2);
  await t.call('c1', 'getChildren2', '/seq');
  await t.call('c1', 'getAllChildrenNumber', '/seq');
  await t.call('c1', 'getAllChildrenNumber', '/');
  await t.call('c1', 'getAllChildrenNumber', '/a');
  await t.call('c1', 'getAllChildrenNumber', '/a/b/c');
  await t.call('c1', 'getAllChildrenNumber', '/nope');

  t.section('ephemeral, container, TTL');
  await t.call('c1', 'create2', '/eph', 'e', OPEN, 1);
  await t.call('c1', 'create', '/eph/x', 'x', OPEN, 0);
  await t.call('c1', 'create', '/eph/x', 'x', OPEN, 1);
  await t.call('c1', 'create', '/eph/x', 'x', OPEN, 2);
  await t.call('c1', 'create', '/eph/x', 'x', OPEN, 3);
  await t.call('c1', 'createContainer', '/eph/x', 'x', OPEN, 4);
  await t.call('c1', 'createTTL', '/eph/x', 'x', OPEN, 5, 1000);
  await t.call('c2', 'create2', '/eph2', 'e2', OPEN, 1);
  await t.call('c2', 'create2', '/eph2', 'e2', OPEN, 1);
  await t.call('c1', 'setData', '/eph2', 'by-c1', -1);
  await t.call('c1', 'getEphemerals', '');
  await t.call('c1', 'getEphemerals', '/');
  await t.call('c1', 'getEphemerals', '/seq');
  await t.call('c1', 'getEphemerals', '/e');
  await t.call('c1', 'getEphemerals', '/nope');
  await t.call('c1', 'getEphemerals', 'seq');
  await t.call('c2', 'getEphemerals', '');
  await t.call('c1', 'createContainer', '/cont', 'c', OPEN, 4);
  await t.call('c1', 'createContainer', '/cont', 'c', OPEN, 4);
  await t.call('c1', 'create2', '/cont/child', 'k', OPEN, 0);
  await t.call('c1', 'exists', '/cont');
  await t.call('c1', 'createContainer', '/cont/sub', 'c', OPEN, 4);
  await t.call('c1', 'createContainer', '/cont0', 'c', OPEN, 0);
  await t.call('c1', 'createContainer', '/cont1', 'c', OPEN, 1);
  await t.call('c1', 'createContainer', '/cont2', 'c', OPEN, 2);
  await t.call('c1', 'createContainer', '/cont5', 'c', OPEN, 5);
  await t.call('c1', 'create', '/contc', 'c', OPEN, 4);
  await t.call('c1', 'exists', '/contc');
  await t.call('c1', 'createTTL', '/ttl', 't', OPEN, 5, 3_600_000);
  await t.call('c1', 'createTTL', '/ttl', 't', OPEN, 5, 3_600_000);
  await t.call('c1', 'exists', '/ttl');
  await t.call('c1', 'createTTL', '/ttlseq-', 't', OPEN, 6, 3_600_000);
  await t.call('c1', 'createTTL', '/ttl/child', 't', OPEN, 5, 1);
  await t.call('c1', 'createTTL', '/ttlmax', 't', OPEN, 5, 0xffffffffff);
  // Not flags 0 or 4 with ttl -1: ZooKeeper 3.8.0 accepts a negative ttl with a non-TTL mode, then
  // dies applying the txn ("Severe unrecoverable error").
  for (const [flags, ttl] of [
    [5, 0],
    [5, -1],
    [5, 0x10000000000],
    [6, 0],
    [0, 100],
    [0, 0],
    [1, 100],
    [2, 100],
    [4, 100],
    [7, 100],
  ] as const) {
    await t.call('c1', 'createTTL', '/ttlbad', 't', OPEN, flags, ttl);
  }
  await t.call('c1', 'createTTL', 'bad', 't', OPEN, 5, 100);
  await t.call('c1', 'getEphemerals', '/');

  t.section('getData, exists, setData, delete, sync');
  await t.call('c1', 'setData', '/a', 'x1', 0);
  await t.call('c1', 'setData', '/a', 'x2', 0);
  await t.call('c1', 'setData', '/a', 'x2', 5);
  await t.call('c1', 'setData', '/a', 'x2', -1);
  await t.call('c1', 'setData', '/a', null, -1);
  await t.call('c1', 'getData', '/a');
  await t.call('c1', 'setData', '/a', 'x3', -2);
  await t.call('c1', 'setData', '/nope', 'x', -1);
  await t.call('c1', 'setData', '/nope', 'x', 3);
  await t.call('c1', 'setData', 'bad', 'x', -1);
  await t.call('c1', 'setData', '/', 'root', -1);
  await t.call('c1', 'getData', '/');
  await t.call('c1', 'setData', '/zookeeper', 'zk', -1);
  await t.call('c1', 'setData', '/zookeeper/config', 'cfg', -1);
  await t.call('c1', 'exists', '/a');
  await t.call('c1', 'exists', '/nope');
  await t.call('c1', 'getData', '/nope');
  await t.call('c1', 'getData', 'bad');
  await t.call('c1', 'exists', '/a/');
  await t.call('c1', 'getChildren', '//');
  await t.call('c1', 'getChildren', '/nope');
  await t.call('c1', 'getChildren2', '/nope');
  await t.call('c1', 'getACL', '/nope');
  await t.call('c1', 'create', '/d', null, OPEN, 0);
  await t.call('c1', 'create', '/d/e', null, OPEN, 0);
  await t.call('c1', 'delete', '/d', -1);
  await t.call('c1', 'delete', '/d/e', 5);
  await t.call('c1', 'delete', '/d/e', 0);
  await t.call('c1', 'delete', '/d/e', -1);
  await t.call('c1', 'delete', '/d', 0);
  await t.call('c1', 'delete', '/nope/x', -1);
  await t.call('c1', 'delete', 'bad', -1);
  await t.call('c1', 'delete', '/bad/', -1);
  for (const p of ['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config'])
    await t.call('c1', 'delete', p, -1);
  await t.call('c1', 'delete', '/a/b/c', -1);
  await t.call('c1', 'getData', '/a/b');
  await t.call('c1', 'sync', '/a');
  await t.call('c1', 'sync', '/nope');
  await t.call('c1', 'sync', '/');
  await t.call('c1', 'sync', 'bad');
  await t.call('c1', 'getData', '/');

  t.section('ACL');
  await t.call('c1', 'create', '/acl-inv', 'i', [], 0);
  await t.call('c1', 'create', '/acl-inv', 'i', null, 0);
  await t.call('c1', 'create', '/acl-inv', 'i', [acl(ALL, 'foo', 'bar')], 0);
  await t.call('c1', 'create', '/acl-inv', 'i', [acl(ALL, 'world', 'nobody')], 0);
  await t.call('c1', 'create', '/acl-inv', 'i', [acl(ALL, 'auth', '')], 0);
  await t.call('c1', 'create', '/acl-inv', 'i', [acl(ALL, 'digest', 'nocolon')], 0);
  await t.call('c1', 'create', '/acl-inv', 'i', [acl(ALL, 'ip', '999.0.0.1')], 0);
  await t.call('c1', 'create', '/acl-inv', 'i', [acl(ALL, 'ip', '10.0.0.0/99')], 0);
  await t.call('c1', 'create', '/acl-inv', 'i', [acl(ALL, 'ip', 'host.example')], 0);
  await t.call('c1', 'create', '/acl-inv', 'i', [acl(ALL, 'super', 'x')], 0);
  await t.call('c1', 'create', '/acl-inv', 'i', [acl(ALL, 'world', 'anyone'), acl(ALL, 'foo', 'x')], 0);
  await t.call('c1', 'getData', '/acl-inv');
  await t.call('c1', 'create', '/acl-zero', 'z', [acl(0, 'world', 'anyone')], 0);
  await t.call('c1', 'getACL', '/acl-zero');
  await t.call('c1', 'getData', '/acl-zero');
  await t.call('c1', 'create', '/acl-high', 'h', [acl(0x7fffffff, 'world', 'anyone')], 0);
  await t.call('c1', 'getACL', '/acl-high');
  const dup = [acl(ALL, 'world', 'anyone'), acl(ALL, 'world', 'anyone'), acl(READ, 'world', 'anyone')];
  await t.call('c1', 'create', '/acl-dup', 'd', dup, 0);
  await t.call('c1', 'getACL', '/acl-dup');
  await t.call('c1', 'auth', 'digest', 'user:pw');
  await t.call('c1', 'whoAmI');
  await t.call('c1', 'auth', 'digest', 'user:pw');
  await t.call('c1', 'whoAmI');
  await t.call('c1', 'create', '/acl-auth', 's', [acl(ALL, 'auth', '')], 0);
  await t.call('c1', 'getACL', '/acl-auth');
  await t.call(
    'c1',
    'create',
    '/acl-auth2',
    's',
    [acl(ALL, 'auth', 'ignored'), acl(READ, 'world', 'anyone')],
    0,
  );
  await t.call('c1', 'getACL', '/acl-auth2');
  await t.call('c1', 'create', '/acl-mix', 'm', [acl(READ, 'world', 'anyone'), acl(ALL, 'digest', USER)], 0);
  await t.call(
    'c1',
    'create',
    '/acl-cd',
    'm',
    [acl(READ | 4, 'world', 'anyone'), acl(ALL, 'digest', USER)],
    0,
  );
  await t.call('c1', 'getData', '/acl-auth');
  await t.call('c2', 'getACL', '/acl-auth');
  await t.call('c2', 'getACL', '/acl-mix');
  await t.call('c2', 'getData', '/acl-auth');
  await t.call('c2', 'getData', '/acl-mix');
  await t.known('exists checks READ since 3.8.? / 3.9', () => t.call('c2', 'exists', '/acl-auth'));
  await t.call('c2', 'exists', '/acl-mix');
  await t.call('c2', 'getChildren', '/acl-auth');
  await t.call('c2', 'getChildren2', '/acl-auth');
  await t.call('c2', 'getAllChildrenNumber', '/acl-auth');
  await t.call('c2', 'setData', '/acl-mix', 'no', -1);
  await t.call('c2', 'setData', '/acl-mix', 'no', 99);
  await t.call('c2', 'create', '/acl-mix/k', 'k', OPEN, 0);
  await t.call('c2', 'create', '/acl-cd/k', 'k', OPEN, 0);
  await t.call('c1', 'create', '/acl-mix/k', 'k', OPEN, 0);
  await t.call('c2', 'delete', '/acl-mix/k', -1);
  await t.call('c2', 'delete', '/acl-cd/k', -1);
  await t.call('c2', 'delete', '/acl-mix/nope', -1);
  await t.call('c2', 'setACL', '/acl-mix', OPEN, -1);
  await t.call('c2', 'setACL', '/acl-mix', OPEN, 99);
  await t.call('c2', 'auth', 'digest', 'user:wrong');
  await t.call('c2', 'whoAmI');
  await t.call('c2', 'getData', '/acl-auth');
  await t.call('c2', 'auth', 'digest', 'other:pw');
  await t.call('c2', 'create', '/acl-auth-c2', 'x', [acl(ALL, 'auth', '')], 0);
  await t.call('c2', 'getACL', '/acl-auth-c2');
  await t.call('c1', 'getACL', '/acl-auth-c2');
  await t.call('c1', 'create', '/acl-ip', 'ip', [acl(ALL, 'ip', '127.0.0.1')], 0);
  await t.call('c2', 'getData', '/acl-ip');
  await t.call('c1', 'create', '/acl-ip8', 'ip8', [acl(ALL, 'ip', '10.0.0.0/8')], 0);
  await t.call('c2', 'getData', '/acl-ip8');
  await t.call('c1', 'create', '/acl-ip127', 'ip', [acl(ALL, 'ip', '127.0.0.0/8')], 0);
  await t.call('c2', 'getData', '/acl-ip127');
  await t.call('c1', 'create', '/acl-ro', 'ro', READ_ACL_UNSAFE, 0);
  await t.call('c1', 'setData', '/acl-ro', 'w', -1);
  await t.call('c1', 'create', '/acl-ro/k', 'k', OPEN, 0);
  await t.call('c1', 'getACL', '/acl-ro');
  await t.call('c1', 'setACL', '/acl-ro', OPEN, -1);
  await t.call('c1', 'create', '/acl-v', 'v', OPEN, 0);
  await t.call('c1', 'setACL', '/acl-v', OPEN, 3);
  await t.call('c1', 'setACL', '/acl-v', OPEN, 0);
  await t.call('c1', 'setACL', '/acl-v', OPEN, 0);
  await t.call('c1', 'setACL', '/acl-v', READ_ACL_UNSAFE.concat(OPEN), -1);
  await t.call('c1', 'setACL', '/nope', OPEN, -1);
  await t.call('c1', 'setACL', '/acl-v', [], -1);
  await t.call('c1', 'setACL', '/acl-v', [acl(ALL, 'foo', 'bar')], -1);
  await t.call('c1', 'setACL', 'bad', OPEN, -1);
  await t.call('c1', 'setACL', '/acl-v', [acl(ALL, 'auth', '')], -1);
  await t.call('c1', 'getACL', '/acl-v');
  await t.call('c2', 'setACL', '/acl-v', OPEN, -1);
  await t.call('c2', 'getACL', '/acl-v');
  const c3 = await t.connect('c3', 'new session (ip auth, then an unknown scheme)');
  await t.call('c3', 'auth', 'ip', '127.0.0.1');
  await t.call('c3', 'whoAmI');
  t.willClose('c3');
  await t.call('c3', 'auth', 'foo', 'bar');
  await t.expectClosed('c3');
  if (c3) {
    await t.connect('c3b', 'S3 again after the auth failure', { sessionId: c3.sessionId, passwd: c3.passwd });
    await t.call('c3b', 'whoAmI');
    t.willClose('c3b');
    await t.call('c3b', 'closeSession');
    await t.expectClosed('c3b');
  }
  await t.connect('c4', 'new session (odd digest auth)');
  await t.call('c4', 'auth', 'digest', 'nocolon');
  await t.call('c4', 'auth', 'digest', '');
  await t.call('c4', 'auth', 'digest', ':');
  await t.call('c4', 'auth', 'digest', 'a:b:c');
  await t.call('c4', 'whoAmI');
  await t.call('c4', 'create', '/acl-c4', null, [acl(ALL, 'auth', '')], 0);
  await t.call('c4', 'getACL', '/acl-c4');
  t.willClose('c4');
  await t.call('c4', 'auth', 'world', 'anyone');
  await t.expectClosed('c4');

  t.section('watches');
  await t.call('c1', 'create', '/w', '0', OPEN, 0);
  await t.call('c2', 'getData', '/w', true);
  await t.call('c1', 'setData', '/w', '1', -1);
  await t.call('c1', 'setData', '/w', '2', -1);
  await t.call('c2', 'exists', '/w-new', true);
  await t.call('c1', 'create', '/w-new', 'n', OPEN, 0);
  await t.call('c1', 'delete', '/w-new', -1);
  await t.call('c2', 'exists', '/w', true);
  await t.call('c1', 'setData', '/w', '3', -1);
  await t.call('c2', 'getChildren', '/w', true);
  await t.call('c1', 'create', '/w/k1', null, OPEN, 0);
  await t.call('c1', 'create', '/w/k2', null, OPEN, 0);
  await t.call('c2', 'getChildren2', '/w', true);
  await t.call('c1', 'setData', '/w/k1', 'no event', -1);
  await t.call('c2', 'getData', '/w', true);
  await t.call('c2', 'exists', '/w/k1', true);
  await t.call('c2', 'getData', '/w/k1', true);
  await t.call('c1', 'delete', '/w/k1', -1);
  await t.call('c2', 'getData', '/w', true);
  await t.call('c2', 'getChildren', '/w', true);
  await t.call('c1', 'delete', '/w/k2', -1);
  await t.call('c1', 'delete', '/w', -1);
  await t.call('c2', 'getData', '/w-gd-missing', true);
  await t.call('c2', 'getChildren', '/w-gd-missing', true);
  await t.call('c1', 'create', '/w-gd-missing', null, OPEN, 0);
  await t.call('c1', 'create', '/w-both', null, OPEN, 0);
  await t.call('c1', 'getData', '/w-both', true);
  await t.call('c2', 'getData', '/w-both', true);
  await t.call('c2', 'setData', '/w-both', 'x', -1);
  await t.call('c1', 'exists', '/w-both', true);
  await t.call('c2', 'exists', '/w-both', true);
  await t.call('c1', 'getChildren', '/w-both', true);
  await t.call('c2', 'getChildren', '/w-both', true);
  await t.call('c2', 'multi', [create('/w-both/a'), create('/w-both/b'), data('/w-both')]);
  await t.call('c1', 'getData', '/w-both', true);
  await t.call('c2', 'getChildren', '/w-both', true);
  await t.call('c2', 'exists', '/w-both/a', true);
  await t.call('c2', 'multi', [del('/w-both/a'), del('/w-both/b'), del('/w-both')]);
  await t.call('c2', 'exists', '/w-fail', true);
  await t.call('c1', 'multi', [create('/w-fail'), del('/nope')]);
  await t.call('c1', 'create', '/w-fail', null, OPEN, 0);
  await t.call('c2', 'getData', '/rw', true);
  await t.call('c1', 'create', '/rw', null, OPEN, 0);
  await t.call('c2', 'getData', '/rw', true);
  await t.call('c2', 'checkWatches', '/rw', 2);
  await t.call('c2', 'checkWatches', '/rw', 1);
  await t.call('c2', 'checkWatches', '/rw', 3);
  await t.known('3.8 checkWatches matches a watch of any connection', () =>
    t.call('c1', 'checkWatches', '/rw', 3),
  );
  await t.call('c2', 'removeWatches', '/rw', 1);
  await t.call('c2', 'removeWatches', '/rw', 2);
  await t.call('c2', 'removeWatches', '/rw', 2);
  await t.call('c1', 'setData', '/rw', 'quiet', -1);
  await t.call('c2', 'getData', '/rw', true);
  await t.call('c2', 'getChildren', '/rw', true);
  await t.call('c2', 'removeWatches', '/rw', 3);
  await t.call('c2', 'checkWatches', '/rw', 3);
  await t.call('c1', 'create', '/rw/k', null, OPEN, 0);
  await t.call('c2', 'exists', '/rw-exist', true);
  await t.call('c2', 'checkWatches', '/rw-exist', 2);
  await t.call('c2', 'checkWatches', '/rw-exist', 1);
  await t.call('c2', 'removeWatches', '/rw-exist', 2);
  await t.call('c1', 'create', '/rw-exist', null, OPEN, 0);
  await t.call('c2', 'getChildren', '/rw', true);
  await t.call('c2', 'removeWatches', '/rw', 2);
  await t.call('c2', 'checkWatches', '/nope', 3);
  await t.known('3.8 checkWatches fails on a path without a slash', () =>
    t.call('c2', 'checkWatches', 'bad', 3),
  );
  await t.call('c2', 'removeWatches', 'bad', 3);
  await t.call('c2', 'checkWatches', '/rw', 0);
  await t.call('c2', 'checkWatches', '/rw', 9);
  await t.call('c2', 'removeWatches', '/rw', 0);
  await t.call('c2', 'removeWatches', '/rw', 7);
  await t.call('c1', 'delete', '/rw/k', -1);

  t.section('persistent watches');
  await t.connect('cp', 'watcher for a persistent watch');
  await t.call('cp', 'addWatch', '/p', 0);
  await t.call('cp', 'addWatch', '/p', 0);
  await t.call('c1', 'create', '/p', '0', OPEN, 0);
  await t.call('c1', 'setData', '/p', '1', -1);
  await t.call('c1', 'create', '/p/x', null, OPEN, 0);
  await t.call('c1', 'setData', '/p/x', '1', -1);
  await t.call('c1', 'create', '/p/x/y', null, OPEN, 0);
  await t.call('c1', 'delete', '/p/x/y', -1);
  await t.call('c1', 'delete', '/p/x', -1);
  await t.call('c1', 'setData', '/p', '2', -1);
  await t.call('c1', 'setData', '/p', '3', -1);
  await t.call('c1', 'delete', '/p', -1);
  await t.call('c1', 'create', '/p', 'again', OPEN, 0);
  await t.call('cp', 'addWatch', '/p', 2);
  await t.call('cp', 'addWatch', '/p', -1);
  await t.call('cp', 'addWatch', 'bad', 0);
  await t.call('cp', 'addWatch', '/nope-yet', 0);
  await t.call('c1', 'create', '/nope-yet', null, OPEN, 0);
  await t.call('cp', 'checkWatches', '/p', 3);
  await t.call('cp', 'checkWatches', '/nope', 3);
  await t.known('3.8 checkWatches fails on a path without a slash', () =>
    t.call('cp', 'checkWatches', 'bad', 3),
  );
  await t.known('3.8 keeps persistent watches in both tables; 3.9 adds WatcherType 4/5', async () => {
    for (const type of [1, 2, 4, 5]) await t.call('cp', 'checkWatches', '/p', type);
    await t.call('cp', 'checkWatches', '/nope', 4);
    await t.call('cp', 'removeWatches', '/p', 5);
    await t.call('cp', 'removeWatches', '/nope', 4);
  });
  await t.call('cp', 'removeWatches', '/p', 3);
  await t.call('cp', 'removeWatches', '/p', 3);
  await t.call('cp', 'checkWatches', '/p', 3);
  await t.call('c1', 'setData', '/p', 'quiet', -1);
  await t.call('c1', 'setData', '/nope-yet', 'x', -1);
  t.willClose('cp');
  await t.call('cp', 'closeSession');
  await t.expectClosed('cp');
  await t.call('c1', 'setData', '/nope-yet', 'after-close', -1);

  await t.connect('cr', 'watcher for persistent recursive watches');
  await t.call('cr', 'addWatch', '/r', 1);
  await t.call('c1', 'create', '/r', null, OPEN, 0);
  await t.call('c1', 'create', '/r/x', null, OPEN, 0);
  await t.call('c1', 'create', '/r/x/y', null, OPEN, 0);
  await t.call('c1', 'setData', '/r/x/y', 'd', -1);
  await t.call('c1', 'create', '/rr', null, OPEN, 0);
  await t.call('c1', 'setData', '/r', 'd', -1);
  await t.call('c1', 'delete', '/r/x/y', -1);
  await t.call('c1', 'delete', '/r/x', -1);
  await t.call('cr', 'checkWatches', '/r', 3);
  await t.call('cr', 'checkWatches', '/r/x', 3);
  await t.known('3.8 keeps persistent watches in both tables; 3.9 adds WatcherType 4/5', async () => {
    for (const type of [1, 2, 4, 5]) await t.call('cr', 'checkWatches', '/r', type);
  });
  await t.call('cr', 'removeWatches', '/r', 3);
  await t.call('c1', 'create', '/r/quiet', null, OPEN, 0);
  await t.call('cr', 'addWatch', '/', 1);
  await t.call('c1', 'create', '/top', null, OPEN, 0);
  await t.call('c1', 'setData', '/', 'root2', -1);
  await t.call('c1', 'delete', '/top', -1);
  await t.call('cr', 'addWatch', '/sec', 1);
  await t.call('c1', 'create', '/sec', 's', [acl(ALL, 'digest', USER)], 0);
  await t.call('c1', 'setData', '/sec', 's2', -1);
  await t.call('c1', 'create', '/sec/k', 's', OPEN, 0);
  await t.call('c1', 'create', '/sec-open', 's', OPEN, 0);
  await t.call('cr', 'getData', '/sec-open', true);
  await t.call('c1', 'setACL', '/sec-open', [acl(ALL, 'digest', USER)], -1);
  await t.call('c1', 'setData', '/sec-open', 'x', -1);
  await t.call('c1', 'create', '/top', null, [acl(ALL, 'digest', USER)], 0);
  await t.call('c1', 'delete', '/sec/k', -1);
  await t.call('c1', 'delete', '/top', -1);
  t.willClose('cr');
  await t.call('cr', 'closeSession');
  await t.expectClosed('cr');

  await t.connect('cm', 'watcher mixing watch modes on one path');
  await t.known('3.8 keeps one watch mode per path and connection (ZOOKEEPER-4466)', async () => {
    await t.call('cm', 'addWatch', '/mx', 0);
    await t.call('c1', 'create', '/mx', null, OPEN, 0);
    await t.call('cm', 'getData', '/mx', true);
    await t.call('cm', 'getChildren', '/mx', true);
    await t.call('c1', 'setData', '/mx', '1', -1);
    await t.call('c1', 'setData', '/mx', '2', -1);
    await t.call('c1', 'create', '/mx/k', null, OPEN, 0);
    await t.call('cm', 'addWatch', '/mx', 1);
    await t.call('c1', 'create', '/mx/k2', null, OPEN, 0);
    await t.call('cm', 'addWatch', '/mx', 0);
    await t.call('c1', 'create', '/mx/k3', null, OPEN, 0);
    await t.call('cm', 'removeWatches', '/mx', 4);
    await t.call('c1', 'create', '/mx/k4', null, OPEN, 0);
  });
  t.willClose('cm');
  await t.call('cm', 'closeSession');
  await t.expectClosed('cm');

  t.section('multi');
  await t.call('c1', 'multi', [
    create('/m1', 0, 'm1'),
    create('/m1/a', 0, 'a'),
    create('/m1/b', 0, 'b'),
    data('/m1', 0, 'm1v1'),
    check('/m1', 1),
    del('/m1/a', 0),
    create('/m1/s-', 2),
    create('/m1/s-', 2),
    { type: 19, path: '/m1/cont', data: null, acl: OPEN, flags: 4 },
    { type: 21, path: '/m1/ttl', data: null, acl: OPEN, flags: 5, ttl: 60_000 },
    create('/m1/e', 1),
  ]);
  await t.call('c1', 'getChildren2', '/m1');
  await t.known('create2 inside multi returns a stat since 3.9 (ZOOKEEPER-4026)', () =>
    t.call('c1', 'multi', [
      { type: 15, path: '/m1/c2', data: Buffer.from('c2'), acl: OPEN, flags: 0 },
      check('/m1', 1),
    ]),
  );
  await t.call('c1', 'multi', [create('/m2'), data('/nope'), create('/m3')]);
  await t.call('c1', 'exists', '/m2');
  await t.call('c1', 'multi', [check('/m1', 5)]);
  await t.call('c1', 'multi', [check('/nope', -1)]);
  await t.call('c1', 'multi', [check('/m1', -1), create('/m4')]);
  await t.call('c1', 'multi', [check('bad', -1)]);
  await t.call('c1', 'multi', [create('/m1')]);
  await t.call('c1', 'multi', [create('/m5', 2), create('bad')]);
  await t.call('c1', 'multi', [create('/m5', 9)]);
  await t.call('c1', 'multi', [create('/m5', 0, null, [])]);
  await t.call('c1', 'multi', [del('/m1')]);
  await t.call('c1', 'multi', [del('/m1/b', 7)]);
  await t.call('c1', 'multi', [create('/m6'), del('/m6')]);
  await t.call('c1', 'multi', [create('/m7'), create('/m7/a'), create('/m7/a/b'), data('/m7/a/b', 0)]);
  await t.call('c1', 'multi', [create('/m8'), create('/m8')]);
  await t.call('c1', 'multi', [create('/m9'), create('/m9/e', 1), create('/m9/e/x')]);
  await t.call('c1', 'multi', [create('/m10', 1), check('/m10', 0)]);
  await t.call('c1', 'multi', [
    del('/m7/a/b'),
    del('/m7/a'),
    check('/m7', 0),
    data('/m7', 0, 'x'),
    check('/m7', 1),
  ]);
  await t.call('c2', 'multi', [data('/acl-mix')]);
  await t.call('c2', 'multi', [create('/m11'), create('/acl-mix/x')]);
  await t.call('c1', 'multi', [{ type: 21, path: '/m12', data: null, acl: OPEN, flags: 5, ttl: 0 }]);
  await t.call('c1', 'multi', [create('/seq/n-', 2), create('/seq/n-', 2)]);
  await t.call('c1', 'multi', [create('/m13'), create('/seq/n-', 2), del('/nope')]);
  await t.call('c1', 'create', '/seq/n-', null, OPEN, 2);
  await t.call('c1', 'multi', []);
  await t.call('c1', 'multiRead', [
    get('/a'),
    kids('/seq'),
    get('/nope'),
    kids('/nope'),
    get('/acl-auth'),
    get('bad'),
  ]);
  await t.call('c2', 'multiRead', [get('/acl-auth'), kids('/acl-auth'), get('/acl-mix')]);
  await t.call('c1', 'multiRead', []);
  await t.call('c2', 'multiRead', [get('/mr', true), kids('/m1', true)]);
  await t.call('c1', 'create', '/mr', null, OPEN, 0);
  await t.call('c1', 'create', '/m1/mr', null, OPEN, 0);
  await t.call('c2', 'multiRead', [get('/m1', true), get('/m1', true)]);
  await t.call('c1', 'setData', '/m1', 'once', -1);

  t.section('setWatches');
  await t.call('c1', 'create', '/sw-data', '0', OPEN, 0);
  await t.call('c1', 'create', '/sw-del', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-same', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-par', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-kid-del', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-kid-del/k', null, OPEN, 0);
  const base = await t.call('c1', 'create', '/sw-exists-before', null, OPEN, 0);
  const rel = base?.zxid ?? 0;
  await t.call('c1', 'setData', '/sw-data', '1', -1);
  await t.call('c1', 'delete', '/sw-del', -1);
  await t.call('c1', 'create', '/sw-new', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-par/k', null, OPEN, 0);
  await t.call('c1', 'delete', '/sw-kid-del/k', -1);
  await t.connect('cw', 'new session for setWatches');
  await t.call('cw', 'setWatches', {
    relativeZxid: rel,
    data: ['/sw-data', '/sw-del', '/sw-same', '/sw-never'],
    exist: ['/sw-new', '/sw-absent', '/sw-exists-before'],
    child: ['/sw-par', '/sw-kid-del', '/sw-same', '/sw-gone'],
  });
  await t.call('c1', 'setData', '/sw-same', 'x', -1);
  await t.call('c1', 'create', '/sw-absent', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-same/k', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-never', null, OPEN, 0);
  await t.call('c1', 'setData', '/sw-data', 'no more', -1);
  await t.call('c1', 'setData', '/sw-exists-before', 'x', -1);
  await t.call('cw', 'setWatches', {
    relativeZxid: 0,
    data: ['/a', '/zookeeper'],
    child: ['/', '/zookeeper'],
  });
  await t.call('cw', 'setWatches', {
    relativeZxid: 0x7fffffff,
    data: ['/a'],
    exist: ['/a', '/sw-late'],
    child: ['/a'],
  });
  await t.call('c1', 'setData', '/a', 'late', -1);
  await t.call('c1', 'create', '/sw-late', null, OPEN, 0);
  await t.call('c1', 'create', '/a/late', null, OPEN, 0);
  await t.call('cw', 'setWatches', {
    relativeZxid: rel,
    data: ['/sw-data'],
    persistent: ['/sw-p', '/sw-data'],
    persistentRecursive: ['/sw-r'],
  });
  await t.call('c1', 'create', '/sw-p', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-p/k', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-r', null, OPEN, 0);
  await t.call('c1', 'create', '/sw-r/k', null, OPEN, 0);
  await t.call('c1', 'setData', '/sw-data', 'p', -1);
  await t.call('c1', 'setData', '/sw-data', 'p2', -1);
  await t.call('cw', 'setWatches', { relativeZxid: rel, data: ['bad'], exist: ['/x/'], child: [''] });
  await t.call('cw', 'setWatches', { relativeZxid: 0 }, true);
  await t.call('cw', 'setWatches', { relativeZxid: 0, data: ['/acl-auth'], child: ['/acl-auth'] });
  await t.call('cw', 'setWatches', { relativeZxid: 0, exist: ['/acl-auth'] });
  await t.call('c1', 'setData', '/acl-auth', 'hidden', -1);
  await t.call('cw', 'getEphemerals', '');
  t.willClose('cw');
  await t.call('cw', 'closeSession');
  await t.expectClosed('cw');

  t.section('closeSession and ephemerals');
  await t.connect('ce', 'new session (owner of ephemerals)');
  await t.call('ce', 'create', '/cs-eph', 'e', OPEN, 1);
  await t.call('c1', 'create', '/cs-par', null, OPEN, 0);
  await t.call('ce', 'create', '/cs-par/e', null, OPEN, 1);
  await t.call('ce', 'create', '/cs-par/s-', null, OPEN, 3);
  await t.call('ce', 'getEphemerals', '/');
  await t.call('ce', 'getEphemerals', '/cs-par/');
  await t.call('c1', 'exists', '/cs-eph', true);
  await t.call('c2', 'getData', '/cs-eph', true);
  await t.call('c1', 'getChildren', '/cs-par', true);
  await t.call('c2', 'exists', '/cs-par/e', true);
  await t.call('c1', 'getChildren2', '/cs-par');
  t.willClose('ce');
  t.sortEvents = true;
  await t.call('ce', 'closeSession');
  t.sortEvents = false;
  await t.expectClosed('ce');
  await t.call('c1', 'exists', '/cs-eph');
  await t.call('c1', 'getChildren2', '/cs-par');

  t.section('reconnect');
  await t.call('c1', 'getData', '/ra', true);
  await t.call('c1', 'exists', '/ra', true);
  const c1 = t.conn('c1');
  const s1 = c1.sessionId;
  const pw1 = c1.passwd;
  const zxid1 = c1.lastZxid;
  await t.connect('r1', 'S1 with a wrong password (closes c1 first)', {
    sessionId: s1,
    passwd: Buffer.alloc(16, 7),
  });
  await t.connect('r2', 'S1 with a wrong password, no readOnly byte', {
    sessionId: s1,
    passwd: Buffer.alloc(16, 7),
    readOnly: undefined,
  });
  await t.connect('r3', 'unknown session id', { sessionId: 0x1234567n, passwd: Buffer.alloc(16) });
  await t.connect('r4', 'lastZxidSeen ahead of the server', { lastZxidSeen: 0x7fffffff });
  await t.connect('r5', 'S1 with the right password', {
    sessionId: s1,
    passwd: pw1,
    lastZxidSeen: zxid1,
    timeOut: 20_000,
  });
  await t.call('r5', 'getEphemerals', '');
  await t.call('r5', 'whoAmI');
  await t.call('r5', 'getData', '/acl-auth');
  await t.call('c2', 'create', '/ra', null, OPEN, 0);
  await t.call('r5', 'exists', '/ra', true);
  await t.call('c2', 'setData', '/ra', 'x', -1);
  const c2 = t.conn('c2');
  t.willClose('c2');
  await t.connect('r6', 'S2 with the right password, no readOnly byte', {
    sessionId: c2.sessionId,
    passwd: c2.passwd,
    readOnly: undefined,
  });
  await t.expectClosed('c2');
  await t.call('r6', 'getEphemerals', '');
  t.willClose('r6');
  await t.connect('r7', 'S2 again, readOnly=true, lastZxidSeen 0', {
    sessionId: c2.sessionId,
    passwd: c2.passwd,
    readOnly: true,
  });
  await t.expectClosed('r6');
  await t.connect('t1', 'new session, timeOut 100 (below min)', { timeOut: 100 });
  await t.connect('t2', 'new session, timeOut 10^6 (above max)', { timeOut: 1_000_000 });
  await t.connect('t3', 'new session, timeOut 0', { timeOut: 0 });
  await t.connect('t4', 'new session, timeOut -5', { timeOut: -5 });
  await t.connect('t5', 'new session, protocolVersion 7', { protocolVersion: 7 });
  for (const k of ['t1', 't2', 't3', 't4', 't5']) {
    t.willClose(k);
    await t.call(k, 'closeSession');
    await t.expectClosed(k);
  }

  t.section('closing sessions');
  await t.call('r7', 'getData', '/eph', true);
  await t.call('r7', 'getChildren', '/seq', true);
  await t.call('r7', 'exists', '/m1/e', true);
  await t.call('r7', 'addWatch', '/m1', 1);
  t.willClose('r5');
  t.sortEvents = true;
  await t.call('r5', 'closeSession');
  t.sortEvents = false;
  await t.expectClosed('r5');
  await t.call('r7', 'getChildren', '/seq');
  await t.call('r7', 'getEphemerals', '/');
  await t.call('r7', 'exists', '/eph');
  await t.connect('r8', 'S1 after its closeSession', { sessionId: s1, passwd: pw1 });
  await t.call('r7', 'getAllChildrenNumber', '/');
  await t.call('r7', 'getChildren', '/');
  await t.call('r7', 'removeWatches', '/m1', 3);

  t.section('malformed requests and unimplemented opcodes');
  // Each on its own connection, with zxids relative to that connection's start: servers may close
  // the connection, and ZooKeeper releases differ in whether a malformed write consumes a zxid.
  const encode = (q: Request, cut?: number): Buffer => {
    const w = new JuteWriter();
    writeRequest(w, q);
    const b = w.toBuffer();
    return cut === undefined ? b : b.subarray(0, cut);
  };
  let n = 0;
  const fresh = async (what: string): Promise<string> => {
    const name = `m${++n}`;
    t.zxidBase = undefined;
    await t.connect(name, what);
    await t.rebase(name);
    return name;
  };
  const after = async (): Promise<void> => {
    await t.flush();
    await t.call('r7', 'getChildren', '/m-probe');
  };
  let k = await fresh('for a truncated getData');
  await t.raw(k, 'getData with a truncated path', OpCode.getData, encode(get('/abcdef'), 6));
  await after();
  k = await fresh('for a getData with trailing bytes');
  await t.raw(
    k,
    'getData with trailing bytes',
    OpCode.getData,
    Buffer.concat([encode(get('/m-none')), Buffer.from([9])]),
  );
  await after();
  k = await fresh('for an exists with a null path');
  await t.raw(k, 'exists with a null path', OpCode.exists, Buffer.from([0xff, 0xff, 0xff, 0xff, 0]));
  await after();
  k = await fresh('for a multiRead containing create');
  await t.raw(k, 'multiRead containing create', OpCode.multiRead, {
    type: 22,
    ops: [get('/a'), create('/mr2')],
  });
  await after();
  k = await fresh('for a multi containing getData');
  await t.raw(k, 'multi containing getData', OpCode.multi, { type: 14, ops: [create('/mm'), get('/a')] });
  await after();
  k = await fresh('for a create with trailing bytes');
  await t.raw(
    k,
    'create with 3 trailing bytes',
    OpCode.create,
    Buffer.concat([encode(create('/m-probe')), Buffer.from([1, 2, 3])]),
  );
  await after();
  await t.known('a malformed write consumes a zxid in 3.8.0, not in 3.9', async () => {
    k = await fresh('for a truncated create');
    await t.raw(k, 'create with a truncated body', OpCode.create, encode(create('/m-probe/t', 0, 'x'), 12));
    await after();
    k = await fresh('for a create with a null path');
    await t.raw(
      k,
      'create with a null path',
      OpCode.create,
      Buffer.from('ffffffffffffffff0000000000000000', 'hex'),
    );
    await after();
  });
  k = await fresh('for sasl');
  await t.raw(k, 'sasl with an empty token', OpCode.sasl, Buffer.from([0, 0, 0, 0]));
  await after();
  for (const op of [0, 10, 23, 99, 108, 999, -1, -12]) {
    k = await fresh(`for opcode ${op}`);
    t.willClose(k);
    await t.raw(k, `unknown opcode ${op}`, op, null);
    await t.expectClosed(k);
  }
  k = await fresh('for reconfig');
  await t.raw(k, 'reconfig', OpCode.reconfig, {
    type: 16,
    joiningServers: null,
    leavingServers: null,
    newMembers: null,
    curConfigId: -1,
  });
  await after();
  k = await fresh('for createSession');
  await t.raw(k, 'createSession opcode', OpCode.createSession, null);
  await after();
  await t.known('3.8.0 parses the wrong bytes as the path of a client deleteContainer', async () => {
    k = await fresh('for deleteContainer');
    await t.raw(k, 'deleteContainer /m-probe', OpCode.deleteContainer, { type: 20, path: '/m-probe' });
    await after();
  });
  // 3.8.0 treats a standalone check as a write (an error txn on a version mismatch; on a match it
  // logs a txn, then the whole server goes down). 3.8.6+ and 3.9 answer UNIMPLEMENTED and close.
  await t.known('a standalone check is invalid since 3.8.6', async () => {
    k = await fresh('for a standalone check (version mismatch)');
    t.willClose(k);
    await t.raw(k, 'check / version 5', OpCode.check, check('/', 5));
    await t.expectClosed(k, 1000);
    await after();
  });
  // Re-based: the known 3.8.0 divergences above may have used up a zxid.
  await t.rebase('r7');
  t.willClose('r7');
  await t.call('r7', 'closeSession');
  await t.expectClosed('r7');
  t.zxidBase = undefined;
}

// ---- comparing transcripts ---------------------------------------------------------------------

export interface Comparison {
  /** The lines that must match (all but `~` lines) are identical. */
  equal: boolean;
  /** A unified diff of the lines that must match (empty when equal). */
  diff: string;
  /** Known version divergences (`~` lines) that differ, for information. */
  known: string;
}

/** Compares two transcripts: `~` lines (known version differences) are only reported. */
export function compareTranscripts(
  expected: readonly string[],
  actual: readonly string[],
  names: [string, string] = ['expected', 'actual'],
  maxLines = 300,
): Comparison {
  const strict = (l: readonly string[]) => l.filter((x) => !x.startsWith('~ '));
  const a = strict(expected);
  const b = strict(actual);
  const equal = a.length === b.length && a.every((x, i) => x === b[i]);
  const diff = equal ? '' : unifiedDiff(a, b, names, maxLines);
  const tilde = (l: readonly string[]) => l.filter((x) => x.startsWith('~ '));
  const ka = tilde(expected);
  const kb = tilde(actual);
  const same = ka.length === kb.length && ka.every((x, i) => x === kb[i]);
  return { equal, diff, known: same ? '' : unifiedDiff(ka, kb, names, maxLines) };
}

/** A unified diff (3 lines of context) computed from the longest common subsequence. */
export function unifiedDiff(
  a: readonly string[],
  b: readonly string[],
  names: [string, string],
  maxLines = 300,
): string {
  const n = a.length;
  const m = b.length;
  // lcs[i][j] = LCS length of a[i..] and b[j..], in one flat array.
  const w = m + 1;
  const lcs = new Int32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] =
        a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  type Op = { k: ' ' | '-' | '+'; line: string; ai: number; bi: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push({ k: ' ', line: a[i++]!, ai: i, bi: ++j });
    else if (i < n && (j === m || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!))
      ops.push({ k: '-', line: a[i++]!, ai: i, bi: j });
    else ops.push({ k: '+', line: b[j++]!, ai: i, bi: j });
  }
  const out = [`--- ${names[0]}`, `+++ ${names[1]}`];
  let truncated = false;
  for (let x = 0; x < ops.length; ) {
    if (ops[x]!.k === ' ') {
      x++;
      continue;
    }
    // A hunk: from 3 lines before this change to 3 lines after the last change within reach.
    const start = Math.max(0, x - 3);
    let end = x;
    let y = x;
    while (y < ops.length) {
      if (ops[y]!.k !== ' ') {
        end = y;
        y++;
      } else if (y - end <= 6) y++;
      else break;
    }
    const stop = Math.min(ops.length, end + 4);
    out.push(`@@ ${names[0]} line ${ops[start]!.ai} / ${names[1]} line ${ops[start]!.bi} @@`);
    for (let z = start; z < stop; z++) {
      const o = ops[z]!;
      if (out.length >= maxLines) {
        truncated = true;
        break;
      }
      out.push(`${o.k} ${o.line}`);
    }
    if (truncated) break;
    x = stop;
  }
  const total = ops.filter((o) => o.k !== ' ').length;
  out.push(truncated ? `... (diff truncated; ${total} changed lines in all)` : `(${total} changed lines)`);
  return out.join('\n');
}
