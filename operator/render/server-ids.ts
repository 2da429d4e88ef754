// Server ids for observer pods. Voters own 1..7 (StatefulSet ordinal + 1). Each region has a block
// of OBSERVER_BLOCK ids picked by a hash of its name, so ids do not depend on the order or number of
// regions; a new pod starts probing at a hash of its own name, which makes an id freed a moment ago
// unlikely to be handed out again at once. An id is stored on the pod (annotation) and kept for the
// pod's life; no id is ever given while a member or another pod still holds it.

import type { Member } from './members.ts';

export const MAX_VOTER_SID = 7;
export const OBSERVER_BLOCK = 1000;
const BLOCKS = 1000;
/** First id after the region blocks, for the (theoretical) case of a full block. */
const OVERFLOW_BASE = OBSERVER_BLOCK * (BLOCKS + 1);

/** 32-bit FNV-1a: stable across processes and versions, unlike anything seeded. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** First id of a region's block: 1000, 2000, ... 1000000. */
export const regionBase = (region: string) => OBSERVER_BLOCK * (1 + (fnv1a(region) % BLOCKS));

export interface ObserverPod {
  name: string;
  region: string;
  /** The pod's zkensemble.dev/server-id annotation (contract.ts), if any. */
  annotation?: string;
  creationTimestamp?: string;
  /** Being deleted: keeps its id, gets none. */
  terminating?: boolean;
}

export interface IdAssignment {
  pod: string;
  region: string;
  sid: number;
  /** The annotation must be written (new id, or the old one was invalid or taken). */
  changed: boolean;
}

/** The id in an annotation, or undefined when there is none or it cannot be an observer's. */
export function parseServerId(annotation: string | undefined): number | undefined {
  if (annotation === undefined || !/^\d{1,15}$/.test(annotation.trim())) return undefined;
  const id = Number(annotation.trim());
  return id > MAX_VOTER_SID ? id : undefined;
}

const byAgeThenName = (a: ObserverPod, b: ObserverPod) =>
  (a.creationTimestamp ?? '').localeCompare(b.creationTimestamp ?? '') || a.name.localeCompare(b.name);

/**
 * Ids for every observer pod that is not terminating, ordered by pod name. Pods keep a valid
 * annotated id unless another holder has a better claim: the member the committed config says has
 * it, or else the oldest pod annotated with it.
 */
export function assignObserverIds(
  pods: readonly ObserverPod[],
  existingMembers: readonly Member[],
  voterCount: number,
): IdAssignment[] {
  const memberBySid = new Map(existingMembers.map((m) => [m.sid, m]));
  const taken = new Set<number>(existingMembers.map((m) => m.sid));
  for (let sid = 1; sid <= Math.max(MAX_VOTER_SID, voterCount); sid++) taken.add(sid);

  const kept = new Map<string, number>();
  const claimed = new Set<number>();
  const claim = (p: ObserverPod, confirmedOnly: boolean) => {
    const id = parseServerId(p.annotation);
    if (id === undefined || kept.has(p.name) || claimed.has(id) || id <= voterCount) return;
    const m = memberBySid.get(id);
    if (m && (m.role === 'voter' || (m.pod !== undefined && m.pod !== p.name))) return;
    if (confirmedOnly && m?.pod !== p.name) return;
    kept.set(p.name, id);
    claimed.add(id);
  };
  const oldestFirst = [...pods].sort(byAgeThenName);
  for (const p of oldestFirst) claim(p, true);
  for (const p of oldestFirst) claim(p, false);
  for (const id of claimed) taken.add(id);

  const out: IdAssignment[] = [];
  for (const p of [...pods].sort((a, b) => a.name.localeCompare(b.name))) {
    if (p.terminating) continue;
    const keep = kept.get(p.name);
    if (keep !== undefined) {
      out.push({ pod: p.name, region: p.region, sid: keep, changed: false });
      continue;
    }
    const sid = freeId(p, taken);
    taken.add(sid);
    out.push({ pod: p.name, region: p.region, sid, changed: true });
  }
  return out;
}

function freeId(p: ObserverPod, taken: ReadonlySet<number>): number {
  const base = regionBase(p.region);
  const start = fnv1a(p.name) % OBSERVER_BLOCK;
  for (let i = 0; i < OBSERVER_BLOCK; i++) {
    const id = base + ((start + i) % OBSERVER_BLOCK);
    if (!taken.has(id)) return id;
  }
  let id = OVERFLOW_BASE;
  while (taken.has(id)) id++;
  return id;
}
