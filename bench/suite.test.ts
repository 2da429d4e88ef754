// The benchmark suite (bench/suite/): the smoke suite runs every workload's code path on both
// targets at toy sizes and must give a complete, sane report; the pure parts (mix, aggregation,
// verdicts, SVG, command line) are checked on their own. No timing thresholds.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBenchArgs } from './cli.ts';
import { Histogram } from './histogram.ts';
import { isWrite } from './loadgen.ts';
import { ownCores } from './pinning.ts';
import { aggregate, judgeTargets, ratios } from './suite/aggregate.ts';
import { readSuiteReport, writeSuiteReport } from './suite/output.ts';
import { fullPlan, smokePlan } from './suite/plan.ts';
import { runSuite } from './suite/runner.ts';
import { HALF_RATE, type Measurement, OWN_CORES, WORKLOAD_IDS } from './suite/types.ts';
import { niceTicks, renderBarChart, renderLineChart } from './svg.ts';

test('a write share is spread evenly over the requests', () => {
  for (const pct of [0, 10, 30, 50, 80, 100]) {
    const writes = Array.from({ length: 1000 }, (_, i) => isWrite(i, pct)).filter(Boolean).length;
    assert.equal(writes, pct * 10, `${pct}%`);
  }
  // 50%: every other request.
  assert.deepEqual(
    Array.from({ length: 4 }, (_, i) => isWrite(i, 50)),
    [false, true, false, true],
  );
});

function m(
  target: 'peer' | 'zookeeper',
  round: number,
  values: Record<string, number | null>,
  extra = {},
): Measurement {
  return { workload: 'W3', topology: '3+0', variant: 'w100', target, round, ok: true, values, ...extra };
}

test('aggregates take medians over rounds and merge histograms; ratios are peer ÷ ZooKeeper', () => {
  const h = (us: number) => {
    const x = new Histogram();
    for (let i = 0; i < 100; i++) x.record(us);
    return x;
  };
  const ms = [
    m('peer', 1, { opsPerSec: 100, p99: 9 }, { histogram: h(1000) }),
    m('peer', 2, { opsPerSec: 300, p99: 9 }, { histogram: h(3000) }),
    m('peer', 3, { opsPerSec: 200, p99: 9 }, { histogram: h(2000) }),
    m('zookeeper', 1, { opsPerSec: 50, p99: null }),
    { ...m('zookeeper', 2, {}), ok: false, error: 'boom' },
  ];
  const aggs = aggregate(ms);
  const p = aggs.find((a) => a.target === 'peer')!;
  assert.equal(p.values.opsPerSec, 200);
  assert.deepEqual(p.byRound.opsPerSec, [100, 300, 200]);
  assert.equal(p.values.p99, 3, 'p99 from the merged histogram, in ms');
  const z = aggs.find((a) => a.target === 'zookeeper')!;
  assert.equal(z.rounds, 1);
  assert.equal(z.failures, 1);
  assert.equal(z.values.p99, null);
  const r = ratios(aggs);
  assert.equal(r.length, 1);
  assert.equal(r[0]!.values.opsPerSec, 4);
  assert.equal(r[0]!.values.p99, undefined, 'no ratio against a missing number');
});

