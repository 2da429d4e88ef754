// One reconcile of one ZkEnsemble: validate, give observer pods their server ids, render, apply every
// object (server-side apply), delete owned objects no longer rendered, write status. Safe to run any
// number of times: each step converges on the spec and skips what is already done.

import type { Logger } from '../../peer/log.ts';
import { withDefaults } from '../api/defaults.ts';
import type { ZkEnsemble, ZkEnsembleStatus } from '../api/types.generated.ts';
import { validateEnsemble } from '../api/validate.ts';
import { type EnsembleAccess, superDigest, zkEnsembleAccess } from '../membership/ensemble-access.ts';
import { DYNAMIC_CONFIG_FILE, type OperatorSettings, SERVER_ID_ANNOTATION } from '../render/contract.ts';
import { membersFromConfigText } from '../render/dynamic-config.ts';
import { renderEnsemble } from '../render/ensemble.ts';
import {
  INSTANCE_LABEL,
  labelSelector,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  REGION_LABEL,
  selectorLabels,
} from '../render/labels.ts';
import { desiredMembers, type Member, type ObserverPodInfo, voterSid } from '../render/members.ts';
import { ensembleNames } from '../render/names.ts';
import type { KubeObject } from '../render/objects.ts';
import { assignObserverIds } from '../render/server-ids.ts';
import { ensureSuperPassword } from './credentials.ts';
import type { Recorder } from './events.ts';
import { isNotFound, type KubeClient, type KubeObj } from './kube.ts';
import {
  isReady,
  observeEnsemble,
  type PodLike,
  stepMembership,
  stepVoterRestart,
  votersOf,
} from './membership.ts';
import { objectsToPrune } from './prune.ts';
import { ensureGeneratedQuorumTls } from './quorum-tls.ts';
import { collectionPath, ENSEMBLES, OWNED, objectKey, objectPath, PODS, resourceOf } from './resources.ts';
import {
  computeStatus,
  conditionOf,
  invalidSpecStatus,
  statusChanged,
  type WorkloadState,
} from './status.ts';
import { planVoterVolumes } from './storage.ts';

export const FIELD_MANAGER = 'zkensemble-operator';

export interface ReconcileContext {
  client: KubeClient;
  settings: OperatorSettings;
  recorder: Recorder;
  log: Logger;
  /** How to reach a running ensemble, given the super user's password (default: as a client, directly). */
  access?: (password: string) => EnsembleAccess;
}

const defaultAccess = (password: string) => zkEnsembleAccess({ password });

/** progressing: the ensemble is still on its way to the spec; reconcile again soon. */
export type ReconcileResult = 'gone' | 'invalid' | 'applied' | 'progressing';

