// Quota bookkeeping as ZooKeeper does it: a path with a /zookeeper/quota/<path>/zookeeper_limits
// node has its subtree's node count and data bytes kept in .../zookeeper_stats, updated in place
// (not through txns) as nodes are created, deleted and changed. Limits are advisory, as in 3.8.

export const QUOTA_ROOT = '/zookeeper/quota';
export const LIMIT_NODE = 'zookeeper_limits';
export const STAT_NODE = 'zookeeper_stats';

export function statPath(path: string): string {
  return `${QUOTA_ROOT}${path}/${STAT_NODE}`;
}

/** The quota'd path a /zookeeper/quota/... node belongs to, or null. */
export function quotaTarget(quotaNodeParent: string): string | null {
  if (!quotaNodeParent.startsWith(`${QUOTA_ROOT}/`)) return null;
  return quotaNodeParent.slice(QUOTA_ROOT.length);
}

interface Track {
  count: number;
  bytes: number;
  /** Other keys (hard limits), kept as written. */
  extra: Map<string, string>;
}

/** Parses StatsTrack text: "count=N,bytes=M" or the newer "count=N,bytes=M=;k=v;k=v". */
export function parseTrack(text: string): Track {
  const t: Track = { count: 0, bytes: 0, extra: new Map() };
  const [legacy = '', ...rest] = text.split(';');
  for (const part of [...legacy.replace(/=$/, '').split(','), ...rest]) {
    const [k, v] = part.split('=');
    if (k === 'count') t.count = Number(v) || 0;
    else if (k === 'bytes') t.bytes = Number(v) || 0;
    else if (k) t.extra.set(k, v ?? '');
  }
  return t;
}

export function formatTrack(t: Track): string {
  let s = `count=${t.count},bytes=${t.bytes}`;
  if (t.extra.size > 0) {
    s += '=';
    for (const k of [...t.extra.keys()].sort()) s += `;${k}=${t.extra.get(k)}`;
  }
  return s;
}

/** Paths that carry a quota; finds the deepest one above a changed node. */
export class QuotaPaths {
  private readonly paths = new Set<string>();

  get size(): number {
    return this.paths.size;
  }

  add(path: string): void {
    this.paths.add(path);
  }

  delete(path: string): void {
    this.paths.delete(path);
  }

  all(): Iterable<string> {
    return this.paths;
  }

  /** The deepest quota path equal to or above path; never / or anything under /zookeeper. */
  owner(path: string): string | null {
    if (this.paths.size === 0 || path === '/zookeeper' || path.startsWith('/zookeeper/')) return null;
    for (let p = path; p.length > 1; p = p.slice(0, p.lastIndexOf('/')) || '/') {
      if (this.paths.has(p)) return p;
    }
    return null;
  }
}
