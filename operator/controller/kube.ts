// A small REST client for the API server: the verbs the operator uses, over the connection settings
// (kubeconfig or in-cluster service account) that @kubernetes/client-node loads. Raw paths rather than
// the generated clients: the operator handles arbitrary rendered kinds and subresources (status), and
// needs the HTTP status (201 = created) and 409s as values it can act on.

import https from 'node:https';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { ObjectMeta } from '../api/meta.ts';

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.code = code;
    this.reason = reason;
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.code === 409;

export interface Response<T> {
  code: number;
  body: T;
}

/** Any object the API server returns (a list's items lack apiVersion and kind). */
export interface KubeObj {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ListBody<T = KubeObj> {
  items: T[];
  metadata: { resourceVersion?: string };
}

export const CONTENT = {
  json: 'application/json',
  merge: 'application/merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault(); // $KUBECONFIG, ~/.kube/config, or the in-cluster service account
  return kc;
}

export class KubeClient {
  readonly kc: KubeConfig;
  readonly server: URL;
  constructor(kc: KubeConfig) {
    this.kc = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  async request<T = KubeObj>(
    method: string,
    path: string,
    body?: unknown,
    contentType: string = CONTENT.json,
    timeoutMs = 30_000,
  ): Promise<Response<T>> {
    const opts: https.RequestOptions = {
      method,
      hostname: this.server.hostname,
      port: this.server.port || 443,
      path,
      headers: { accept: 'application/json' },
      timeout: timeoutMs,
    };
    await this.kc.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) {
      opts.headers = {
        ...opts.headers,
        'content-type': contentType,
        'content-length': Buffer.byteLength(payload),
      };
    }
    return new Promise((resolve, reject) => {
      const req = https.request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = { message: text };
          }
          if (code >= 200 && code < 300) resolve({ code, body: parsed as T });
          else {
            const s = parsed as { reason?: string; message?: string };
            reject(new ApiError(code, s.reason ?? '', `${method} ${path}: ${code} ${s.message ?? text}`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  async get<T = KubeObj>(path: string): Promise<T> {
    return (await this.request<T>('GET', path)).body;
  }

  async list<T = KubeObj>(path: string, labelSelector?: string): Promise<ListBody<T>> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    return (await this.request<ListBody<T>>('GET', `${path}${q}`)).body;
  }

  /** Server-side apply; `force` takes over fields another manager set. */
  apply<T = KubeObj>(path: string, obj: unknown, fieldManager: string, force = true) {
    const q = `?fieldManager=${encodeURIComponent(fieldManager)}${force ? '&force=true' : ''}`;
    return this.request<T>('PATCH', `${path}${q}`, obj, CONTENT.apply);
  }

  mergePatch<T = KubeObj>(path: string, patch: unknown) {
    return this.request<T>('PATCH', path, patch, CONTENT.merge);
  }

  async delete(path: string, propagationPolicy = 'Background'): Promise<void> {
    await this.request('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy });
  }

  /**
   * Watches a collection from resourceVersion until the server closes the stream or fails; resolves
   * then (with the error, if any). `abort` stops it early.
   */
  watch(
    path: string,
    params: Record<string, string>,
    onEvent: (type: string, obj: KubeObj) => void,
    signal: AbortSignal,
  ): Promise<unknown> {
    return new Promise((resolve) => {
      let controller: AbortController | undefined;
      const stop = () => controller?.abort();
      signal.addEventListener('abort', stop, { once: true });
      new Watch(this.kc)
        .watch(
          path,
          { allowWatchBookmarks: true, ...params },
          (type, obj) => onEvent(type, obj as KubeObj),
          (err) => {
            signal.removeEventListener('abort', stop);
            resolve(err);
          },
        )
        .then((c) => {
          controller = c;
          if (signal.aborted) c.abort();
        })
        .catch((err) => {
          signal.removeEventListener('abort', stop);
          resolve(err);
        });
    });
  }
}