export async function reconcile(
  ctx: ReconcileContext,
  namespace: string,
  name: string,
): Promise<ReconcileResult> {
  const { client, log } = ctx;
  let raw: ZkEnsemble;
  try {
    raw = await client.get<ZkEnsemble>(objectPath(ENSEMBLES, namespace, name));
  } catch (err) {
    if (isNotFound(err)) return 'gone'; // its objects go with it (owner references, GC)
    throw err;
  }
  if (raw.metadata.deletionTimestamp) return 'gone';

  const problems = validateEnsemble(raw);
  if (problems.length > 0) {
    const status = invalidSpecStatus(raw, problems, new Date().toISOString());
    const before = conditionOf(raw.status, 'Degraded');
    const after = conditionOf(status, 'Degraded');
    // One Event per distinct problem set, not one per resync.
    if (before?.reason !== after?.reason || before?.message !== after?.message)
      await ctx.recorder.event(raw, 'Warning', 'InvalidSpec', after?.message ?? problems.join('; '));
    await writeStatus(client, raw, status);
    log.warn({ ensemble: `${namespace}/${name}`, problems }, 'invalid spec: left the running ensemble alone');
    return 'invalid';
  }

  const e = withDefaults(raw);
  const uid = e.metadata.uid!;
  const where = `${namespace}/${name}`;
  const ownedSelector = labelSelector({ [INSTANCE_LABEL]: name, [MANAGED_BY_LABEL]: MANAGED_BY });
  const existing = (
    await Promise.all(OWNED.map((r) => listOwned(client, r, namespace, ownedSelector)))
  ).flat();
  const existingByKey = new Map(existing.map((o) => [objectKey(o), o]));
  const names = ensembleNames(name);

  const password = await ensureSuperPassword(client, e);
  const access = (ctx.access ?? defaultAccess)(password);
  // The ConfigMap holds the membership last read from the ensemble (or, before it first ran, the one
  // it starts with); the ensemble itself, when it answers, is the truth.
  const stored = storedMembership(existingByKey, names.dynamicConfig);
  const seen = await observeEnsemble(access, stored.members);
  const view = 'view' in seen ? seen.view : undefined;

  const [voterPods, observerPods] = await Promise.all([
    listPods(client, e, 'voter'),
    listPods(client, e, 'observer'),
  ]);
  const base = view ?? stored;
  const committedMembers = nameObserversByIp(base.members, observerPods);
  const withIds = await assignIds(ctx, e, committedMembers, observerPods);
  const desired = desiredMembers(e, ctx.settings, withIds);
  // Before the ensemble first runs there is nothing to reconfigure: it starts with the spec's members.
  const membership =
    base.members.length > 0
      ? { members: committedMembers, ...(base.version !== undefined ? { version: base.version } : {}) }
      : { members: desired };
  const oldSts = existingByKey.get(`StatefulSet/${names.voterStatefulSet}`);
  if (oldSts?.metadata.deletionTimestamp) return 'progressing'; // being replaced (storage.ts)
  const volumes = await planVoterVolumes(client, e, oldSts);
  if (volumes.kind === 'recreating') {
    await ctx.recorder.event(raw, 'Normal', 'VolumesGrowing', `voter volumes growing to ${volumes.size}`);
    log.info({ ensemble: where, size: volumes.size }, 'volumes asked to grow; StatefulSet recreated next');
    return 'progressing';
  }
  const sized = {
    ...e,
    spec: {
      ...e.spec,
      voters: { ...e.spec.voters, storage: { ...e.spec.voters.storage, size: volumes.size } },
    },
  };
  const tls = await ensureGeneratedQuorumTls(client, e, ctx.settings);
  if (tls?.reissued) {
    await ctx.recorder.event(
      raw,
      'Normal',
      'CertificateIssued',
      `quorum certificate issued: ${tls.reissued}`,
    );
    log.info({ ensemble: where, why: tls.reissued }, 'quorum certificate issued');
  }
  const rendered = renderEnsemble({
    ensemble: sized,
    settings: ctx.settings,
    membership,
    superDigest: superDigest(password),
    ...(tls ? { tlsFingerprint: tls.fingerprint } : {}),
  });

  const applied = await applyAll(ctx, raw, rendered, existingByKey);
  await pruneAll(ctx, raw, objectsToPrune(existing, rendered, uid));

  const pending: string[] = [];
  let acted = false;
  if (view) {
    // A pod is ready once its member serves in sync with the leader: what "synced" means to a reconfig.
    const synced = new Set<number>();
    for (const p of voterPods) {
      const sid = voterSidOfPod(name, p.metadata.name);
      if (sid !== undefined && isReady(p)) synced.add(sid);
    }
    const readyPods = new Set(observerPods.filter(isReady).map((p) => p.metadata.name));
    for (const o of withIds) if (readyPods.has(o.name)) synced.add(o.sid);
    const progress = await stepMembership(
      { access, recorder: ctx.recorder, log },
      raw,
      view,
      desired,
      synced,
    );
    pending.push(...progress.pending);
    acted = progress.acted;
  } else if ('unreachable' in seen && base.members.length > 0) {
    pending.push(`ensemble not reachable: ${seen.unreachable}`);
  }
  const sts = applied.get(`StatefulSet/${names.voterStatefulSet}`);
  // Restarts wait for the membership: a reconfig and a restart at once could cost the quorum.
  if (!acted) {
    const rollout = await stepVoterRestart(client, { recorder: ctx.recorder, log }, raw, {
      voterPods,
      statefulSet: sts,
      leaderSid: view?.leaderSid,
      voterCount: votersOf(membership.members).length,
      sidOfPod: (pod) => voterSidOfPod(name, pod),
    });
    if (rollout) pending.push(rollout);
  }

  const observers = new Map<string, WorkloadState>();
  for (const r of e.spec.observers.regions) {
    const d = applied.get(`Deployment/${names.observerDeployment(r.name)}`);
    if (d) observers.set(r.name, workloadState(d));
  }
  const leader =
    view?.leaderSid !== undefined
      ? membership.members.find((m) => m.sid === view.leaderSid && m.role === 'voter')?.pod
      : undefined;
  const status = computeStatus(
    e,
    {
      ...(sts ? { voters: workloadState(sts) } : {}),
      observers,
      members: membership.members,
      ...(membership.version !== undefined ? { configVersion: membership.version } : {}),
      ...(leader !== undefined ? { leader } : {}),
      pending,
      ...(volumes.problem ? { degraded: { reason: 'VolumesCannotGrow', message: volumes.problem } } : {}),
    },
    new Date().toISOString(),
  );
  const was = conditionOf(raw.status, 'Degraded');
  if (volumes.problem && was?.message !== volumes.problem)
    await ctx.recorder.event(raw, 'Warning', 'VolumesCannotGrow', volumes.problem);
  await writeStatus(client, raw, status);
  return pending.length > 0 ? 'progressing' : 'applied';
}