test('the targets are judged from the aggregates', () => {
  const at = (
    workload: Measurement['workload'],
    topology: string,
    variant: string,
    target: 'peer' | 'zookeeper',
    values: Record<string, number>,
  ) => ({ workload, topology, variant, target, round: 1, ok: true, values }) as Measurement;
  const aggs = aggregate([
    at('W3', '3+0', 'w100', 'peer', { opsPerSec: 120 }),
    at('W3', '3+0', 'w100', 'zookeeper', { opsPerSec: 100 }),
    at('W3', '3+0', 'w0', 'peer', { opsPerSec: 90 }),
    at('W3', '3+0', 'w0', 'zookeeper', { opsPerSec: 100 }),
    at('W4', '3+0', 'writes', 'peer', { opsPerSec: 1000 }),
    at('W4', '3+2', 'writes', 'peer', { opsPerSec: 920 }),
    at('W6', '3+1', 'lag', 'peer', { p99: 4.2, writesPerSec: 10 }),
    at('W7', '3+1', 'preload', 'peer', { rssTotalMiB: 100, znodes: 10 }),
    at('W7', '3+1', 'preload', 'zookeeper', { rssTotalMiB: 300, znodes: 10 }),
    at('W10', '3+1', 'S=10', 'peer', { firstWriteMs: 2500, expired: 0 }),
  ]);
  const [w3w, w3r, w4, w6, rss, w10] = judgeTargets(aggs);
  assert.match(w3w!.target, /W3 write/);
  assert.equal(w3w!.met, true);
  assert.equal(w3r!.met, false);
  assert.equal(w4!.met, true, '−4% per observer');
  assert.match(w4!.evidence, /3\+2: −4\.0% per observer/);
  assert.equal(w6!.met, true);
  assert.equal(rss!.met, true);
  assert.equal(w10!.met, false);

  // With each role on its own cores measured, that is what W4 is judged by; shared cores are shown.
  const [, , w4own] = judgeTargets(
    aggregate([
      at('W4', '3+0', 'writes', 'peer', { opsPerSec: 1000 }),
      at('W4', '3+2', 'writes', 'peer', { opsPerSec: 800 }),
      at('W4', '3+0', OWN_CORES, 'peer', { opsPerSec: 500 }),
      at('W4', '3+2', OWN_CORES, 'peer', { opsPerSec: 400, vsObserversStopped: -0.02 }),
      at('W4', '3+0', OWN_CORES, 'zookeeper', { opsPerSec: 400 }),
      at('W4', '3+2', OWN_CORES, 'zookeeper', { opsPerSec: 320, vsObserversStopped: -0.2 }),
    ]),
  );
  // Own cores: paired in its ensemble (−2% for two), not against 3+0's ensemble (−20%).
  assert.equal(w4own!.met, true, '−1% per observer on own cores, −10% on shared');
  assert.match(w4own!.evidence, /stopped \(judged\): 3\+2: −1\.0% per observer \(ZooKeeper −10\.0%\)/);
  assert.match(w4own!.evidence, /shared cores: 3\+2: −10\.0% per observer/);
  // With the half-rate windows measured, the voters' CPU per write judges, as the throughput it costs.
  const [, , w4half] = judgeTargets(
    aggregate([
      at('W4', '3+1', OWN_CORES, 'peer', { opsPerSec: 400, vsObserversStopped: -0.2 }),
      at('W4', '3+1', HALF_RATE, 'peer', { opsPerSec: 200, votersCpuVsObserversStopped: 0.04 }),
      at('W4', '3+2', HALF_RATE, 'peer', { opsPerSec: 200, votersCpuVsObserversStopped: 0.1 }),
      at('W4', '3+2', HALF_RATE, 'zookeeper', { opsPerSec: 200, votersCpuVsObserversStopped: 0.25 }),
    ]),
  );
  assert.equal(w4half!.met, true, '+4% CPU for one observer, +10% for two: −3.8% and −4.5% each');
  assert.match(
    w4half!.evidence,
    /\(judged\): 3\+1: −3\.8% per observer; 3\+2: −4\.5% per observer \(ZooKeeper −10\.0%\)/,
  );
  assert.match(
    w4half!.evidence,
    /saturation against the same ensemble with its observers stopped: 3\+1: −20\.0%/,
  );
  const [, , w4halfBad] = judgeTargets(
    aggregate([at('W4', '3+2', HALF_RATE, 'peer', { opsPerSec: 200, votersCpuVsObserversStopped: 0.12 })]),
  );
  assert.equal(w4halfBad!.met, false, '+12% CPU for two observers: −5.4% each');
  const [, , w4bad] = judgeTargets(
    aggregate([
      at('W4', '3+0', 'writes', 'peer', { opsPerSec: 1000 }),
      at('W4', '3+2', 'writes', 'peer', { opsPerSec: 1000 }),
      at('W4', '3+0', OWN_CORES, 'peer', { opsPerSec: 500 }),
      at('W4', '3+1', OWN_CORES, 'peer', { opsPerSec: 520, vsObserversStopped: -0.06 }),
    ]),
  );
  assert.equal(w4bad!.met, false, '−6% per observer on own cores, against its observers stopped');
  // Own-cores windows without their pair are not judged against 3+0's ensemble: shared cores are.
  const [, , w4unpaired] = judgeTargets(
    aggregate([
      at('W4', '3+0', 'writes', 'peer', { opsPerSec: 1000 }),
      at('W4', '3+1', 'writes', 'peer', { opsPerSec: 900 }),
      at('W4', '3+0', OWN_CORES, 'peer', { opsPerSec: 500 }),
      at('W4', '3+1', OWN_CORES, 'peer', { opsPerSec: 500 }),
    ]),
  );
  assert.equal(w4unpaired!.met, false, '−10% on shared cores');
  assert.doesNotMatch(w4unpaired!.evidence, /own cores/);
});

