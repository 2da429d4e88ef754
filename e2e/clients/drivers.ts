// Drives real, unmodified ZooKeeper client programs (Java zkCli.sh, the C cli_mt, Python kazoo) as child
// processes and turns what they print into values tests can assert on. Every child process is bounded in
// time and killed by its PID (or its own process group, for zkCli.sh whose JVM is a grandchild).

import { type ChildProcess, spawn } from 'node:child_process';
import { digestId as serverDigestId } from '../../peer/server/auth.ts';
import { CLI_MT, ZKCLI } from '../lib/servers.ts';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a program to completion with `input` on its stdin. On timeout its whole process group (it is started
 * as a group leader) is killed with SIGKILL, and the result says so.
 */
export function runBounded(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs: number; env?: Record<string, string> },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => {}); // the child may exit before reading everything
    child.stdin.end(opts.input ?? '');
  });
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The id of a ZooKeeper digest ACL for user and password. */
export function digestId(user: string, password: string): string {
  return serverDigestId(`${user}:${password}`);
}

// ---------------------------------------------------------------------------------------------------------
// Java zkCli.sh

export interface WatchedEvent {
  state: string;
  type: string;
  path: string;
}

export interface ZkCliSession {
  /** What each command printed (stdout and stderr, in order), one string per command, lines joined by \n. */
  outputs: string[];
  /** Watch events printed by the CLI's default watcher, in arrival order, connection events excluded. */
  events: WatchedEvent[];
  code: number | null;
  raw: string;
}

const ZKCLI_MARKER_CMD = 'printwatches';
const ZKCLI_MARKER_OUT = 'printwatches is on';
const ZKCLI_NOISE = [
  /^SLF4J: /,
  /^Connecting to /,
  /^Welcome to ZooKeeper!$/,
  /^JLine support is (dis|en)abled$/,
];

/**
 * Feeds `commands` to one interactive zkCli.sh session through stdin. Each command is followed by
 * `printwatches` (the client-only command that prints "printwatches is on"), which splits the merged
 * output into one piece per command. Watch notifications, printed asynchronously, are taken out of the
 * pieces and returned apart.
 */
export async function zkCliSession(
  connectString: string,
  commands: string[],
  timeoutMs = 60_000,
): Promise<ZkCliSession> {
  for (const c of commands) {
    if (c.includes('\n') || c.trim() === '' || c.startsWith(ZKCLI_MARKER_CMD) || c === 'quit') {
      throw new Error(`zkCliSession cannot run command ${JSON.stringify(c)}`);
    }
  }
  // `quit` closes the session (end of input alone would exit without closing it).
  const input = `${commands.map((c) => `${c}\n${ZKCLI_MARKER_CMD}\n`).join('')}quit\n`;
  // stderr goes to the same pipe as stdout so that the order of the lines is kept.
  const res = await runBounded('bash', ['-c', 'exec "$@" 2>&1', 'zkcli', ZKCLI, '-server', connectString], {
    input,
    timeoutMs,
  });
  const raw = res.stdout + res.stderr;
  if (res.timedOut) throw new Error(`zkCli.sh timed out after ${timeoutMs} ms; output:\n${raw}`);
  const lines = raw.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const events: WatchedEvent[] = [];
  const kept: string[] = [];
  for (const line of lines) {
    if (line === 'WATCHER::' || line.startsWith('WatchedEvent ')) {
      // printMessage() prints "\n" before each of these two lines.
      if (kept.at(-1) === '') kept.pop();
      const m = /^WatchedEvent state:(\S+) type:(\S+) path:(.*)$/.exec(line);
      if (m && m[2] !== 'None') events.push({ state: m[1]!, type: m[2]!, path: m[3]! });
      continue;
    }
    if (ZKCLI_NOISE.some((re) => re.test(line))) continue;
    kept.push(line);
  }
  const outputs: string[] = [];
  let cur: string[] = [];
  for (const line of kept) {
    if (line === ZKCLI_MARKER_OUT) {
      outputs.push(cur.join('\n'));
      cur = [];
    } else cur.push(line);
  }
  const tail = cur.join('\n').trim();
  if (outputs.length !== commands.length || tail !== '') {
    throw new Error(
      `zkCli.sh: expected ${commands.length} command outputs, got ${outputs.length} (tail ${JSON.stringify(tail)}); ` +
        `exit ${res.code}; output:\n${raw}`,
    );
  }
  return { outputs, events, code: res.code, raw };
}

