// Pins running processes, every thread of them, to a set of CPUs (taskset(1), from util-linux), and
// reads back where their threads may run. The benchmark uses it to give a role its own cores on a
// machine every member shares, as if it ran on its own host.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The CPUs a role gets when voters and observers are given cores of their own; null below 2 CPUs. */
export function ownCores(cpus = availableParallelism()): { voters: number[]; observers: number[] } | null {
  if (cpus < 2) return null;
  const half = Math.floor(cpus / 2);
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  return { voters: range(0, half), observers: range(half, cpus) };
}

/** Restricts every thread of `pid` (and the threads they start later) to `cpus`. */
export async function pin(pid: number, cpus: number[]): Promise<void> {
  await run('taskset', ['--all-tasks', '--cpu-list', '--pid', cpus.join(','), String(pid)]);
}

/** Threads of `pid` allowed on CPUs other than exactly `cpus` (0 when every thread is pinned). */
export function threadsNotPinned(pid: number, cpus: number[]): number {
  const want = listOf(cpus);
  let off = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
    if (allowed !== want) off++;
  }
  return off;
}

/** The kernel's form of a CPU list ("0-3,5"), for comparing with Cpus_allowed_list. */
export function listOf(cpus: number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
