// A private network of Linux network namespaces for partition tests: one namespace per host, each
// with a veth pair into a bridge that lives in a switch namespace of its own. Nothing is added to the
// root namespace (traffic from the root namespace to these addresses would leave the machine), so
// every process that talks to a host address must run inside one of the namespaces: `spawn` does
// that with `ip netns exec`.
//
// Partitions: `isolate(host)` sets the host's switch-side veth down (cut off from everyone);
// `split(groups)` moves each group's veths onto a bridge of its own (hosts of a group still reach
// each other). `heal()` undoes both and flushes every namespace's neighbour cache.

import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { pidAlive } from './process.ts';

export interface NetHost {
  name: string;
  /** The namespace's name (for `ip netns exec`). */
  ns: string;
  addr: string;
  /** The host's veth as seen in the switch namespace. */
  port: string;
}

export interface NetnsNetwork {
  /** Every namespace name starts with this. */
  prefix: string;
  switchNs: string;
  hosts: Map<string, NetHost>;
  host(name: string): NetHost;
  /** Spawns `argv` inside the host's namespace; the child's pid is the command's own (ip execs it). */
  spawn(host: string, argv: string[], opts?: SpawnOptions): ChildProcess;
  /** Runs a command inside the host's namespace; rejects on a non-zero exit. */
  run(host: string, argv: string[], timeoutMs?: number): Promise<string>;
  /** Cuts the host off from every other host (its switch-side veth down). */
  isolate(host: string): Promise<void>;
  /** Each group gets a bridge of its own; hosts named in no group stay on the main bridge. */
  split(groups: string[][]): Promise<void>;
  /** Every veth up and on the main bridge; neighbour caches flushed everywhere. */
  heal(): Promise<void>;
  /** Checks with one-shot TCP listeners that every host reaches every other host. */
  checkConnectivity(): Promise<void>;
  /** Deletes every namespace (and with them the veths and bridges). Safe to call twice. */
  destroy(): Promise<void>;
}

const IP = 'ip';
const NS_PREFIX = 'zkpart';

