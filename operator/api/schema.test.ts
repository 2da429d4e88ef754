import assert from 'node:assert/strict';
import { test } from 'node:test';
import { zkEnsembleCrd } from './crd.ts';
import type { CelRule, Schema } from './openapi.ts';
import { isOwnedKey, ownedKeyCel } from './owned-keys.ts';
import { printerColumns, zkEnsembleSchema } from './schema.ts';

function* walk(s: Schema, path = ''): Generator<[string, Schema]> {
  yield [path, s];
  for (const [k, p] of Object.entries(s.properties ?? {})) yield* walk(p, path ? `${path}.${k}` : k);
  if (s.items) yield* walk(s.items, `${path}[]`);
  if (s.additionalProperties) yield* walk(s.additionalProperties, `${path}.*`);
  for (const [i, a] of (s.anyOf ?? []).entries()) yield* walk(a, `${path}|${i}`);
}

const node = (path: string): Schema => {
  const found = [...walk(zkEnsembleSchema)].find(([p]) => p === path);
  assert.ok(found, `no schema node at ${path}`);
  return found[1];
};
const rules = (path: string): CelRule[] => node(path)['x-kubernetes-validations'] ?? [];

test('the schema is structural: every node has a type, or is int-or-string or opaque', () => {
  for (const [path, s] of walk(zkEnsembleSchema)) {
    if (path.includes('|')) continue;
    assert.ok(
      s.type || s['x-kubernetes-int-or-string'] || s['x-kubernetes-preserve-unknown-fields'],
      `${path || '(root)'} has no type`,
    );
    if (s.type === 'object' && s.properties && s.additionalProperties)
      assert.fail(`${path} has both properties and additionalProperties`);
  }
});

test('list-map keys are required in their items, so the API server can merge by them', () => {
  for (const [path, s] of walk(zkEnsembleSchema)) {
    if (s['x-kubernetes-list-type'] !== 'map') continue;
    for (const key of s['x-kubernetes-list-map-keys'] ?? [])
      assert.ok(s.items?.required?.includes(key), `${path}: list-map key ${key} is not required`);
  }
});

function conforms(s: Schema, v: unknown, path: string): void {
  if (s['x-kubernetes-int-or-string']) {
    assert.ok(typeof v === 'number' || typeof v === 'string', `${path}: default ${v} is not int-or-string`);
    if (typeof v === 'string' && s.pattern) assert.match(v, new RegExp(s.pattern), path);
    return;
  }
  if (s.enum) assert.ok(s.enum.includes(v as string), `${path}: default ${v} not in enum`);
  switch (s.type) {
    case 'integer':
      assert.ok(Number.isInteger(v), `${path}: default ${v} is not an integer`);
      if (s.minimum !== undefined) assert.ok((v as number) >= s.minimum, `${path}: default below minimum`);
      if (s.maximum !== undefined) assert.ok((v as number) <= s.maximum, `${path}: default above maximum`);
      return;
    case 'string':
      assert.equal(typeof v, 'string', path);
      if (s.pattern) assert.match(v as string, new RegExp(s.pattern), path);
      return;
    case 'boolean':
      assert.equal(typeof v, 'boolean', path);
      return;
    case 'array':
      assert.ok(Array.isArray(v), path);
      for (const x of v as unknown[]) conforms(s.items!, x, `${path}[]`);
      return;
    case 'object':
      assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), path);
      for (const [k, x] of Object.entries(v as object)) {
        const sub = s.properties?.[k] ?? s.additionalProperties;
        assert.ok(sub, `${path}: default has unknown field ${k}`);
        conforms(sub, x, `${path}.${k}`);
      }
  }
}

test('every default conforms to its own schema (the API server refuses the CRD otherwise)', () => {
  let n = 0;
  for (const [path, s] of walk(zkEnsembleSchema)) {
    if (s.default === undefined) continue;
    conforms(s, s.default, path);
    n++;
  }
  assert.ok(n >= 15, `only ${n} defaults`);
});

test('CEL rules are present where the API promises them, each with a message', () => {
  for (const [path, s] of walk(zkEnsembleSchema))
    for (const r of s['x-kubernetes-validations'] ?? [])
      assert.ok(r.message && r.message.length > 10, `${path}: rule ${r.rule} has no clear message`);
  assert.ok(rules('spec.voters.replicas').some((r) => r.rule === 'self % 2 == 1'));
  assert.ok(rules('spec.observers.regions').some((r) => r.rule.includes('exists_one(o, o.name == r.name)')));
  assert.ok(rules('spec.observers.regions[].name').some((r) => r.rule.includes('self.matches(')));
  assert.ok(rules('spec.observers.regions[].name').some((r) => r.rule.includes("'client'")));
  assert.ok(
    rules('spec.observers.regions[].autoscaling').some((r) =>
      r.rule.includes('minReplicas <= self.maxReplicas'),
    ),
  );
  assert.ok(rules('spec.zooCfg').some((r) => r.rule.includes(ownedKeyCel('k')) && r.messageExpression));
  assert.ok(rules('spec.zooCfg').some((r) => r.rule.includes("contains('\\n')")));
  assert.ok(rules('spec.security.quorumTLS').some((r) => r.rule.includes('generateCA')));
  assert.ok(rules('spec.voters.storage').some((r) => r.rule.includes('oldSelf')));
  assert.ok(rules('spec').some((r) => r.rule.includes('podDisruptionBudget.?maxUnavailable')));
  assert.ok(rules('').some((r) => r.rule.includes('self.metadata.name')));
});

test('voters.replicas is bounded to 1..7 by the schema too', () => {
  const r = node('spec.voters.replicas');
  assert.equal(r.minimum, 1);
  assert.equal(r.maximum, 7);
  assert.equal(r.default, 3);
});

test('lists and maps under CEL rules are bounded, so the API server can estimate their cost', () => {
  for (const path of ['spec.observers.regions', 'spec.security.learnerAllowList'])
    assert.ok(node(path).maxItems, `${path} has no maxItems`);
  assert.ok(node('spec.zooCfg').maxProperties);
  assert.ok(node('spec.observers.regions[].name').maxLength);
});

test('owned zoo.cfg keys are recognised in both spellings, other keys are not', () => {
  for (const k of [
    'dataDir',
    'zookeeper.dataDir',
    'server.3',
    'ssl.quorum.keyStore.location',
    'dynamicConfigFile',
  ])
    assert.ok(isOwnedKey(k), k);
  for (const k of ['tickTime', 'zookeeper.tickTime', 'serverCnxnFactory', 'maxClientCnxns', 'dataDirX'])
    assert.ok(!isOwnedKey(k), k);
});

test('the CRD: namespaced, short name zke, status subresource, printer columns on status fields', () => {
  const crd = zkEnsembleCrd() as { spec: Record<string, never> };
  const spec = crd.spec as unknown as {
    scope: string;
    names: { shortNames: string[]; kind: string };
    versions: { name: string; subresources: object; additionalPrinterColumns: unknown[] }[];
  };
  assert.equal(spec.scope, 'Namespaced');
  assert.deepEqual(spec.names.shortNames, ['zke']);
  assert.equal(spec.names.kind, 'ZkEnsemble');
  assert.equal(spec.versions[0]!.name, 'v1alpha1');
  assert.deepEqual(spec.versions[0]!.subresources, { status: {} });
  assert.deepEqual(
    printerColumns.map((c) => c.name),
    ['Voters', 'Observers', 'Leader', 'Available', 'Age'],
  );
  for (const c of printerColumns) {
    const m = /^\.status\.(\w+)/.exec(c.jsonPath);
    if (m) node(`status.${m[1]}`);
  }
});
