// The operator against a real control plane (e2e/lib/k8s-testenv.ts): it runs as a child process with
// the token of its own ServiceAccount, so everything here also proves its ClusterRole is enough.
// kwok makes the pods Ready; static PersistentVolumes let the voters' claims bind.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KubeClient, loadKubeConfig } from '../operator/controller/kube.ts';
import { stepVoterRestart } from '../operator/controller/membership.ts';
import { superDigest } from '../operator/membership/ensemble-access.ts';
import { log } from '../peer/log.ts';
import { type ControlPlane, startControlPlane, toYaml as yaml } from './lib/k8s-testenv.ts';
import {
  installCrd,
  OP_NS,
  type OperatorProcess,
  operatorServiceAccount,
  startOperator as spawnOperator,
  stopOperator,
} from './lib/operator-env.ts';
import { until as poll } from './lib/wait.ts';

const silentLog = log.child({}, { level: 'silent' });
const NS = 'zk';

const pv = (i: number) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name: `pv-${i}` },
  spec: {
    capacity: { storage: '1Gi' },
    accessModes: ['ReadWriteOnce'],
    storageClassName: 'manual',
    hostPath: { path: `/tmp/zke-never-mounted-${i}` },
  },
});

function ensemble(regions: object[], extra: Record<string, unknown> = {}, name = 'zk') {
  return {
    apiVersion: 'zkensemble.dev/v1alpha1',
    kind: 'ZkEnsemble',
    metadata: { name, namespace: NS },
    spec: {
      image: { name: 'zkensemble:test' },
      voters: { replicas: 3, storage: { size: '1Gi', storageClassName: 'manual' } },
      observers: { regions },
      ...extra,
    },
  };
}

// One fake node for every region: place observers by its label instead of topology.kubernetes.io/region.
const ON_KWOK = { scheduling: { nodeSelector: { type: 'kwok' } } };
const EAST = { name: 'east', replicas: 2, ...ON_KWOK };
const WEST = {
  name: 'west',
  replicas: 1,
  ...ON_KWOK,
  autoscaling: { minReplicas: 1, maxReplicas: 3, cpuUtilization: 70 },
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } },
};

/** The operators' output, quoted (warnings and errors only) when a wait times out. */
let opLog = '';
const opProblems = () =>
  opLog
    .split('\n')
    .filter((l) => /"level":(40|50|60)/.test(l))
    .slice(-15)
    .join('\n');

/** Kubernetes settles slowly and kubectl fails in passing: errors are retried, the operator's quoted on timeout. */
const until = <T>(what: string, timeoutMs: number, probe: () => Promise<T>) =>
  poll(what, timeoutMs, probe, { everyMs: 500, retryErrors: true, detail: opProblems });

