// A write load from real clients (node-zookeeper-client), meant to run in a container on the test's
// network: `node writer.ts '<spec json>'`. Each writer creates /w/<name>-<seq> one after the other
// through its own connect string, and prints one JSON line per acknowledged create ({"ack": path})
// and per failure ({"error": ..., "writer": name}); a failed or timed-out create is never retried
// under the same path, so only acknowledged paths are claimed. A writer whose request fails or hangs
// drops its client and connects afresh. Closing stdin stops the writers; then {"done": true}.

import type { Client } from 'node-zookeeper-client';
import { call, connect } from '../lib/node-client.ts';

interface Spec {
  writers: { name: string; connectString: string }[];
  sessionTimeoutMs: number;
  /** A create not answered within this is given up (its outcome unknown). */
  opTimeoutMs: number;
  pauseMs: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let stopping = false;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} not answered within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function writer(name: string, connectString: string): Promise<void> {
  let client: Client | null = null;
  let seq = 0;
  while (!stopping) {
    try {
      client ??= await connect(connectString, spec.sessionTimeoutMs);
      const c: Client = client;
      const path = `/w/${name}-${String(seq++).padStart(6, '0')}`;
      await within(
        call<string>((cb) => c.create(path, Buffer.from(name), cb)),
        spec.opTimeoutMs,
        `create ${path}`,
      );
      emit({ ack: path });
    } catch (e) {
      emit({ error: (e as Error).message, writer: name });
      client?.close();
      client = null;
      await sleep(200);
    }
    await sleep(spec.pauseMs);
  }
  client?.close();
}

process.stdin.on('close', () => {
  stopping = true;
});
process.stdin.resume();
await Promise.all(spec.writers.map((w) => writer(w.name, w.connectString)));
emit({ done: true });
process.exit(0);