test('the SVG renderer draws every series and bar, with escaped labels', () => {
  assert.deepEqual(niceTicks(0, 9), [0, 2, 4, 6, 8, 10]);
  const line = renderLineChart({
    title: 'a <b> & c',
    xLabel: 'x',
    yLabel: 'y',
    series: [
      {
        name: 'one',
        points: [
          [0, 1],
          [10, 5],
          [100, 3],
        ],
      },
      {
        name: 'two',
        points: [
          [0, 2],
          [100, 4],
        ],
        dashed: true,
      },
    ],
  });
  assert.match(line, /^<svg /);
  assert.match(line, /a &lt;b&gt; &amp; c/);
  assert.equal(line.match(/<polyline /g)?.length, 2);
  assert.equal(line.match(/<circle /g)?.length, 5);
  const bars = renderBarChart({
    title: 't',
    yLabel: 'ms',
    seriesNames: ['p', 'z'],
    groups: [
      { label: 'g1', values: [1, 2] },
      { label: 'g2', values: [3, null] },
    ],
  });
  assert.equal(bars.match(/<rect x=/g)?.length, 3 + 2, '3 bars and 2 legend swatches');
});

test('the command line selects the suite', () => {
  const s = parseBenchArgs(['--suite', 'full', '--only', 'w4,W6', '--rounds', '1', '--out-dir', 'x']);
  assert.ok(s?.suite?.plan);
  assert.deepEqual([...new Set(s.suite.plan.cells.flatMap((c) => c.workloads))].sort(), ['W4', 'W6']);
  assert.equal(s.suite.plan.rounds, 1);
  assert.equal(s.suite.plan.scenarioRounds, 1);
  assert.equal(s.suite.outDir, 'x');
  assert.throws(() => parseBenchArgs(['--suite', 'huge']), /full or smoke/);
  assert.throws(() => parseBenchArgs(['--suite', 'smoke', '--only', 'W2']), /unknown workload W2/);
  assert.throws(() => parseBenchArgs(['--suite', 'smoke', '--topologies', '3+0']), /does not apply/);
  assert.throws(() => parseBenchArgs(['--out-dir', 'x']), /needs --suite/);
  // The full plan runs every workload, on both targets.
  const full = fullPlan();
  assert.deepEqual([...new Set(full.cells.flatMap((c) => c.workloads))].sort(), [...WORKLOAD_IDS].sort());
  assert.deepEqual(full.targets, ['peer', 'zookeeper']);
});

