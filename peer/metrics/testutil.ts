// Tests only: reading a /metrics exposition back, with families by name, parsed by the
// parse-prometheus-text-format package (a devDependency) rather than by hand.

import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

export type Families = Map<string, ParsedFamily>;

export function parseExposition(text: string): Families {
  return new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when none. */
export function sampleValue(
  families: Families,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const f = families.get(name);
  const s = f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!s) return undefined;
  return Number(s.value ?? s.count);
}

/** The label values every sample of `name` carries for `label`. */
export function labelValues(families: Families, name: string, label: string): string[] {
  return (families.get(name)?.metrics ?? []).map((m) => m.labels?.[label] ?? '');
}
