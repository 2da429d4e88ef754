// The subset of Kubernetes' OpenAPI v3 structural schema (JSONSchemaProps) the ZkEnsemble schema
// uses, and small builders that keep schema.ts readable. Everything here is plain data: the CRD
// generator, the type generator and the defaulting code all walk the same objects.

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean';
  description?: string;
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema;
  items?: Schema;
  enum?: (string | number)[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  anyOf?: Schema[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'granular' | 'atomic';
  'x-kubernetes-validations'?: CelRule[];
}

export const cel = (
  rule: string,
  message: string,
  extra: Omit<CelRule, 'rule' | 'message'> = {},
): CelRule => ({
  rule,
  message,
  ...extra,
});

/** A resource.Quantity the way controller-gen renders it: int-or-string with the quantity pattern. */
export function quantity(description: string, extra: Schema = {}): Schema {
  return {
    description,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern:
      '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
    'x-kubernetes-int-or-string': true,
    ...extra,
  };
}

export function stringMap(description: string, extra: Schema = {}): Schema {
  return {
    type: 'object',
    description,
    additionalProperties: { type: 'string', maxLength: 1024 },
    maxProperties: 64,
    ...extra,
  };
}

/**
 * A core Kubernetes type (affinity, tolerations, ...) passed through unchanged: validated by the
 * API server when the operator writes the pods, not inlined here (a CRD that inlines core types
 * grows to thousands of lines).
 */
export function opaqueObject(description: string): Schema {
  return { type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true };
}

export function opaqueList(description: string, maxItems: number): Schema {
  return {
    type: 'array',
    description,
    maxItems,
    items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    'x-kubernetes-list-type': 'atomic',
  };
}