/** Runs zkCli.sh with one command as arguments (its non-interactive mode). */
export async function zkCliArgs(
  connectString: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<RunResult> {
  const res = await runBounded(ZKCLI, ['-server', connectString, ...args], { timeoutMs });
  if (res.timedOut)
    throw new Error(`zkCli.sh ${args.join(' ')} timed out; output:\n${res.stdout}${res.stderr}`);
  return res;
}

/** Parses the "key = value" lines zkCli prints for a Stat. */
export function parseZkCliStat(text: string): Record<string, string> {
  const stat: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+) = (.*)$/.exec(line);
    if (m) stat[m[1]!] = m[2]!;
  }
  return stat;
}

/** The lines of a zkCli output that are not part of a printed Stat. */
export function nonStatLines(text: string): string[] {
  return text.split('\n').filter((l) => !/^(\w+) = /.test(l));
}

// ---------------------------------------------------------------------------------------------------------
// C client cli_mt

/**
 * One interactive cli_mt process. Requests are asynchronous in cli_mt, so after each command a `sync /` is
 * sent: the C client delivers completions in request order, so its completion ("[/]: rc = N") marks the
 * end of everything the command printed.
 */
export class CliMt {
  readonly proc: ChildProcess;
  sessionId = '';
  #out = '';
  #consumed = 0;
  #waiters: Array<() => void> = [];
  #exited: Promise<void>;

  private constructor(connectString: string) {
    this.proc = spawn(CLI_MT, [connectString], { stdio: ['pipe', 'pipe', 'pipe'] });
    const add = (c: Buffer) => {
      this.#out += c.toString();
      for (const w of this.#waiters.splice(0)) w();
    };
    // cli_mt prints nearly everything to stderr (stdout is block-buffered and only used by `myid`).
    this.proc.stderr!.on('data', add);
    this.proc.stdout!.on('data', () => {});
    this.proc.stdin!.on('error', () => {});
    this.#exited = new Promise((r) => this.proc.once('exit', () => r()));
    this.proc.once('exit', () => {
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async start(connectString: string, timeoutMs = 15_000): Promise<CliMt> {
    const cli = new CliMt(connectString);
    try {
      const m = await cli.#waitFor(0, /Got a new session id: 0x([0-9a-f]+)\n/, timeoutMs);
      cli.sessionId = m[1]!;
      cli.#consumed = m.index + m[0].length;
    } catch (e) {
      await cli.close();
      throw e;
    }
    return cli;
  }

  get transcript(): string {
    return this.#out;
  }

  /**
   * Sends one command and returns everything printed since the previous command's completion up to this
   * one's: its own output and any watch events that arrived in between.
   */
  async run(cmd: string, timeoutMs = 15_000): Promise<string> {
    const from = this.#consumed;
    this.proc.stdin!.write(`${cmd}\nsync /\n`);
    const m = await this.#waitFor(from, /^\[\/\]: rc = (?:0\n\tname = \/\n|-\d+\n)/m, timeoutMs);
    this.#consumed = from + m.index + m[0].length;
    return this.#out.slice(from, from + m.index);
  }

  async #waitFor(from: number, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.#out.slice(from));
      if (m) return m;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`cli_mt exited; output:\n${this.#out}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`cli_mt: no ${re} within ${timeoutMs} ms; output:\n${this.#out}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends `quit` (which closes the session) and waits for the exit; SIGKILL by PID if it hangs. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin!.end('quit\n');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(t);
  }
}

/** Parses a cli_mt Stat dump ("\tczxid=..", "\tversion=%x\taversion=%x", ...) into numbers/strings. */
export function parseCliMtStat(text: string): Record<string, string> {
  const stat: Record<string, string> = {};
  for (const m of text.matchAll(/\t(czxid|mzxid|version|aversion|ephemeralOwner) ?= ?(\S+)/g)) {
    stat[m[1]!] = m[2]!;
  }
  return stat;
}

// ---------------------------------------------------------------------------------------------------------
// Python kazoo

export const KAZOO_SCENARIO = new URL('./kazoo_scenario.py', import.meta.url).pathname;
