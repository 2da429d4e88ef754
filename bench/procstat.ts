// What the benchmarks read from /proc: CPU time of processes and of the whole machine, resident
// memory, loopback traffic, and the split of a measurement window's CPU between the members of the
// ensemble under test, the load generator, the kernel and everything else on the machine.

import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100;

/** utime + stime of a process in seconds, from /proc/PID/stat; null if unreadable. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * Resident set size of a process in bytes (VmRSS), or with `anon` only its anonymous part
 * (RssAnon: heap and other private memory, without the mapped executable and libraries, which
 * processes running the same binary share); null if unreadable.
 */
export function rssBytes(pid: number, anon = false): number | null {
  try {
    const re = anon ? /^RssAnon:\s+(\d+) kB/m : /^VmRSS:\s+(\d+) kB/m;
    const m = re.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Bytes received on the loopback interface since boot (every byte sent is received once). */
export function loopbackBytes(): number | null {
  try {
    const line = readFileSync('/proc/net/dev', 'utf8')
      .split('\n')
      .find((l) => l.trim().startsWith('lo:'));
    return line ? Number(line.split(':')[1]!.trim().split(/\s+/)[0]) : null;
  } catch {
    return null;
  }
}

export interface MachineTimes {
  /** user + nice + system */
  processes: number;
  /** irq + softirq */
  irq: number;
  steal: number;
}

/** CPU seconds of the whole machine (all cores) since boot, from /proc/stat; null if unreadable. */
export function machineTimes(): MachineTimes | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // user nice system idle iowait irq softirq steal, in clock ticks
    const v = line
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map((x) => Number(x) / CLK_TCK);
    return { processes: v[0]! + v[1]! + v[2]!, irq: v[5]! + v[6]!, steal: v[7]! };
  } catch {
    return null;
  }
}

export function machineBusySeconds(): number | null {
  const t = machineTimes();
  return t && t.processes + t.irq;
}

export interface ProcEntry {
  comm: string;
  /** A kernel thread (a child of kthreadd, pid 2). */
  kernel: boolean;
  seconds: number;
}

/** utime + stime of every process on the machine right now, from /proc/PID/stat. */
export function processTable(): Map<number, ProcEntry> {
  const out = new Map<number, ProcEntry>();
  let names: string[];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      // f[1] is field 4 (ppid); utime and stime are fields 14 and 15.
      out.set(Number(n), {
        comm: stat.slice(stat.indexOf('(') + 1, close),
        kernel: f[1] === '2' || n === '2',
        seconds: (Number(f[11]) + Number(f[12])) / CLK_TCK,
      });
    } catch {}
  }
  return out;
}

export type Role = 'leader' | 'follower' | 'observer' | 'standalone';

export interface CpuByRole {
  /** In cores (1.0 = one core busy) over the measurement window; null when unmeasured. */
  leader: number | null;
  /** Sum over the followers. */
  followers: number | null;
  /** Sum over the observers (0 without observers). */
  observers: number | null;
  loadgen: number;
  /** The whole machine: user + system + interrupts of every process. */
  machine: number | null;
  /**
   * The kernel's own work, charged to no process: kernel threads (the ext4 journal committing the
   * members' fsyncs, writeback) and interrupt/softirq time (mostly the loopback network).
   */
  kernel: number | null;
  /** Time the hypervisor gave to other virtual machines while this one wanted to run. */
  steal: number | null;
  /** Processes other than the members, the load generator and kernel threads: other work. */
  others: number | null;
}

/** CPU use when nothing could be measured. */
export function noCpu(): CpuByRole {
  return {
    leader: null,
    followers: null,
    observers: null,
    loadgen: 0,
    machine: null,
    kernel: null,
    steal: null,
    others: null,
  };
}

export interface CpuSample {
  at: number;
  /** CPU seconds per member sid. */
  cpu: Map<number, number | null>;
  self: NodeJS.CpuUsage;
  machine: MachineTimes | null;
  procs: Map<number, ProcEntry>;
  loopback: number | null;
}

