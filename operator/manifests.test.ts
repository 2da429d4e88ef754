import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OWNED } from './controller/resources.ts';
import { renderOperatorManifests } from './manifests.ts';

const objects = renderOperatorManifests({ namespace: 'ops', image: 'img:1' });
const find = (kind: string) => objects.find((o) => o.kind === kind)!;
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
const allows = (rules: Rule[], group: string, resource: string, verb: string) =>
  rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));

test('the ClusterRole covers every kind the operator applies, and no wildcard', () => {
  const rules = find('ClusterRole').rules as Rule[];
  for (const r of OWNED) {
    const group = r.apiVersion.includes('/') ? r.apiVersion.split('/')[0]! : '';
    for (const verb of ['list', 'patch', 'delete'])
      assert.ok(allows(rules, group, r.plural, verb), `${verb} ${r.plural}`);
  }
  assert.ok(allows(rules, 'zkensemble.dev', 'zkensembles/status', 'patch'));
  assert.ok(!allows(rules, 'zkensemble.dev', 'zkensembles', 'update'), 'the spec is the user’s');
  assert.ok(allows(rules, '', 'pods', 'patch'));
  assert.ok(allows(rules, '', 'pods', 'delete'), 'rolling restarts delete voter pods');
  assert.ok(!allows(rules, '', 'pods', 'create'));
  // Its own Secrets only: credentials made once and read back, the generated quorum certificate
  // re-issued in place (update); never listed, patched or deleted.
  for (const verb of ['get', 'create', 'update'])
    assert.ok(allows(rules, '', 'secrets', verb), `secrets ${verb}`);
  for (const verb of ['list', 'watch', 'patch', 'delete'])
    assert.ok(!allows(rules, '', 'secrets', verb), `secrets ${verb}`);
  for (const r of rules)
    for (const f of [...r.apiGroups, ...r.resources, ...r.verbs]) assert.notEqual(f, '*');
});

test('leases are granted in the operator namespace only, and the Deployment runs the operator command', () => {
  const role = find('Role');
  assert.equal(role.metadata.namespace, 'ops');
  assert.ok(allows(role.rules as Rule[], 'coordination.k8s.io', 'leases', 'update'));
  assert.ok(!allows(find('ClusterRole').rules as Rule[], 'coordination.k8s.io', 'leases', 'update'));
  const d = find('Deployment') as unknown as {
    spec: {
      template: { spec: { serviceAccountName: string; containers: { args: string[]; image: string }[] } };
    };
  };
  assert.equal(d.spec.template.spec.serviceAccountName, 'zkensemble-operator');
  assert.equal(d.spec.template.spec.containers[0]!.args[0], 'operator');
  assert.equal(d.spec.template.spec.containers[0]!.image, 'img:1');
});
