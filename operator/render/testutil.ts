// Shared fixtures for the operator's unit tests.

import { withDefaults } from '../api/defaults.ts';
import type { ZkEnsemble, ZkEnsembleSpecInput } from '../api/types.generated.ts';
import type { OperatorSettings } from './contract.ts';
import type { KubeObject } from './objects.ts';

export const SETTINGS: OperatorSettings = { image: 'registry.test/zkensemble:1.0.0' };

export function ensemble(spec: ZkEnsembleSpecInput = {}, name = 'zk'): ZkEnsemble {
  return withDefaults({
    apiVersion: 'zkensemble.dev/v1alpha1',
    kind: 'ZkEnsemble',
    metadata: { name, namespace: 'prod', uid: '0000-1111', generation: 1 },
    spec,
  });
}

/** A field of a plain object by dotted path (array indexes as numbers), for terse assertions. */
// biome-ignore lint/suspicious/noExplicitAny: test helper over untyped JSON
export function at(o: unknown, path: string): any {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (cur === undefined || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o)
    throw new Error(
      `no ${kind} ${name} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`,
    );
  return o;
}

/** True when every label of the selector is on the object with the same value. */
export function selects(
  selector: Record<string, string>,
  labels: Record<string, string> | undefined,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