/** A snapshot of the members' (sid → pid) and the machine's CPU counters. */
export function sampleCpu(pids: Map<number, number>): CpuSample {
  return {
    at: performance.now(),
    cpu: new Map([...pids].map(([sid, pid]) => [sid, processCpuSeconds(pid)])),
    self: process.cpuUsage(),
    machine: machineTimes(),
    procs: processTable(),
    loopback: loopbackBytes(),
  };
}

export interface CpuWindow {
  seconds: number;
  byRole: CpuByRole;
  /** Per member sid, in cores. */
  members: Record<string, number | null>;
  /** All members together, in cores; null when one could not be read. */
  membersTotal: number | null;
  /** The busiest processes outside the benchmark during the window ("name[pid] cores"). */
  busiestOthers: string[];
  /** Loopback bytes over the window. */
  loopbackBytes: number | null;
}

/** Cores used between two samples, per member, per role, and by the rest of the machine. */
export function cpuBetween(
  roles: Record<string, Role>,
  leaderSid: number,
  a: CpuSample | null,
  b: CpuSample | null,
  pids: Map<number, number>,
): CpuWindow {
  const members: Record<string, number | null> = {};
  if (!a || !b || b.at <= a.at)
    return {
      seconds: 0,
      byRole: noCpu(),
      members,
      membersTotal: null,
      busiestOthers: [],
      loopbackBytes: null,
    };
  const dt = (b.at - a.at) / 1000;
  const sids = [...pids.keys()];
  for (const sid of sids) {
    const c0 = a.cpu.get(sid);
    const c1 = b.cpu.get(sid);
    members[sid] = c0 != null && c1 != null ? (c1 - c0) / dt : null;
  }
  const sumRole = (role: Role): number | null => {
    const v = sids.filter((sid) => roles[sid] === role).map((sid) => members[sid]);
    return v.some((x) => x === null) ? null : v.reduce<number>((s, x) => s + x!, 0);
  };
  const loadgen = (b.self.user - a.self.user + b.self.system - a.self.system) / 1e6 / dt;
  const all = Object.values(members);
  const membersTotal = all.some((x) => x === null) ? null : all.reduce<number>((s, x) => s + x!, 0);
  const m0 = a.machine;
  const m1 = b.machine;
  const processes = m0 && m1 ? (m1.processes - m0.processes) / dt : null;
  const irq = m0 && m1 ? (m1.irq - m0.irq) / dt : null;
  // Kernel threads, and the busiest other processes (to tell other work from measurement error).
  let kthreads = 0;
  const ours = new Set<number>([process.pid, process.ppid, ...pids.values()]);
  const others: Array<[string, number]> = [];
  for (const [pid, p1] of b.procs) {
    const d = (p1.seconds - (a.procs.get(pid)?.seconds ?? 0)) / dt;
    if (p1.kernel) kthreads += d;
    else if (!ours.has(pid) && d >= 0.02) others.push([`${p1.comm}[${pid}]`, d]);
  }
  others.sort((x, y) => y[1] - x[1]);
  return {
    seconds: dt,
    members,
    membersTotal,
    busiestOthers: others.slice(0, 3).map(([name, d]) => `${name} ${d.toFixed(2)}`),
    loopbackBytes: a.loopback !== null && b.loopback !== null ? b.loopback - a.loopback : null,
    byRole: {
      leader: members[leaderSid] ?? null,
      followers: sumRole('follower'),
      observers: sumRole('observer'),
      loadgen,
      machine: processes !== null && irq !== null ? processes + irq : null,
      kernel: irq === null ? null : irq + kthreads,
      steal: m0 && m1 ? (m1.steal - m0.steal) / dt : null,
      others:
        processes !== null && membersTotal !== null
          ? Math.max(0, processes - membersTotal - loadgen - kthreads)
          : null,
    },
  };
}