describe('zkensemble operator on a real control plane', { timeout: 240_000 }, () => {
  let cp: ControlPlane;
  let op: OperatorProcess | undefined;
  let standby: OperatorProcess | undefined;
  let kubeconfig = '';
  let listen = '';

  /** The operator as its ServiceAccount, reconciling often; its output also goes to opLog. */
  const startOperator = () =>
    spawnOperator(kubeconfig, ['--resync', '20'], {
      env: { LOG_LEVEL: 'info' },
      onOutput: (c) => {
        opLog += c;
      },
    });

  const reconcilesWith = async (result: string) => {
    const text = await (await fetch(`http://${listen}/metrics`)).text();
    const m = new RegExp(`zkensemble_operator_reconciles_total\\{result="${result}"\\} (\\d+)`).exec(text);
    return m ? Number(m[1]) : 0;
  };

  const kget = async (args: string[]) =>
    JSON.parse(await cp.kubectl(['-n', NS, 'get', ...args, '-o', 'json']));
  const exists = async (kind: string, name: string) =>
    (await cp.tryKubectl(['-n', NS, 'get', kind, name])).code === 0;
  const eventsAbout = (name: string) =>
    cp.kubectl(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${name}`]);

  before(async () => {
    cp = await startControlPlane();
    await installCrd(cp);
    kubeconfig = await operatorServiceAccount(cp);
    await cp.kubectl(['create', 'namespace', NS]);
    await cp.kubectl(['apply', '-f', '-'], { input: yaml(pv(0), pv(1), pv(2)) });
    op = await startOperator();
    listen = op.listen;
  });

  after(async () => {
    await stopOperator(op);
    await stopOperator(standby);
    await cp?.stop();
  });

  test('renders every object, and the ensemble becomes Available', async () => {
    await cp.kubectl(['apply', '-f', '-'], { input: yaml(ensemble([EAST, WEST])) });
    const sts = await until('StatefulSet', 30_000, () => kget(['statefulset', 'zk-voter']));
    assert.equal(sts.spec.replicas, 3);
    assert.equal(sts.metadata.ownerReferences[0].kind, 'ZkEnsemble');
    for (const svc of [
      'zk-voters',
      'zk-client',
      'zk-east',
      'zk-west',
      'zk-observers-east',
      'zk-observers-west',
    ])
      assert.ok(await exists('service', svc), `Service ${svc}`);
    for (const d of ['zk-observer-east', 'zk-observer-west']) assert.ok(await exists('deployment', d), d);
    assert.ok(await exists('hpa', 'zk-observer-west'), 'HPA of the autoscaled region');
    assert.ok(!(await exists('hpa', 'zk-observer-east')), 'no HPA without autoscaling');
    assert.ok(await exists('pdb', 'zk-voters'));
    const dyn = await kget(['configmap', 'zk-dynamic']);
    const text = Object.values(dyn.data as Record<string, string>)[0]!;
    const servers = text.split('\n').filter((l) => l.startsWith('server.'));
    for (const sid of [1, 2, 3])
      assert.ok(servers.some((l) => l.startsWith(`server.${sid}=zk-voter-${sid - 1}.`)));

    const status = await until('Available', 150_000, async () => {
      const e = await kget(['zkensemble', 'zk']);
      const c = (e.status?.conditions ?? []).find((x: { type: string }) => x.type === 'Available');
      return c?.status === 'True' && e.status.readyVoters === 3 ? e : undefined;
    });
    assert.equal(status.status.observedGeneration, status.metadata.generation);

    // Observer pods got server ids. They join by reconfig, which needs the running ensemble: kwok's
    // pods run nothing, so the membership stays the voters it started with, and the status says why.
    await until('observer server ids', 60_000, async () => {
      const pods = await kget(['pods', '-l', 'app.kubernetes.io/component=observer']);
      return pods.items.length === 3 &&
        pods.items.every((p: { metadata: { annotations?: Record<string, string> } }) =>
          /^\d+$/.test(p.metadata.annotations?.['zkensemble.dev/server-id'] ?? ''),
        )
        ? true
        : undefined;
    });
    const pending = await until('the status to say the ensemble is not reachable', 60_000, async () => {
      const e = await kget(['zkensemble', 'zk']);
      const c = (e.status?.conditions ?? []).find((x: { type: string }) => x.type === 'Progressing');
      return c?.status === 'True' && /ensemble not reachable/.test(c.message) ? e : undefined;
    });
    assert.equal(pending.status.leader, undefined, 'no leader claimed without asking the ensemble');
    const dynText = Object.values(
      (await kget(['configmap', 'zk-dynamic'])).data as Record<string, string>,
    )[0]!;
    assert.doesNotMatch(dynText, /:observer/, 'the ConfigMap lists what the ensemble committed');
    // The super user the operator reconfigures as: a password in a Secret the ensemble owns, its
    // digest (only) in zoo.cfg.
    const secret = await kget(['secret', 'zk-operator-credentials']);
    assert.equal(secret.metadata.ownerReferences[0].kind, 'ZkEnsemble');
    const password = Buffer.from(secret.data['super-password'], 'base64').toString('utf8');
    assert.ok(password.length >= 24);
    const zooCfg = Object.values((await kget(['configmap', 'zk-config'])).data as Record<string, string>)[0]!;
    assert.ok(zooCfg.includes(`DigestAuthenticationProvider.superDigest=${superDigest(password)}\n`));
    assert.ok(!zooCfg.includes(password), 'the password itself is not in zoo.cfg');
    const regions = await until('observer status', 60_000, async () => {
      const e = await kget(['zkensemble', 'zk']);
      const r = e.status.regions as { name: string; ready: number }[];
      return r.find((x) => x.name === 'east')?.ready === 2 ? r : undefined;
    });
    assert.deepEqual(
      regions.map((r) => r.name),
      ['east', 'west'],
    );
    const events = await eventsAbout('zk');
    assert.match(events, /Created/);
    const metrics = await (await fetch(`http://${listen}/metrics`)).text();
    assert.match(metrics, /zkensemble_operator_reconciles_total\{result="progressing"\} [1-9]/);
    assert.equal((await fetch(`http://${listen}/readyz`)).status, 200);
  });

  test('objects follow a scaled region and a removed one', async () => {
    await cp.kubectl(['apply', '-f', '-'], { input: yaml(ensemble([{ ...EAST, replicas: 3 }])) });
    await until('east scaled to 3', 30_000, async () => {
      const d = await kget(['deployment', 'zk-observer-east']);
      return d.spec.replicas === 3 ? true : undefined;
    });
    await until('west removed', 30_000, async () =>
      !(await exists('deployment', 'zk-observer-west')) &&
      !(await exists('hpa', 'zk-observer-west')) &&
      !(await exists('service', 'zk-west')) &&
      !(await exists('service', 'zk-observers-west'))
        ? true
        : undefined,
    );
    const events = await eventsAbout('zk');
    assert.match(events, /deleted Deployment zk-observer-west/);
  });

  test('scaling voters down waits for the reconfig: the StatefulSet keeps every committed voter', async () => {
    await cp.kubectl(['apply', '-f', '-'], {
      input: yaml(
        ensemble([{ ...EAST, replicas: 3 }], {
          voters: { replicas: 1, storage: { size: '1Gi', storageClassName: 'manual' } },
        }),
      ),
    });
    await until('the scale-down to be planned', 30_000, async () => {
      const e = await kget(['zkensemble', 'zk']);
      return e.status?.observedGeneration === e.metadata.generation ? true : undefined;
    });
    // The committed membership still has three voters; removing them needs the ensemble.
    await new Promise((r) => setTimeout(r, 3000));
    const sts = await kget(['statefulset', 'zk-voter']);
    assert.equal(sts.spec.replicas, 3);
    await cp.kubectl(['apply', '-f', '-'], { input: yaml(ensemble([{ ...EAST, replicas: 3 }])) });
  });

  test('a changed zoo.cfg rolls the voters one by one, followers first and the leader last', async () => {
    await cp.kubectl(['apply', '-f', '-'], {
      input: yaml(ensemble([{ ...EAST, replicas: 3 }], { zooCfg: { maxClientCnxns: 100 } })),
    });
    const updateRevision = await until('the new template', 30_000, async () => {
      const sts = await kget(['statefulset', 'zk-voter']);
      return sts.status.observedGeneration === sts.metadata.generation &&
        sts.status.updateRevision !== sts.status.currentRevision
        ? (sts.status.updateRevision as string)
        : undefined;
    });
    // Without a leader to ask (kwok's pods run nothing), the operator restarts no ready voter.
    await until('the rollout to wait for a leader', 30_000, async () => {
      const e = await kget(['zkensemble', 'zk']);
      const c = (e.status?.conditions ?? []).find((x: { type: string }) => x.type === 'Progressing');
      return /no known leader/.test(c?.message ?? '') ? true : undefined;
    });
    const revisions = async () =>
      (await kget(['pods', '-l', 'app.kubernetes.io/component=voter'])).items.map(
        (p: { metadata: { name: string; labels: Record<string, string> } }) =>
          `${p.metadata.name}=${p.metadata.labels['controller-revision-hash'] === updateRevision ? 'new' : 'old'}`,
      );
    assert.deepEqual((await revisions()).sort(), ['zk-voter-0=old', 'zk-voter-1=old', 'zk-voter-2=old']);

    // The same step with a leader (server.2, as the ensemble would say): followers highest id first,
    // the leader last, each after its predecessor is back and ready.
    const client = new KubeClient(loadKubeConfig(cp.kubeconfig));
    const quiet = { recorder: { event: async () => {} }, log: silentLog };
    const order: string[] = [];
    await until('every voter on the new template', 120_000, async () => {
      const e = await kget(['zkensemble', 'zk']);
      const sts = await kget(['statefulset', 'zk-voter']);
      const pods = (await kget(['pods', '-l', 'app.kubernetes.io/component=voter'])).items;
      const left = await stepVoterRestart(client, quiet, e, {
        voterPods: pods,
        statefulSet: sts,
        leaderSid: 2,
        voterCount: 3,
        sidOfPod: (name) => Number(name.split('-').at(-1)) + 1,
      });
      const restarted = left && /restarted (\S+),/.exec(left)?.[1];
      if (restarted) order.push(restarted);
      return left === null ? true : undefined;
    });
    assert.deepEqual(order, ['zk-voter-2', 'zk-voter-0', 'zk-voter-1']);
  });

  test('voter volumes grow once the storage class allows it, without restarting pods; they never shrink', async () => {
    const spec = (size: string) =>
      yaml(
        ensemble([{ ...EAST, replicas: 3 }], {
          zooCfg: { maxClientCnxns: 100 },
          voters: { replicas: 3, storage: { size, storageClassName: 'manual' } },
        }),
      );
    const podUids = async () =>
      (await kget(['pods', '-l', 'app.kubernetes.io/component=voter'])).items
        .map((p: { metadata: { name: string; uid: string } }) => `${p.metadata.name}=${p.metadata.uid}`)
        .sort();
    const before = await podUids();
    await cp.kubectl(['apply', '-f', '-'], { input: spec('2Gi') });
    // Static volumes of a class that does not exist: the API server refuses to grow their claims.
    const refused = await until('VolumesCannotGrow', 60_000, async () => {
      const e = await kget(['zkensemble', 'zk']);
      const c = (e.status?.conditions ?? []).find((x: { type: string }) => x.type === 'Degraded');
      return c?.status === 'True' && c.reason === 'VolumesCannotGrow' ? c : undefined;
    });
    assert.match(refused.message, /cannot grow to 2Gi/);
    assert.match(await eventsAbout('zk'), /VolumesCannotGrow/);
    const templateSize = async () =>
      (await kget(['statefulset', 'zk-voter'])).spec.volumeClaimTemplates[0].spec.resources.requests.storage;
    assert.equal(await templateSize(), '1Gi');

    await cp.kubectl(['apply', '-f', '-'], {
      input: yaml({
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: 'manual' },
        provisioner: 'kubernetes.io/no-provisioner',
        allowVolumeExpansion: true,
      }),
    });
    await until('the StatefulSet recreated with 2Gi claims', 90_000, async () =>
      (await templateSize()) === '2Gi' ? true : undefined,
    );
    const claims = (await kget(['pvc', '-l', 'app.kubernetes.io/component=voter'])).items;
    assert.equal(claims.length, 3);
    for (const c of claims) assert.equal(c.spec.resources.requests.storage, '2Gi');
    await until('the new StatefulSet to own the pods', 60_000, async () => {
      const pods = (await kget(['pods', '-l', 'app.kubernetes.io/component=voter'])).items;
      return pods.every((p: { metadata: { ownerReferences?: { kind: string }[] } }) =>
        p.metadata.ownerReferences?.some((o) => o.kind === 'StatefulSet'),
      )
        ? true
        : undefined;
    });
    assert.deepEqual(await podUids(), before, 'no voter pod was restarted');
    await until('Degraded cleared', 30_000, async () => {
      const e = await kget(['zkensemble', 'zk']);
      const c = (e.status?.conditions ?? []).find((x: { type: string }) => x.type === 'Degraded');
      return c?.status === 'False' ? true : undefined;
    });

    const shrink = await cp.tryKubectl(['apply', '-f', '-'], { input: spec('1Gi') });
    assert.notEqual(shrink.code, 0);
    assert.match(shrink.stderr, /voters.storage.size cannot shrink/);
  });

  test('generateCA: the operator issues the quorum certificate, and a new one rolls the pods', async () => {
    const tlsSpec = (regions: object[]) =>
      yaml(ensemble(regions, { security: { quorumTLS: { generateCA: true } } }, 'zt'));
    const hash = async () =>
      (await kget(['statefulset', 'zt-voter'])).spec.template.metadata.annotations[
        'zkensemble.dev/config-hash'
      ];
    await cp.kubectl(['apply', '-f', '-'], { input: tlsSpec([EAST]) });
    const first = await until('the voters of zt', 30_000, hash);
    const leaf = await kget(['secret', 'zt-quorum-tls']);
    assert.ok(leaf.data['tls-combined.pem'] && leaf.data['ca.crt']);
    assert.equal(leaf.metadata.ownerReferences[0].name, 'zt');
    assert.ok(await exists('secret', 'zt-quorum-ca'));
    const cert = new X509Certificate(Buffer.from(leaf.data['tls-combined.pem'], 'base64'));
    assert.match(cert.subjectAltName ?? '', /\*\.zt-observers-east\.zk\.svc/);
    // A new region needs a certificate valid for its observers' names: issued, and the pods roll.
    await cp.kubectl(['apply', '-f', '-'], { input: tlsSpec([EAST, { ...WEST, name: 'north' }]) });
    const second = await until('a new pod template hash', 30_000, async () => {
      const h = await hash();
      return h !== first ? h : undefined;
    });
    assert.notEqual(second, first);
    const reissued = new X509Certificate(
      Buffer.from((await kget(['secret', 'zt-quorum-tls'])).data['tls-combined.pem'], 'base64'),
    );
    assert.match(reissued.subjectAltName ?? '', /\*\.zt-observers-north\.zk\.svc/);
    assert.match(await eventsAbout('zt'), /CertificateIssued/);
    await cp.kubectl(['-n', NS, 'delete', 'zkensemble', 'zt', '--wait=false']);
  });

  test('CEL rejects an even number of voters', async () => {
    const bad = ensemble([EAST], {}, 'even');
    (bad.spec.voters as { replicas: number }).replicas = 4;
    const r = await cp.tryKubectl(['apply', '-f', '-'], { input: yaml(bad) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /voters/i);
  });

  test('a spec problem CEL cannot see makes the ensemble Degraded, with a Warning event', async () => {
    await cp.kubectl(['apply', '-f', '-'], {
      input: yaml(ensemble([EAST], { zooCfg: { tickTime: 'fast' } }, 'bad')),
    });
    const e = await until('Degraded', 30_000, async () => {
      const x = await kget(['zkensemble', 'bad']);
      const c = (x.status?.conditions ?? []).find((k: { type: string }) => k.type === 'Degraded');
      return c?.status === 'True' ? x : undefined;
    });
    const degraded = e.status.conditions.find((k: { type: string }) => k.type === 'Degraded');
    assert.equal(degraded.reason, 'InvalidSpec');
    assert.match(degraded.message, /tickTime/);
    assert.ok(!(await exists('statefulset', 'bad-voter')), 'nothing rendered for an invalid spec');
    const events = await until('Warning event', 15_000, async () => {
      const out = await eventsAbout('bad');
      return /InvalidSpec/.test(out) ? out : undefined;
    });
    assert.match(events, /Warning/);
    // No requeue storm: the status write and resyncs do not make it reconcile over and over.
    const before = await reconcilesWith('invalid');
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok((await reconcilesWith('invalid')) - before <= 1, 'an invalid spec is not retried in a loop');
    await cp.kubectl(['-n', NS, 'delete', 'zkensemble', 'bad', '--wait=false']);
  });

  test('deleting the ensemble garbage-collects what it owned', async () => {
    await cp.kubectl(['-n', NS, 'delete', 'zkensemble', 'zk', '--wait=false']);
    await until('owned objects gone', 60_000, async () => {
      for (const [kind, name] of [
        ['statefulset', 'zk-voter'],
        ['deployment', 'zk-observer-east'],
        ['configmap', 'zk-dynamic'],
        ['service', 'zk-client'],
        ['pdb', 'zk-voters'],
      ] as const)
        if (await exists(kind, name)) return undefined;
      return true;
    });
  });

  test('a second replica stands by, and takes over when the leader stops and frees the Lease', async () => {
    standby = await startOperator();
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(!standby.log.includes('"became leader"'), 'only one replica leads');
    assert.equal((await fetch(`http://${standby.listen}/readyz`)).status, 200, 'a standby is ready');
    const code = await stopOperator(op);
    assert.equal(code, 0, op!.log.slice(-2000));
    assert.match(op!.log, /released the lease/);
    // Released, not expired: the standby leads within its retry period (2 s), not the 15 s lease duration.
    await until('standby leads', 8_000, async () =>
      standby!.log.includes('"became leader"') ? true : undefined,
    );
    assert.equal(await stopOperator(standby), 0, standby.log.slice(-2000));
    const lease = JSON.parse(
      await cp.kubectl(['-n', OP_NS, 'get', 'lease', 'zkensemble-operator', '-o', 'json']),
    );
    assert.ok(!lease.spec.holderIdentity, `holder: ${lease.spec.holderIdentity}`);
    const errors = opLog.split('\n').filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errors, []);
  });
});
