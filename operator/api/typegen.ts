// TypeScript types from the structural schema (pure: schema in, source text out). Two forms of each
// named type: `Foo` is the object as the API server returns it, with every defaulted field present;
// `FooInput` is what a user writes, where defaulted fields are optional.

import type { Schema } from './openapi.ts';

/** Named types by schema path (`[]` = array items); other objects are written inline. */
export const TYPE_NAMES: Record<string, string> = {
  spec: 'ZkEnsembleSpec',
  'spec.image': 'ImageSpec',
  'spec.voters': 'VotersSpec',
  'spec.voters.storage': 'StorageSpec',
  'spec.voters.resources': 'ResourceRequirements',
  'spec.voters.scheduling': 'VoterScheduling',
  'spec.observers': 'ObserversSpec',
  'spec.observers.resources': 'ResourceRequirements',
  'spec.observers.regions[]': 'ObserverRegion',
  'spec.observers.regions[].autoscaling': 'AutoscalingSpec',
  'spec.observers.regions[].resources': 'ResourceRequirements',
  'spec.observers.regions[].scheduling': 'RegionScheduling',
  'spec.security': 'SecuritySpec',
  'spec.security.quorumTLS': 'QuorumTlsSpec',
  'spec.security.sharedSecret': 'SharedSecretSpec',
  'spec.metrics': 'MetricsSpec',
  'spec.metrics.serviceMonitor': 'ServiceMonitorSpec',
  'spec.podDisruptionBudget': 'PodDisruptionBudgetSpec',
  status: 'ZkEnsembleStatus',
  'status.conditions[]': 'Condition',
  'status.regions[]': 'RegionStatus',
  'status.members[]': 'MemberStatus',
};

type Form = 'read' | 'input';

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function hasDefaults(s: Schema): boolean {
  if (s.properties && Object.values(s.properties).some((p) => p.default !== undefined || hasDefaults(p)))
    return true;
  if (s.items && hasDefaults(s.items)) return true;
  return s.additionalProperties !== undefined && hasDefaults(s.additionalProperties);
}

function jsdoc(text: string | undefined, indent: string): string {
  if (!text) return '';
  const words = text.replaceAll('*/', '*\\/').split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && indent.length + 3 + line.length + 1 + w.length > 108) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  lines.push(line);
  if (lines.length === 1 && indent.length + lines[0]!.length + 7 <= 110)
    return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

class Generator {
  /** Emitted declarations by type name (read form) and by `${name}Input`. */
  private readonly emitted = new Map<string, string>();
  private readonly order: string[] = [];

  typeOf(s: Schema, path: string, form: Form, indent: string): string {
    const name = TYPE_NAMES[path];
    if (!name) return this.structural(s, path, form, indent);
    this.define(name, s, path, 'read');
    if (form === 'read') return name;
    this.define(name, s, path, 'input');
    return `${name}Input`;
  }

  private define(name: string, s: Schema, path: string, form: Form): void {
    const id = form === 'read' ? name : `${name}Input`;
    const decl =
      form === 'input' && !hasDefaults(s)
        ? `export type ${id} = ${name};\n`
        : `export interface ${id} ${this.structural(s, path, form, '')}\n`;
    const prev = this.emitted.get(id);
    if (prev !== undefined) {
      if (prev !== decl) throw new Error(`type ${id} is used for schemas of different shapes (at ${path})`);
      return;
    }
    this.emitted.set(id, decl);
    this.order.push(decl);
  }

  private structural(s: Schema, path: string, form: Form, indent: string): string {
    if (s['x-kubernetes-int-or-string']) return 'number | string';
    if (s.enum) return s.enum.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(' | ');
    switch (s.type) {
      case 'string':
        return 'string';
      case 'integer':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array': {
        const item = this.typeOf(s.items!, `${path}[]`, form, indent);
        return /^[^<{]*\|/.test(item) ? `(${item})[]` : `${item}[]`;
      }
      case 'object':
        if (s.properties) return this.objectType(s, path, form, indent);
        if (s.additionalProperties)
          return `Record<string, ${this.typeOf(s.additionalProperties, `${path}.*`, form, indent)}>`;
        return 'Record<string, unknown>';
      default:
        throw new Error(`no type for the schema at ${path || '(root)'}`);
    }
  }

  private objectType(s: Schema, path: string, form: Form, indent: string): string {
    const inner = `${indent}  `;
    const required = new Set(s.required ?? []);
    const lines = Object.entries(s.properties!).map(([key, p]) => {
      const optional = !(required.has(key) || (form === 'read' && p.default !== undefined));
      const k = IDENT.test(key) ? key : `'${key}'`;
      const t = this.typeOf(p, path ? `${path}.${key}` : key, form, inner);
      return `${jsdoc(p.description, inner)}${inner}${k}${optional ? '?' : ''}: ${t};`;
    });
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  source(): string {
    return this.order.join('\n');
  }
}

/** The generated module: the ZkEnsemble object types and every named part of them. */
export function generateTypes(root: Schema, header: string, apiVersion: string, kind: string): string {
  const g = new Generator();
  const props = root.properties!;
  const spec = {
    read: g.typeOf(props.spec!, 'spec', 'read', ''),
    input: g.typeOf(props.spec!, 'spec', 'input', ''),
  };
  const status = g.typeOf(props.status!, 'status', 'read', '');
  const top = (name: string, f: Form) =>
    `export interface ${name} {\n  apiVersion: '${apiVersion}';\n  kind: '${kind}';\n  metadata: ObjectMeta;\n  spec${f === 'input' ? '?' : ''}: ${spec[f]};\n  status?: ${status};\n}\n`;
  return [
    header,
    "import type { ObjectMeta } from './meta.ts';\n",
    `${jsdoc(root.description, '')}${top('ZkEnsemble', 'read')}`,
    `/** A ZkEnsemble as written by a user: fields with defaults may be left out. */\n${top('ZkEnsembleInput', 'input')}`,
    g.source(),
  ].join('\n');
}
