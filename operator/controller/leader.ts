// Leader election on a coordination.k8s.io Lease, like client-go's: the holder renews the Lease every
// retry period; another replica takes it over only after leaseDuration without a renewal. Writes carry
// the resourceVersion read, so of two replicas racing for a free Lease one gets 409 and stays follower.

import type { Logger } from '../../peer/log.ts';
import { isConflict, isNotFound, type KubeClient } from './kube.ts';
import { collectionPath, LEASES, objectPath } from './resources.ts';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

export interface ElectorOptions {
  client: KubeClient;
  log: Logger;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  retryPeriodMs?: number;
}

/** Whether `identity` may take the Lease at `now` (ms): free, expired, or already its own. */
export function canAcquire(spec: LeaseSpec, identity: string, now: number): boolean {
  if (!spec.holderIdentity || spec.holderIdentity === identity) return true;
  const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
  return now > renewed + (spec.leaseDurationSeconds ?? 15) * 1000;
}

/** MicroTime as the API server wants it (RFC 3339 with microseconds). */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private readonly o: Required<ElectorOptions>;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private onStart: () => void = () => {};
  private onStop: () => void = () => {};

  constructor(opts: ElectorOptions) {
    this.o = { leaseDurationSeconds: 15, retryPeriodMs: 2000, ...opts };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Tries now and then every retry period; calls onStart when it becomes leader, onStop if it loses the Lease. */
  run(onStart: () => void, onStop: () => void): void {
    this.onStart = onStart;
    this.onStop = onStop;
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'leader election: lease update failed');
    }
    if (this.stopped) return;
    if (ok && !this.leading) {
      this.leading = true;
      this.o.log.info(
        { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity },
        'became leader',
      );
      this.onStart();
    } else if (!ok && this.leading) {
      this.leading = false;
      this.o.log.warn({ identity: this.o.identity }, 'lost the lease');
      this.onStop();
    }
    this.timer = setTimeout(() => void this.tick(), this.o.retryPeriodMs);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity, leaseDurationSeconds } = this.o;
    const path = objectPath(LEASES, namespace, name);
    const now = Date.now();
    let lease: Lease | undefined;
    try {
      lease = await client.get<Lease>(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!lease) {
      const body: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        await client.request('POST', collectionPath(LEASES, namespace), body);
        return true;
      } catch (err) {
        if (isConflict(err)) return false; // another replica created it first
        throw err;
      }
    }
    if (!canAcquire(lease.spec, identity, now)) return false;
    const taking = lease.spec.holderIdentity !== identity;
    lease.spec = {
      ...lease.spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: microTime(now),
      ...(taking
        ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }
        : {}),
    };
    try {
      await client.request('PUT', path, lease);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Stops renewing and, if leading, frees the Lease so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    const path = objectPath(LEASES, this.o.namespace, this.o.name);
    try {
      const lease = await this.o.client.get<Lease>(path);
      if (lease.spec.holderIdentity !== this.o.identity) return;
      lease.spec = {
        ...lease.spec,
        holderIdentity: null,
        leaseDurationSeconds: 1,
        renewTime: microTime(Date.now()),
      };
      await this.o.client.request('PUT', path, lease);
      this.o.log.info({ identity: this.o.identity }, 'released the lease');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }
}
