// Calibration probes (perf-anchors.md §5.3, §7.1): what the disk and loopback of this machine can
// do at all, measured before and after the suite so that a drifting machine shows in the report.
// fsync: 1 KB pwrite + fdatasync into a pre-allocated file in the directory the servers' data
// dirs go to. RTT: 64-byte ping-pong over loopback TCP with a child Node process.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Histogram } from './histogram.ts';

export interface ProbeResult {
  iterations: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

function result(h: Histogram): ProbeResult {
  return {
    iterations: h.count,
    p50Us: h.percentile(50),
    p99Us: h.percentile(99),
    meanUs: h.count ? Math.round(h.sum / h.count) : 0,
  };
}

export function probeFsync(iterations: number): ProbeResult {
  const dir = mkdtempSync(join(tmpdir(), 'zke-probe-'));
  const block = Buffer.alloc(1024, 0x61);
  const h = new Histogram();
  try {
    const fd = openSync(join(dir, 'probe'), 'w');
    try {
      const big = Buffer.alloc(64 * 1024);
      for (let off = 0; off < iterations * 1024; off += big.length) writeSync(fd, big, 0, big.length, off);
      fdatasyncSync(fd);
      for (let i = 0; i < iterations; i++) {
        const t = performance.now();
        writeSync(fd, block, 0, block.length, i * 1024);
        fdatasyncSync(fd);
        h.record((performance.now() - t) * 1000);
      }
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result(h);
}

const ECHO = `const s=require('net').createServer(c=>{c.setNoDelay(true);c.on('data',d=>c.write(d))});
s.listen(0,'127.0.0.1',()=>process.stdout.write(s.address().port+'\\n'));`;

export async function probeRtt(iterations: number): Promise<ProbeResult> {
  const child = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const port = Number(line.toString().trim());
    const sock = net.connect({ host: '127.0.0.1', port, noDelay: true });
    await once(sock, 'connect');
    const msg = Buffer.alloc(64, 0x62);
    const h = new Histogram();
    let got = 0;
    let t = 0;
    let left = iterations;
    await new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        got += d.length;
        if (got < msg.length) return;
        got = 0;
        h.record((performance.now() - t) * 1000);
        if (--left === 0) return resolve();
        t = performance.now();
        sock.write(msg);
      });
      t = performance.now();
      sock.write(msg);
    });
    sock.destroy();
    return result(h);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
}
