// Packet counts and request latencies, kept per server and per connection (srvr, cons, mntr).

export class RequestStats {
  received = 0;
  sent = 0;
  maxLatency = 0;
  lastLatency = 0;
  /** Failed `auth` requests (server-wide only; srst keeps it, like a counter). */
  authFailed = 0;
  private min = Number.MAX_SAFE_INTEGER;
  private total = 0;
  private count = 0;

  record(ms: number): void {
    this.lastLatency = ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.maxLatency) this.maxLatency = ms;
    this.total += ms;
    this.count++;
  }

  get minLatency(): number {
    return this.count === 0 ? 0 : this.min;
  }

  get avgLatency(): number {
    return this.count === 0 ? 0 : this.total / this.count;
  }

  reset(): void {
    this.received = 0;
    this.sent = 0;
    this.maxLatency = 0;
    this.lastLatency = 0;
    this.min = Number.MAX_SAFE_INTEGER;
    this.total = 0;
    this.count = 0;
  }
}
