// Watch tables (ZooKeeper's WatchManager): who watches which path, in which modes, and which
// watchers one change fires. Standard watches fire once; persistent ones stay; recursive ones
// also fire for descendants, never with NodeChildrenChanged.

import { EventType, WatcherType } from '../protocol/constants.ts';

const STANDARD = 1;
const PERSISTENT = 2;
const RECURSIVE = 4;
const NONE: ReadonlySet<never> = new Set();

class WatchTable<W> {
  readonly byPath = new Map<string, Map<W, number>>();
  readonly byWatcher = new Map<W, Set<string>>();
  recursiveCount = 0;

  add(path: string, w: W, mode: number): void {
    let m = this.byPath.get(path);
    if (!m) this.byPath.set(path, (m = new Map()));
    const old = m.get(w) ?? 0;
    if ((mode & RECURSIVE) !== 0 && (old & RECURSIVE) === 0) this.recursiveCount++;
    m.set(w, old | mode);
    let s = this.byWatcher.get(w);
    if (!s) this.byWatcher.set(w, (s = new Set()));
    s.add(path);
  }

  /** Clears the given mode bits; returns whether any were set. */
  remove(path: string, w: W, modes: number): boolean {
    const m = this.byPath.get(path);
    const old = m?.get(w);
    if (!m || old === undefined || (old & modes) === 0) return false;
    this.set(path, m, w, old, old & ~modes);
    return true;
  }

  private set(path: string, m: Map<W, number>, w: W, old: number, next: number): void {
    if ((old & RECURSIVE) !== 0 && (next & RECURSIVE) === 0) this.recursiveCount--;
    if (next === 0) {
      m.delete(w);
      if (m.size === 0) this.byPath.delete(path);
      const s = this.byWatcher.get(w);
      s?.delete(path);
      if (s?.size === 0) this.byWatcher.delete(w);
    } else {
      m.set(w, next);
    }
  }

  has(path: string, w: W, modes: number): boolean {
    return ((this.byPath.get(path)?.get(w) ?? 0) & modes) !== 0;
  }

  /**
   * Adds to `out` (made on the first watcher: most changes fire none) the watchers a change at path
   * fires; standard registrations on path itself are consumed.
   */
  fire(path: string, out: Set<W> | null): Set<W> | null {
    const m = this.byPath.get(path);
    if (m) {
      for (const [w, mode] of m) {
        (out ??= new Set()).add(w);
        if ((mode & STANDARD) !== 0) this.set(path, m, w, mode, mode & ~STANDARD);
      }
    }
    if (this.recursiveCount === 0) return out;
    for (let i = path.lastIndexOf('/'); i >= 0; i = path.lastIndexOf('/', i - 1)) {
      const ancestor = i === 0 ? '/' : path.slice(0, i);
      const am = this.byPath.get(ancestor);
      if (am) for (const [w, mode] of am) if ((mode & RECURSIVE) !== 0) (out ??= new Set()).add(w);
      if (i === 0) break;
    }
    return out;
  }

  dropWatcher(w: W): void {
    const paths = this.byWatcher.get(w);
    if (!paths) return;
    for (const p of [...paths]) {
      const m = this.byPath.get(p)!;
      this.set(p, m, w, m.get(w)!, 0);
    }
  }

  count(): number {
    let n = 0;
    for (const m of this.byPath.values()) n += m.size;
    return n;
  }
}

export class WatchManager<W> {
  readonly data = new WatchTable<W>();
  readonly child = new WatchTable<W>();

  addData(path: string, w: W): void {
    this.data.add(path, w, STANDARD);
  }

  addChild(path: string, w: W): void {
    this.child.add(path, w, STANDARD);
  }

  addPersistent(path: string, w: W, recursive: boolean): void {
    if (recursive) this.data.add(path, w, RECURSIVE);
    else {
      this.data.add(path, w, PERSISTENT);
      this.child.add(path, w, PERSISTENT);
    }
  }

  /** The watchers an event fires, each once. */
  trigger(path: string, type: number): ReadonlySet<W> {
    let out: Set<W> | null = null;
    switch (type) {
      case EventType.NodeCreated:
      case EventType.NodeDataChanged:
        out = this.data.fire(path, out);
        break;
      case EventType.NodeDeleted:
        out = this.child.fire(path, this.data.fire(path, out));
        break;
      case EventType.NodeChildrenChanged:
        out = this.child.fire(path, out);
        break;
    }
    return out ?? NONE;
  }

  /** removeWatches / checkWatches: whether w has (and, if remove, no longer has) such a watch. */
  matchWatch(path: string, w: W, watcherType: number, remove: boolean): boolean {
    const op = remove
      ? (t: WatchTable<W>, modes: number) => t.remove(path, w, modes)
      : (t: WatchTable<W>, modes: number) => t.has(path, w, modes);
    switch (watcherType) {
      case WatcherType.Children:
        return op(this.child, STANDARD);
      case WatcherType.Data:
        return op(this.data, STANDARD);
      case WatcherType.Any: {
        const a = op(this.child, STANDARD | PERSISTENT);
        const b = op(this.data, STANDARD | PERSISTENT | RECURSIVE);
        return a || b;
      }
      case WatcherType.Persistent: {
        const a = op(this.child, PERSISTENT);
        const b = op(this.data, PERSISTENT);
        return a || b;
      }
      case WatcherType.PersistentRecursive:
        return op(this.data, RECURSIVE);
      default:
        return false;
    }
  }

  removeWatcher(w: W): void {
    this.data.dropWatcher(w);
    this.child.dropWatcher(w);
  }

  get watchCount(): number {
    return this.data.count() + this.child.count();
  }
}
