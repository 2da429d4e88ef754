// What the benchmark reports (bench/run.ts, bench/ensemble.ts, bench/suite/) say about where they
// ran: the machine, and the version line each server under test answers `srvr` with.

import os from 'node:os';
import { fourLetterWord } from '../e2e/lib/servers.ts';

export interface HostInfo {
  cpus: number;
  cpuModel: string;
  memoryMiB: number;
  kernel: string;
  node: string;
}

export function hostInfo(): HostInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    kernel: os.release(),
    node: process.version,
  };
}

/** The first line of the server's `srvr` reply ("Zookeeper version: ..."). */
export async function serverVersion(host: string, port: number): Promise<string> {
  try {
    const srvr = await fourLetterWord(host, port, 'srvr', 3000);
    return srvr.split('\n')[0]?.trim() || 'unknown';
  } catch {
    return 'unknown (srvr failed)';
  }
}
