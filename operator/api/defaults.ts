// Schema defaults applied the way the API server's structural defaulting does: a missing property
// with a default gets a copy of it, then defaulting goes on inside (so `default: {}` on an object
// fills in its children's defaults). The renderer calls this so it can take objects that did not
// come from the API server (tests, dry runs) and still never repeat a default itself.

import type { Schema } from './openapi.ts';
import { zkEnsembleSchema } from './schema.ts';
import type { ZkEnsemble, ZkEnsembleInput } from './types.generated.ts';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy of value with the schema's defaults filled in; value itself is not changed. */
export function applyDefaults(schema: Schema, value: unknown): unknown {
  if (Array.isArray(value))
    return schema.items ? value.map((v) => applyDefaults(schema.items!, v)) : [...value];
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const sub = schema.properties?.[k] ?? schema.additionalProperties;
    out[k] = sub ? applyDefaults(sub, v) : structuredClone(v);
  }
  for (const [k, sub] of Object.entries(schema.properties ?? {})) {
    if (out[k] === undefined && sub.default !== undefined)
      out[k] = applyDefaults(sub, structuredClone(sub.default));
  }
  return out;
}

/** The ensemble as the API server would store it: every default filled in. */
export function withDefaults(e: ZkEnsembleInput | ZkEnsemble): ZkEnsemble {
  return applyDefaults(zkEnsembleSchema, e) as ZkEnsemble;
}