/** Applies every rendered object; an Event for each one created or changed. */
async function applyAll(
  ctx: ReconcileContext,
  about: ZkEnsemble,
  rendered: readonly KubeObject[],
  existing: ReadonlyMap<string, KubeObj>,
): Promise<Map<string, KubeObj>> {
  const where = `${about.metadata.namespace}/${about.metadata.name}`;
  const applied = new Map<string, KubeObj>();
  for (const obj of rendered) {
    const res = await applyObject(ctx.client, obj);
    applied.set(objectKey(obj), res.body);
    const old = existing.get(objectKey(obj));
    const what = `${obj.kind} ${obj.metadata.name}`;
    if (res.code === 201 || !old) {
      await ctx.recorder.event(about, 'Normal', 'Created', `created ${what}`);
      ctx.log.info({ ensemble: where, object: objectKey(obj) }, 'created');
    } else if (
      old.metadata.resourceVersion !== res.body.metadata.resourceVersion &&
      specChanged(old, res.body)
    ) {
      await ctx.recorder.event(about, 'Normal', 'Updated', `updated ${what}`);
      ctx.log.info({ ensemble: where, object: objectKey(obj) }, 'updated');
    }
  }
  return applied;
}

async function pruneAll(
  ctx: ReconcileContext,
  about: ZkEnsemble,
  leftovers: readonly KubeObj[],
): Promise<void> {
  for (const o of leftovers) {
    const r = resourceOf(o.apiVersion!, o.kind!);
    try {
      await ctx.client.delete(objectPath(r, about.metadata.namespace!, o.metadata.name));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await ctx.recorder.event(about, 'Normal', 'Deleted', `deleted ${o.kind} ${o.metadata.name}`);
    ctx.log.info(
      { ensemble: `${about.metadata.namespace}/${about.metadata.name}`, object: objectKey(o) },
      'deleted',
    );
  }
}

/** Listed kinds carry apiVersion/kind on the list, not on each item; put them back. */
async function listOwned(
  client: KubeClient,
  r: (typeof OWNED)[number],
  namespace: string,
  labelSelector: string,
): Promise<KubeObj[]> {
  try {
    const list = await client.list(collectionPath(r, namespace), labelSelector);
    return list.items.map((o) => ({ apiVersion: r.apiVersion, kind: r.kind, ...o }));
  } catch (err) {
    if (r.optional && isNotFound(err)) return [];
    throw err;
  }
}

function applyObject(client: KubeClient, obj: KubeObject) {
  const r = resourceOf(obj.apiVersion, obj.kind);
  return client.apply(objectPath(r, obj.metadata.namespace!, obj.metadata.name), obj, FIELD_MANAGER);
}

/** A new resourceVersion that only reflects a status change is not worth an "Updated" event. */
function specChanged(old: KubeObj, now: KubeObj): boolean {
  // JSON.stringify leaves out the fields set to undefined.
  const strip = ({ status: _s, metadata, ...rest }: KubeObj) =>
    JSON.stringify({ ...rest, meta: { ...metadata, resourceVersion: undefined, managedFields: undefined } });
  return strip(old) !== strip(now);
}

function workloadState(o: KubeObj): WorkloadState {
  const spec = (o.spec ?? {}) as { replicas?: number };
  const status = (o.status ?? {}) as { readyReplicas?: number; observedGeneration?: number };
  return {
    ...(spec.replicas !== undefined ? { replicas: spec.replicas } : {}),
    readyReplicas: status.readyReplicas ?? 0,
    current: status.observedGeneration === o.metadata.generation,
  };
}

function storedMembership(
  existing: Map<string, KubeObj>,
  configMapName: string,
): { members: Member[]; version?: number } {
  const cm = existing.get(`ConfigMap/${configMapName}`);
  const text = (cm?.data as Record<string, string> | undefined)?.[DYNAMIC_CONFIG_FILE];
  if (!text) return { members: [] };
  try {
    return membersFromConfigText(text);
  } catch {
    return { members: [] };
  }
}

function listPods(client: KubeClient, e: ZkEnsemble, role: 'voter' | 'observer'): Promise<PodLike[]> {
  const path = collectionPath(PODS, e.metadata.namespace!);
  return client.list<PodLike>(path, labelSelector(selectorLabels(e, role))).then((l) => l.items);
}

/** Observers in a config are known by IP only; name them by the pod that has that IP now. */
function nameObserversByIp(members: readonly Member[], pods: readonly PodLike[]): Member[] {
  const byIp = new Map(pods.filter((p) => p.status?.podIP).map((p) => [p.status!.podIP!, p]));
  return members.map((m) => {
    const pod = m.role === 'observer' && m.pod === undefined ? byIp.get(m.host) : undefined;
    if (!pod) return m;
    const region = pod.metadata.labels?.[REGION_LABEL];
    return { ...m, pod: pod.metadata.name, ...(region ? { region } : {}) };
  });
}

/** A voter pod's server id: its StatefulSet ordinal + 1. */
function voterSidOfPod(ensemble: string, pod: string): number | undefined {
  const prefix = `${ensembleNames(ensemble).voterStatefulSet}-`;
  if (!pod.startsWith(prefix)) return undefined;
  const ordinal = pod.slice(prefix.length);
  return /^\d+$/.test(ordinal) ? voterSid(Number(ordinal)) : undefined;
}

/**
 * Gives every observer pod a server id (annotation the pod reads through the downward API) and returns
 * the pods that have one. Ids stay with a pod for its life (server-ids.ts).
 */
async function assignIds(
  ctx: ReconcileContext,
  e: ZkEnsemble,
  known: Member[],
  pods: readonly PodLike[],
): Promise<ObserverPodInfo[]> {
  const ns = e.metadata.namespace!;
  const assignments = assignObserverIds(
    pods.map((p) => ({
      name: p.metadata.name,
      region: p.metadata.labels?.[REGION_LABEL] ?? '',
      ...(p.metadata.annotations?.[SERVER_ID_ANNOTATION] !== undefined
        ? { annotation: p.metadata.annotations[SERVER_ID_ANNOTATION] }
        : {}),
      ...(p.metadata.creationTimestamp ? { creationTimestamp: p.metadata.creationTimestamp } : {}),
      terminating: p.metadata.deletionTimestamp !== undefined,
    })),
    known,
    e.spec.voters.replicas,
  );
  const byName = new Map(pods.map((p) => [p.metadata.name, p]));
  const out: ObserverPodInfo[] = [];
  for (const a of assignments) {
    if (a.changed) {
      try {
        await ctx.client.mergePatch(objectPath(PODS, ns, a.pod), {
          metadata: { annotations: { [SERVER_ID_ANNOTATION]: String(a.sid) } },
        });
      } catch (err) {
        if (isNotFound(err)) continue; // gone meanwhile
        throw err;
      }
    }
    const ip = byName.get(a.pod)?.status?.podIP;
    out.push({ name: a.pod, region: a.region, sid: a.sid, ...(ip ? { ip } : {}) });
  }
  return out;
}

async function writeStatus(client: KubeClient, e: ZkEnsemble, status: ZkEnsembleStatus): Promise<void> {
  if (!statusChanged(e.status, status)) return;
  // A merge patch replaces lists whole; no resourceVersion, so no 409 on a concurrent spec edit.
  await client.mergePatch(`${objectPath(ENSEMBLES, e.metadata.namespace!, e.metadata.name)}/status`, {
    status: { ...status, leader: status.leader ?? null },
  });
}
