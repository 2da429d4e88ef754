import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ensemble } from '../render/testutil.ts';
import { ensureSuperPassword, PASSWORD_KEY } from './credentials.ts';
import { ApiError, type KubeObj } from './kube.ts';
import { ensembleSecret, type SecretClient, secretText } from './secrets.ts';

const PATH = '/api/v1/namespaces/prod/secrets/zk-operator-credentials';

/** Secrets in memory: get, and POST that refuses a name already taken. */
function fakeSecrets(objects = new Map<string, KubeObj>()) {
  const posts: string[] = [];
  const client: SecretClient = {
    get: async <T>(path: string) => {
      const o = objects.get(path);
      if (!o) throw new ApiError(404, 'NotFound', `GET ${path}: 404`);
      return structuredClone(o) as T;
    },
    request: async <T>(method: string, path: string, body?: unknown) => {
      const o = structuredClone(body) as KubeObj;
      const target = `${path}/${o.metadata.name}`;
      posts.push(`${method} ${target}`);
      if (objects.has(target)) throw new ApiError(409, 'AlreadyExists', `POST ${path}: 409`);
      objects.set(target, o);
      return { code: 201, body: o as T };
    },
  };
  return { client, objects, posts };
}

describe('a Secret made once', () => {
  test('the super password is made on first use, owned by the ensemble, and the same after', async () => {
    const f = fakeSecrets();
    const e = ensemble();
    const first = await ensureSuperPassword(f.client, e);
    assert.ok(first.length >= 24);
    assert.deepEqual(f.posts, [`POST ${PATH}`]);
    const stored = f.objects.get(PATH)!;
    assert.equal(secretText(stored, PASSWORD_KEY), first);
    assert.equal(stored.metadata.ownerReferences?.[0]?.uid, e.metadata.uid);
    assert.equal(await ensureSuperPassword(f.client, e), first);
    assert.equal(f.posts.length, 1, 'read, not made again');
  });

  test('a create that loses the race reads what the winner made', async () => {
    const f = fakeSecrets();
    const e = ensemble();
    // Another reconcile creates the Secret between our read and our create.
    const get = f.client.get;
    f.client.get = async (path: string) => {
      f.client.get = get;
      f.objects.set(path, ensembleSecret(e, 'zk-operator-credentials', { [PASSWORD_KEY]: 'theirs' }));
      throw new ApiError(404, 'NotFound', `GET ${path}: 404`);
    };
    assert.equal(await ensureSuperPassword(f.client, e), 'theirs');
    assert.deepEqual(f.posts, [`POST ${PATH}`], 'refused, then read');
  });

  test('a Secret without the key is an error that says what to do, and is left alone', async () => {
    const f = fakeSecrets(new Map([[PATH, { metadata: { name: 'zk-operator-credentials' }, data: {} }]]));
    await assert.rejects(ensureSuperPassword(f.client, ensemble()), /has no super-password: delete it/);
    assert.deepEqual(f.posts, []);
  });
});