test('the smoke suite runs every workload on both targets', { timeout: 240_000 }, async () => {
  const lines: string[] = [];
  const plan = smokePlan();
  const report = await runSuite({ plan, log: (l) => lines.push(l), command: 'test' });
  const log = lines.join('\n');
  assert.deepEqual(
    report.cells.filter((c) => !c.ok).map((c) => c.error),
    [],
    log,
  );
  assert.deepEqual(
    report.measurements.filter((x) => !x.ok).map((x) => `${x.workload} ${x.target}: ${x.error}`),
    [],
    log,
  );
  for (const w of WORKLOAD_IDS) {
    for (const t of ['peer', 'zookeeper'] as const)
      assert.ok(
        report.aggregates.some((a) => a.workload === w && a.target === t && a.rounds === 1),
        `${w} on ${t}\n${log}`,
      );
    assert.ok(
      report.ratios.some((r) => r.workload === w && Object.keys(r.values).length > 0),
      `a ratio for ${w}`,
    );
  }
  const get = (w: string, v: string, t: string) =>
    report.aggregates.find((a) => a.workload === w && a.variant === v && a.target === t)!.values;
  for (const t of ['peer', 'zookeeper']) {
    for (const w of ['w0', 'w100']) {
      const v = get('W3', w, t);
      assert.ok(v.opsPerSec! > 0 && v.errors === 0, `W3 ${w} on ${t}: ${JSON.stringify(v)}`);
      assert.ok(v.p50! > 0 && v.p50! <= v.p99!, `W3 ${w} percentiles`);
      assert.ok(v.cpuSecPer1kOps! > 0, 'CPU per 1k ops');
    }
    assert.equal(get('W3', 'w100', t).writesPerSec, get('W3', 'w100', t).opsPerSec);
    assert.equal(get('W3', 'w0', t).writesPerSec, 0);
    assert.ok(get('W1', 'follower 100 B create', t).p50! > 0);
    assert.ok(get('W1', 'observer 100 B get', t).p50! > 0);
    assert.ok(get('W4', 'writes', t).opsPerSec! > 0);
    if (ownCores()) assert.ok(get('W4', OWN_CORES, t).opsPerSec! > 0, 'W4 with each role on its own cores');
    assert.ok(get('W5', 'reads', t).opsPerSec! > 0);
    const w6 = get('W6', 'lag', t);
    assert.ok(w6.probes! > 0 && w6.missed === 0 && w6.writeErrors === 0, JSON.stringify(w6));
    assert.ok(get('W7', 'preload', t).rssTotalMiB! > 0);
    for (const v of ['diff', 'snap']) {
      const w7 = get('W7', v, t);
      assert.ok(w7.timeToServingMs! > 0 && w7.timeToServingMs! <= w7.timeToCaughtUpMs!, JSON.stringify(w7));
      assert.ok(w7.snapSyncs! + w7.diffSyncs! >= 1, `the leader synced the observer (W7 ${v} on ${t})`);
    }
    const w9 = get('W9', 'fan-out N=5', t);
    assert.equal(w9.missed, 0);
    assert.equal(w9.watches, 5);
    const del = get('W9', 'delete 20×2', t);
    assert.equal(del.watches, 40);
    assert.equal(del.eventsMissing, 0);
    const w10 = get('W10', 'S=12', t);
    assert.ok(w10.firstWriteMs! > 0, JSON.stringify(w10));
    assert.equal(w10.expired, 0);
    assert.equal(w10.ephemeralsLeft, 12);
  }
  assert.equal(report.targets.length, 6);
  assert.ok(report.header.probes.start.fsync1k.p50Us > 0 && report.header.probes.end.rtt64.p50Us > 0);

  // The report and its plots, written and read back.
  const dir = mkdtempSync(join(tmpdir(), 'zke-bench-test-'));
  try {
    const { markdown, files } = writeSuiteReport(report, dir);
    for (const w of WORKLOAD_IDS) assert.match(markdown, new RegExp(`^## ${w} `, 'm'));
    assert.match(markdown, /## Targets \(issue 8\)/);
    assert.match(markdown, /\]\(benchmarks\/w3-throughput\.svg\)/);
    assert.ok(files.some((f) => f.endsWith('w4-members.svg')));
    const again = readSuiteReport(join(dir, 'benchmarks', 'report.json'));
    assert.deepEqual(again.targets, report.targets);
    assert.equal(readFileSync(join(dir, 'benchmarks.md'), 'utf8'), markdown);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
