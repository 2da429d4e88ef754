// Generated quorum TLS (operator/controller/quorum-tls.ts) against a real control plane: the Secrets it
// keeps, what makes it write them again, and what does not. It runs with the token of the operator's own
// ServiceAccount, so this also proves the operator's ClusterRole allows what it does with Secrets.
// No operator process: the test calls ensureGeneratedQuorumTls the way a reconcile does.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { withDefaults } from '../operator/api/defaults.ts';
import type { ZkEnsemble } from '../operator/api/types.generated.ts';
import { KubeClient, loadKubeConfig } from '../operator/controller/kube.ts';
import { ensureGeneratedQuorumTls } from '../operator/controller/quorum-tls.ts';
import type { OperatorSettings } from '../operator/render/contract.ts';
import { dnsNamesOf, firstCertificate } from '../operator/render/x509.ts';
import { type ControlPlane, startControlPlane, toYaml as yaml } from './lib/k8s-testenv.ts';
import { installCrd, operatorServiceAccount } from './lib/operator-env.ts';

const NS = 'zk';
const SETTINGS: OperatorSettings = { image: 'zkensemble:test' };

const region = (name: string) => ({ name, replicas: 1 });
const ensembleManifest = (regions: string[]) => ({
  apiVersion: 'zkensemble.dev/v1alpha1',
  kind: 'ZkEnsemble',
  metadata: { name: 'zk', namespace: NS },
  spec: {
    image: { name: 'zkensemble:test' },
    voters: { replicas: 3, storage: { size: '1Gi' } },
    observers: { regions: regions.map(region) },
    security: { quorumTLS: { generateCA: true } },
  },
});

interface SecretJson {
  metadata: {
    resourceVersion: string;
    uid: string;
    ownerReferences?: { kind: string; uid: string; controller?: boolean }[];
  };
  data: Record<string, string>;
}

describe('generated quorum TLS on a real control plane', { timeout: 240_000 }, () => {
  let cp: ControlPlane;
  let client: KubeClient;

  const kget = async <T>(args: string[]): Promise<T> =>
    JSON.parse(await cp.kubectl(['-n', NS, 'get', ...args, '-o', 'json']));
  const secret = (name: string) => kget<SecretJson>(['secret', name]);
  const decoded = (s: SecretJson, key: string) => Buffer.from(s.data[key]!, 'base64').toString('utf8');
  /** The ensemble as a reconcile sees it. */
  const readEnsemble = async () => withDefaults(await kget<ZkEnsemble>(['zkensemble', 'zk']));

  before(async () => {
    cp = await startControlPlane();
    await installCrd(cp);
    client = new KubeClient(loadKubeConfig(await operatorServiceAccount(cp)));
    await cp.kubectl(['create', 'namespace', NS]);
  });

  after(async () => {
    await cp?.stop();
  });

  test('makes the CA and member Secrets, owned by the ensemble, and leaves them alone after', async () => {
    await cp.kubectl(['apply', '-f', '-'], { input: yaml(ensembleManifest(['east'])) });
    const e = await readEnsemble();
    const first = await ensureGeneratedQuorumTls(client, e, SETTINGS);
    assert.ok(first, 'generateCA is set');
    assert.equal(first.reissued, 'no certificate yet');

    const ca = await secret('zk-quorum-ca');
    const member = await secret('zk-quorum-tls');
    for (const s of [ca, member]) {
      assert.equal(s.metadata.ownerReferences?.[0]?.kind, 'ZkEnsemble');
      assert.equal(s.metadata.ownerReferences?.[0]?.uid, e.metadata.uid);
    }
    assert.deepEqual(Object.keys(ca.data).sort(), ['ca.crt', 'ca.key']);
    assert.deepEqual(Object.keys(member.data).sort(), ['ca.crt', 'tls-combined.pem']);
    assert.equal(decoded(member, 'ca.crt'), decoded(ca, 'ca.crt'));
    const leaf = firstCertificate(decoded(member, 'tls-combined.pem'));
    assert.ok(leaf.checkIssued(new X509Certificate(decoded(ca, 'ca.crt'))));
    assert.deepEqual(dnsNamesOf(leaf), [
      '*.zk-observers-east.zk.svc',
      '*.zk-observers-east.zk.svc.cluster.local',
      '*.zk-voters.zk.svc',
      '*.zk-voters.zk.svc.cluster.local',
      'zk-client.zk.svc',
      'zk-client.zk.svc.cluster.local',
    ]);

    const again = await ensureGeneratedQuorumTls(client, await readEnsemble(), SETTINGS);
    assert.deepEqual(again, { fingerprint: first.fingerprint });
    assert.equal((await secret('zk-quorum-ca')).metadata.resourceVersion, ca.metadata.resourceVersion);
    assert.equal((await secret('zk-quorum-tls')).metadata.resourceVersion, member.metadata.resourceVersion);
  });

  test('a new region re-issues the member certificate with its names, under the same CA', async () => {
    const ca = await secret('zk-quorum-ca');
    const before = await secret('zk-quorum-tls');
    await cp.kubectl(['apply', '-f', '-'], { input: yaml(ensembleManifest(['east', 'west'])) });
    const result = await ensureGeneratedQuorumTls(client, await readEnsemble(), SETTINGS);
    assert.match(result?.reissued ?? '', /names changed/);

    const member = await secret('zk-quorum-tls');
    assert.equal(member.metadata.uid, before.metadata.uid, 'updated in place');
    assert.notEqual(decoded(member, 'tls-combined.pem'), decoded(before, 'tls-combined.pem'));
    const leaf = firstCertificate(decoded(member, 'tls-combined.pem'));
    assert.ok(dnsNamesOf(leaf).includes('*.zk-observers-west.zk.svc.cluster.local'));
    assert.ok(dnsNamesOf(leaf).includes('*.zk-observers-east.zk.svc'));
    assert.equal((await secret('zk-quorum-ca')).metadata.resourceVersion, ca.metadata.resourceVersion);
    assert.equal(decoded(member, 'ca.crt'), decoded(ca, 'ca.crt'));
    assert.ok(leaf.verify(new X509Certificate(decoded(ca, 'ca.crt')).publicKey));
  });

  test('a deleted member Secret is made again from the same CA', async () => {
    const ca = await secret('zk-quorum-ca');
    const before = await secret('zk-quorum-tls');
    await cp.kubectl(['-n', NS, 'delete', 'secret', 'zk-quorum-tls']);
    const result = await ensureGeneratedQuorumTls(client, await readEnsemble(), SETTINGS);
    assert.equal(result?.reissued, 'no certificate yet');
    const member = await secret('zk-quorum-tls');
    assert.notEqual(member.metadata.uid, before.metadata.uid);
    assert.equal(decoded(member, 'ca.crt'), decoded(ca, 'ca.crt'));
    assert.ok(
      firstCertificate(decoded(member, 'tls-combined.pem')).checkIssued(
        new X509Certificate(decoded(ca, 'ca.crt')),
      ),
    );
    assert.equal((await secret('zk-quorum-ca')).metadata.resourceVersion, ca.metadata.resourceVersion);
  });
});
