// Differential test: one scripted scenario (e2e/lib/scenario.ts) runs against Apache ZooKeeper and
// against the peer, each standalone on a fresh data dir; the transcripts must be identical, apart
// from `~` lines, which record known differences between ZooKeeper releases (the tests run 3.8.0,
// the peer follows 3.9) and are only reported.
//
// ZKE_DIFF_SELFCHECK=1 also runs ZooKeeper against ZooKeeper, proving the scenario deterministic.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { compareTranscripts, runScenario } from './lib/scenario.ts';
import { type RunningServer, type ServerKind, startServer } from './lib/servers.ts';

// ZooKeeper reads unknown zoo.cfg keys as zookeeper.* system properties; the peer reads this one.
const CONFIG = { extendedTypesEnabled: 'true' };

async function transcriptOf(kind: ServerKind, file: string): Promise<string[]> {
  let server: RunningServer | undefined;
  try {
    server = await startServer(kind, { config: CONFIG });
    const lines = await runScenario(server.host, server.port);
    writeFileSync(join(tmpdir(), file), `${lines.join('\n')}\n`);
    return lines;
  } finally {
    await server?.stop();
  }
}

function check(expected: string[], actual: string[], names: [string, string]): void {
  const c = compareTranscripts(expected, actual, names);
  if (c.known) console.log(`Known version differences (not failures):\n${c.known}`);
  assert.ok(
    c.equal,
    `transcripts differ (full transcripts in ${tmpdir()}/zke-differential-*.txt):\n${c.diff}`,
  );
}

test('the peer answers the scripted scenario exactly as Apache ZooKeeper does', {
  timeout: 180_000,
}, async () => {
  const [zk, peer] = await Promise.all([
    transcriptOf('zookeeper', 'zke-differential-zookeeper.txt'),
    transcriptOf('peer', 'zke-differential-peer.txt'),
  ]);
  assert.ok(zk.length > 500, 'the ZooKeeper transcript is complete');
  assert.ok(
    !zk.some((l) => l.startsWith('SCENARIO ABORTED')),
    'the scenario ran to its end against ZooKeeper',
  );
  check(zk, peer, ['zookeeper', 'peer']);
});

test('the scenario is deterministic: ZooKeeper vs ZooKeeper', {
  timeout: 180_000,
  skip: process.env.ZKE_DIFF_SELFCHECK ? false : 'set ZKE_DIFF_SELFCHECK=1',
}, async () => {
  const [a, b] = await Promise.all([
    transcriptOf('zookeeper', 'zke-differential-zookeeper-a.txt'),
    transcriptOf('zookeeper', 'zke-differential-zookeeper-b.txt'),
  ]);
  const c = compareTranscripts(a, b, ['zookeeper-a', 'zookeeper-b']);
  assert.ok(c.equal && !c.known, `ZooKeeper transcripts differ:\n${c.diff}\n${c.known}`);
});
