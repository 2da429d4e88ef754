// Smoke test of the ensemble benchmark (bench/ensemble.ts): one tiny peer ensemble, a second or two of
// writes, and a report whose numbers are sane. Also the pure helpers and the command line.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchArgs } from './cli.ts';
import { parseTopologies } from './cluster.ts';
import { baselineTopology, renderEnsembleMarkdown, runEnsembleBenchmark } from './ensemble.ts';
import { spreadConnections } from './workloads/throughput.ts';

test('topologies parse, and the baseline is 3+0 when present', () => {
  const t = parseTopologies('3+0, 3+1,3+4,5,7+0');
  assert.deepEqual(
    t.map((x) => [x.voters, x.observers, x.label]),
    [
      [3, 0, '3+0'],
      [3, 1, '3+1'],
      [3, 4, '3+4'],
      [5, 0, '5+0'],
      [7, 0, '7+0'],
    ],
  );
  assert.equal(baselineTopology(t).label, '3+0');
  assert.equal(baselineTopology(parseTopologies('5+2,5+0,7+0')).label, '5+0');
  assert.throws(() => parseTopologies('1+2'), /at least 2 voters/);
  assert.throws(() => parseTopologies('3-1'), /VOTERS\+OBSERVERS/);
  assert.throws(() => parseTopologies('3+0,3'), /twice/);
});

test('connections are spread evenly over the voters only', () => {
  assert.deepEqual(
    [...spreadConnections([1, 2, 3], 32)],
    [
      [1, 11],
      [2, 11],
      [3, 10],
    ],
  );
  assert.deepEqual(
    [...spreadConnections([1, 2, 3, 4, 5], 2)],
    [
      [1, 1],
      [2, 1],
    ],
  );
});

test('the command line selects ensemble mode with --topologies', () => {
  const p = parseBenchArgs(['--topologies', '3+0,3+2', '--target', 'peer', '--duration', '1.5']);
  assert.ok(p?.ensemble);
  assert.deepEqual(
    p.ensemble.topologies.map((t) => t.label),
    ['3+0', '3+2'],
  );
  assert.deepEqual(p.ensemble.targets, ['peer']);
  assert.deepEqual(p.ensemble.workloads, ['setData']);
  assert.equal(p.ensemble.durationMs, 1500);
  assert.throws(() => parseBenchArgs(['--topologies', '3+0', '--target', 'stub']), /not stub/);
  assert.throws(() => parseBenchArgs(['--zk-heap', '1g']), /needs --topologies/);
  assert.equal(parseBenchArgs(['--target', 'peer'])?.ensemble, undefined);
});

test('a 2+1 peer ensemble under write load gives a sane report', { timeout: 90_000 }, async () => {
  const lines: string[] = [];
  const report = await runEnsembleBenchmark({
    topologies: parseTopologies('2+1'),
    targets: ['peer'],
    workloads: ['setData'],
    connections: 4,
    inflight: 4,
    valueSize: 50,
    warmupMs: 300,
    durationMs: 1500,
    rounds: 1,
    config: {},
    zkHeap: '128m',
    formTimeoutMs: 30_000,
    quietWaitMs: 0,
    quietCores: 0.25,
    log: (l) => lines.push(l),
  });
  const failed = report.cells.filter((c) => !c.ok);
  assert.deepEqual(
    failed.map((c) => c.error),
    [],
    lines.join('\n'),
  );
  assert.equal(report.cells.length, 1);
  const cell = report.cells[0]!;
  assert.equal(cell.topology, '2+1');
  assert.equal(Object.values(cell.roles).filter((r) => r === 'leader').length, 1);
  assert.equal(cell.roles['3'], 'observer');
  // Clients go to the two voters, none to the observer.
  assert.deepEqual(cell.connectionsBySid, { '1': 2, '2': 2 });
  assert.ok(cell.ops > 0 && cell.opsPerSec > 0, `ops ${cell.ops}`);
  assert.equal(cell.errors, 0);
  assert.ok(cell.seconds > 1 && cell.seconds < 5, `measured ${cell.seconds} s`);
  const lat = cell.latencyMs;
  assert.equal(lat.count, cell.ops);
  assert.ok(lat.p50 > 0 && lat.p50 <= lat.p99 && lat.p99 <= lat.max, JSON.stringify(lat));
  assert.ok(cell.cpuCores.leader !== null && cell.cpuCores.leader > 0, 'the leader used CPU');
  assert.ok(cell.cpuCores.observers !== null && cell.cpuCores.observers > 0, 'the observer used CPU');
  const agg = report.aggregates[0]!;
  assert.equal(agg.rounds, 1);
  assert.ok(Math.abs(agg.opsPerSec - cell.opsPerSec) / cell.opsPerSec < 0.05);
  assert.match(report.header.servers.peer ?? '', /version/i);
  const md = renderEnsembleMarkdown(report);
  assert.match(md, new RegExp(`\\| 2\\+1 \\| ${Math.round(agg.opsPerSec)} \\|`));
  assert.match(md, /No client connects to an observer/);
});
