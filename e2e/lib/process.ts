// Ending the child processes a test started, by PID, and always within a bound.

import type { ChildProcess } from 'node:child_process';

/** Neither exited nor killed by a signal yet. */
export function isRunning(p: ChildProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}

/**
 * Sends `signal` (default SIGTERM), then SIGKILL if the child is still there after graceMs, and
 * resolves once it has exited. Does nothing for a child that has already exited.
 */
export async function stopChild(
  p: ChildProcess,
  { graceMs = 5000, signal = 'SIGTERM' }: { graceMs?: number; signal?: NodeJS.Signals } = {},
): Promise<void> {
  if (!isRunning(p)) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Whether a process with this pid is still there (signal 0 delivers nothing), e.g. the creator of a stale resource. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
