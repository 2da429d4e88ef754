// Test helpers for the controller (kept out of the image, like every *testutil*.ts): Secrets in memory.

import { ApiError, type KubeObj } from './kube.ts';
import { type SecretClient, type SecretLike, secretText } from './secrets.ts';

/** Secrets in memory, with the API server's create / get / update-with-resourceVersion rules. */
export class FakeSecrets implements SecretClient {
  readonly objects = new Map<string, KubeObj>();
  /** `METHOD path` of every write, refused ones included. */
  readonly writes: string[] = [];
  private version = 0;
  /** Called before a write is applied, to simulate a concurrent writer. */
  beforeWrite?: () => void;

  get = async <T>(path: string): Promise<T> => {
    const o = this.objects.get(path);
    if (!o) throw new ApiError(404, 'NotFound', `GET ${path}: 404`);
    return structuredClone(o) as T;
  };

  request = async <T>(method: string, path: string, body?: unknown) => {
    this.beforeWrite?.();
    const o = structuredClone(body) as KubeObj;
    const target = method === 'POST' ? `${path}/${o.metadata.name}` : path;
    this.writes.push(`${method} ${target}`);
    const old = this.objects.get(target);
    if (method === 'POST' && old) throw new ApiError(409, 'AlreadyExists', `POST ${path}: 409`);
    if (method === 'PUT') {
      if (!old) throw new ApiError(404, 'NotFound', `PUT ${path}: 404`);
      if (o.metadata.resourceVersion !== old.metadata.resourceVersion)
        throw new ApiError(409, 'Conflict', `PUT ${path}: 409`);
    }
    o.metadata.resourceVersion = String(++this.version);
    this.objects.set(target, o);
    return { code: method === 'POST' ? 201 : 200, body: structuredClone(o) as T };
  };

  /** The decoded data of Secret `name` in namespace prod (the test ensemble's). */
  data(name: string): Record<string, string> {
    const o: SecretLike | undefined = this.objects.get(`/api/v1/namespaces/prod/secrets/${name}`);
    if (!o) throw new Error(`no Secret ${name}`);
    return Object.fromEntries(Object.keys(o.data ?? {}).map((k) => [k, secretText(o, k)!]));
  }

  delete(name: string): void {
    this.objects.delete(`/api/v1/namespaces/prod/secrets/${name}`);
  }
}
