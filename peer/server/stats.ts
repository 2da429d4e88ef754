// Packet counts and request latencies, kept per server and per connection (srvr, cons, mntr), and
// the Tally they (and the member's replication stats in peer/admin/status.ts) record into.

/** Min/avg/max/count/sum of a quantity, recorded cheaply (no allocation, no quantiles). */
export class Tally {
  count = 0;
  sum = 0;
  max = 0;
  private minValue = Number.MAX_SAFE_INTEGER;

  record(v: number): void {
    if (v < this.minValue) this.minValue = v;
    if (v > this.max) this.max = v;
    this.sum += v;
    this.count++;
  }

  get min(): number {
    return this.count === 0 ? 0 : this.minValue;
  }

  get avg(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.max = 0;
    this.minValue = Number.MAX_SAFE_INTEGER;
  }
}

export class RequestStats {
  received = 0;
  sent = 0;
  /** Milliseconds from a request's arrival to its reply. */
  readonly latency = new Tally();
  lastLatency = 0;
  /** Failed `auth` requests (server-wide only; srst keeps it, like a counter). */
  authFailed = 0;

  record(ms: number): void {
    this.lastLatency = ms;
    this.latency.record(ms);
  }

  reset(): void {
    this.received = 0;
    this.sent = 0;
    this.lastLatency = 0;
    this.latency.reset();
  }
}
