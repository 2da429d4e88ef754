// The shape every rendered object has: plain JSON, ready for server-side apply.

import type { ObjectMeta } from '../api/meta.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}
