// The Grafana dashboard (charts/zkensemble-operator/dashboards/zkensemble.json) stays in step with
// the metrics: every series its queries name is one a peer exports, and each role has its row.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SteeredStatus, testConfig } from '../admin/testutil.ts';
import { PeerMetrics } from './registry.ts';
import { parseExposition } from './testutil.ts';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(
  readFileSync(
    new URL('../../charts/zkensemble-operator/dashboards/zkensemble.json', import.meta.url),
    'utf8',
  ),
) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };

/** Names of the series a peer exports (summaries and histograms with their sample suffixes). */
async function exportedNames(): Promise<Set<string>> {
  const cfg = testConfig();
  const status = new SteeredStatus(1, null, cfg);
  status.current = { mode: 'observer', masterSid: 2 };
  const metrics = new PeerMetrics(status, { region: 'r', ensemble: 'e' }, { processMetrics: true });
  const names = new Set<string>();
  for (const [name, f] of parseExposition(await metrics.render())) {
    names.add(name);
    if (f.type === 'SUMMARY' || f.type === 'HISTOGRAM')
      for (const s of ['_sum', '_count', '_bucket']) names.add(name + s);
  }
  return names;
}

test('every metric the dashboard queries is exported, with the ensemble and region filters', async () => {
  const exported = await exportedNames();
  const queries = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  assert.ok(queries.length > 20);
  for (const q of queries) {
    const selectors = [...q.matchAll(/([a-z_][a-z0-9_]*)\{([^}]*)\}/g)];
    assert.ok(selectors.length > 0, q);
    for (const [, name, labels] of selectors) {
      assert.ok(exported.has(name!), `${name} in "${q}" is not exported`);
      assert.match(labels!, /ensemble=~"\$ensemble",region=~"\$region"/, q);
    }
  }
  assert.deepEqual(
    dashboard.templating.list.map((v) => v.name),
    ['datasource', 'ensemble', 'region'],
  );
});

test('a row per role, panels with unique ids that do not overlap', () => {
  const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
  for (const r of ['Ensemble', 'Leader', 'Followers', 'Observers']) assert.ok(rows.includes(r), r);
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  const cells = new Set<string>();
  for (const p of dashboard.panels) {
    const { x, y, w, h } = p.gridPos;
    assert.ok(x + w <= 24, p.title);
    for (let i = x; i < x + w; i++)
      for (let j = y; j < y + h; j++) {
        assert.ok(!cells.has(`${i},${j}`), `${p.title} overlaps another panel`);
        cells.add(`${i},${j}`);
      }
  }
});
