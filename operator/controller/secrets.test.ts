import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ensemble } from '../render/testutil.ts';
import { ensureSuperPassword, PASSWORD_KEY } from './credentials.ts';
import { ensembleSecret, secretText } from './secrets.ts';
import { FakeSecrets } from './testutil.ts';

const PATH = '/api/v1/namespaces/prod/secrets/zk-operator-credentials';

describe('a Secret made once', () => {
  test('the super password is made on first use, owned by the ensemble, and the same after', async () => {
    const f = new FakeSecrets();
    const e = ensemble();
    const first = await ensureSuperPassword(f, e);
    assert.ok(first.length >= 24);
    assert.deepEqual(f.writes, [`POST ${PATH}`]);
    const stored = f.objects.get(PATH)!;
    assert.equal(secretText(stored, PASSWORD_KEY), first);
    assert.equal(stored.metadata.ownerReferences?.[0]?.uid, e.metadata.uid);
    assert.equal(await ensureSuperPassword(f, e), first);
    assert.equal(f.writes.length, 1, 'read, not made again');
  });

  test('a create that loses the race reads what the winner made', async () => {
    const f = new FakeSecrets();
    const e = ensemble();
    // Another reconcile creates the Secret between our read and our create.
    f.beforeWrite = () => {
      f.beforeWrite = undefined;
      f.objects.set(PATH, ensembleSecret(e, 'zk-operator-credentials', { [PASSWORD_KEY]: 'theirs' }));
    };
    assert.equal(await ensureSuperPassword(f, e), 'theirs');
    assert.deepEqual(f.writes, [`POST ${PATH}`], 'refused, then read');
  });

  test('a Secret without the key is an error that says what to do, and is left alone', async () => {
    const f = new FakeSecrets();
    f.objects.set(PATH, { metadata: { name: 'zk-operator-credentials' }, data: {} });
    await assert.rejects(ensureSuperPassword(f, ensemble()), /has no super-password: delete it/);
    assert.deepEqual(f.writes, []);
  });
});