export function ipCommand(args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(IP, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** What this (root, Linux) machine lacks for namespace tests (iproute2, `ip netns`, veth, bridges), or null. */
export async function netnsMissing(): Promise<string | null> {
  try {
    await ipCommand(['-V'], 5000);
  } catch (e) {
    return `iproute2's ip is unavailable: ${(e as Error).message}`;
  }
  const probe = `${NS_PREFIX}-${process.pid}-probe`;
  try {
    await ipCommand(['netns', 'add', probe]);
  } catch (e) {
    return `ip netns add fails: ${(e as Error).message}`;
  }
  try {
    await ipCommand(['-n', probe, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    await ipCommand(['-n', probe, 'link', 'add', 'b0', 'type', 'bridge']);
  } catch (e) {
    return `veth or bridge links cannot be created: ${(e as Error).message}`;
  } finally {
    await ipCommand(['netns', 'delete', probe]).catch(() => {});
  }
  return null;
}

/** Deletes namespaces that earlier runs of these tests left behind (their creating process is gone). */
export async function removeStaleNamespaces(): Promise<void> {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${NS_PREFIX}-(\\d+)-`).exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    if (!pidAlive(Number(m[1]))) await ipCommand(['netns', 'delete', name]).catch(() => {});
  }
}

let networks = 0;

/**
 * Creates the network: hosts get `${subnet}.1`, `.2`, ... in the order given (a /24), unless
 * `addressOf` says otherwise. Namespace names are unique to this process, so runs do not collide.
 */
export async function createNetwork(
  hostNames: string[],
  subnet = '10.231.0',
  addressOf?: (name: string, index: number) => string,
): Promise<NetnsNetwork> {
  const prefix = `${NS_PREFIX}-${process.pid}-${++networks}`;
  const switchNs = `${prefix}-sw`;
  const hosts = new Map<string, NetHost>();
  hostNames.forEach((name, i) => {
    hosts.set(name, {
      name,
      ns: `${prefix}-${name}`,
      addr: addressOf?.(name, i) ?? `${subnet}.${i + 1}`,
      port: `p${i}`,
    });
  });
  const created: string[] = [];
  const bridges = new Set<string>(['br0']);
  let destroyed = false;

  const net: NetnsNetwork = {
    prefix,
    switchNs,
    hosts,
    host(name) {
      const h = hosts.get(name);
      if (!h) throw new Error(`no host ${name}`);
      return h;
    },
    spawn(host, argv, opts = {}) {
      return spawn(IP, ['netns', 'exec', net.host(host).ns, ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
        ...opts,
      });
    },
    run(host, argv, timeoutMs = 10_000) {
      return ipCommand(['netns', 'exec', net.host(host).ns, ...argv], timeoutMs);
    },
    async isolate(host) {
      await ipCommand(['-n', switchNs, 'link', 'set', net.host(host).port, 'down']);
    },
    async split(groups) {
      let n = 0;
      for (const group of groups) {
        const br = `br${++n}`;
        if (!bridges.has(br)) {
          await ipCommand(['-n', switchNs, 'link', 'add', br, 'type', 'bridge']);
          await ipCommand(['-n', switchNs, 'link', 'set', br, 'up']);
          bridges.add(br);
        }
        for (const h of group)
          await ipCommand(['-n', switchNs, 'link', 'set', net.host(h).port, 'master', br]);
      }
    },
    async heal() {
      for (const h of hosts.values()) {
        await ipCommand(['-n', switchNs, 'link', 'set', h.port, 'master', 'br0']);
        await ipCommand(['-n', switchNs, 'link', 'set', h.port, 'up']);
      }
      // Entries that failed to resolve while cut off would otherwise delay the first packets.
      for (const h of hosts.values()) await ipCommand(['-n', h.ns, 'neigh', 'flush', 'all']);
    },
    async checkConnectivity() {
      const names = [...hosts.keys()];
      const port = 7999;
      // One listener per host accepting a connection from every other host, then one prober per host.
      const listeners = names.map((name) =>
        runNode(net, name, LISTENER, [net.host(name).addr, String(port), String(names.length - 1)], 10_000),
      );
      await Promise.all(listeners.map((l) => l.ready));
      const probes = names.map((name) =>
        runNode(
          net,
          name,
          PROBER,
          [String(port), ...names.filter((n) => n !== name).map((n) => net.host(n).addr)],
          10_000,
        ),
      );
      const failures: string[] = [];
      for (const [i, p] of probes.entries()) {
        const out = await p.done;
        if (out.code !== 0) failures.push(`from ${names[i]}: ${out.stdout.trim()} ${out.stderr.trim()}`);
      }
      for (const [i, l] of listeners.entries()) {
        const out = await l.done;
        if (out.code !== 0) failures.push(`listener ${names[i]}: ${out.stdout.trim()} ${out.stderr.trim()}`);
      }
      if (failures.length > 0) throw new Error(`namespace network does not work:\n${failures.join('\n')}`);
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      // Deleting a host's namespace destroys its veth end and with it the switch end; the bridges go
      // with the switch namespace.
      for (const ns of [...created].reverse()) await ipCommand(['netns', 'delete', ns]).catch(() => {});
    },
  };

  try {
    await ipCommand(['netns', 'add', switchNs]);
    created.push(switchNs);
    await ipCommand(['-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await ipCommand(['-n', switchNs, 'link', 'set', 'br0', 'up']);
    for (const h of hosts.values()) {
      await ipCommand(['netns', 'add', h.ns]);
      created.push(h.ns);
      // Both ends are created directly in their namespaces: nothing touches the root namespace.
      await ipCommand([
        '-n',
        switchNs,
        'link',
        'add',
        h.port,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        h.ns,
      ]);
      await ipCommand(['-n', switchNs, 'link', 'set', h.port, 'master', 'br0']);
      await ipCommand(['-n', switchNs, 'link', 'set', h.port, 'up']);
      await ipCommand(['-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', 'eth0']);
      await ipCommand(['-n', h.ns, 'link', 'set', 'eth0', 'up']);
      await ipCommand(['-n', h.ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (e) {
    await net.destroy();
    throw e;
  }
  return net;
}

const LISTENER = `
const net = require('node:net');
const [host, port, expect] = process.argv.slice(1);
let left = Number(expect);
const srv = net.createServer((s) => { s.end('ok'); if (--left === 0) srv.close(); });
srv.listen(Number(port), host, () => { console.log('ready'); if (left === 0) srv.close(); });
`;

const PROBER = `
const net = require('node:net');
const [port, ...addrs] = process.argv.slice(1);
let bad = 0;
Promise.all(addrs.map((host) => new Promise((done) => {
  const s = net.connect({ host, port: Number(port) });
  let got = '';
  s.on('data', (c) => (got += c));
  s.on('error', (e) => { console.log(host + ': ' + e.message); bad++; done(); });
  s.on('close', () => { if (got !== 'ok') { console.log(host + ': no greeting'); bad++; } done(); });
}))).then(() => process.exit(bad ? 1 : 0));
`;

function runNode(
  net: NetnsNetwork,
  host: string,
  script: string,
  args: string[],
  timeoutMs: number,
): { ready: Promise<void>; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = net.spawn(host, [process.execPath, '-e', script, ...args]);
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    onReady = r;
  });
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
    if (stdout.includes('ready')) onReady();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      onReady();
      resolve({ code, stdout, stderr });
    });
  });
  return { ready, done };
}
