// A log-linear latency histogram in the style of HdrHistogram: values (microseconds) below 128 are
// counted exactly; above, every power-of-two range is split into 64 equal buckets, so a reported
// percentile is never more than 1/64 (1.6%) above the true value. Fixed memory, O(1) record.

const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128 exact buckets for 0..127
const HALF = SUB >> 1; // 64 buckets per power of two above that
/** Values are clamped to 2^31-1 µs (about 35 minutes). */
const MAX_VALUE = 0x7fffffff;
const BUCKETS = SUB + (31 - SUB_BITS + 1) * HALF;

function indexOf(v: number): number {
  if (v < SUB) return v;
  const shift = 31 - Math.clz32(v) - (SUB_BITS - 1);
  return SUB + (shift - 1) * HALF + ((v >>> shift) - HALF);
}

/** The smallest and largest value counted in a bucket. */
function boundsOf(index: number): [number, number] {
  if (index < SUB) return [index, index];
  const shift = Math.floor((index - SUB) / HALF) + 1;
  const lo = (HALF + ((index - SUB) % HALF)) * 2 ** shift;
  return [lo, lo + 2 ** shift - 1];
}

export interface HistogramSummary {
  count: number;
  /** All in milliseconds. */
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;

  /** Records one value in microseconds (fractions are truncated). */
  record(us: number): void {
    let v = us < 0 ? 0 : Math.trunc(us);
    if (v > MAX_VALUE) v = MAX_VALUE;
    this.counts[indexOf(v)]!++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(other: Histogram): this {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    return this;
  }

  /**
   * The value (µs) at or below which the given percentage of recorded values lie, reported as the
   * highest value of its bucket (capped by the exact maximum), like HdrHistogram does.
   */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(boundsOf(i)[1], this.max);
    }
    return this.max;
  }

  summary(): HistogramSummary {
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: this.count,
      min: this.count ? ms(this.min) : 0,
      mean: this.count ? Math.round(this.sum / this.count) / 1000 : 0,
      p50: ms(this.percentile(50)),
      p90: ms(this.percentile(90)),
      p99: ms(this.percentile(99)),
      p999: ms(this.percentile(99.9)),
      max: ms(this.max),
    };
  }

  /** Non-empty buckets as [lowest value µs, count] pairs, for the JSON report. */
  buckets(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) out.push([boundsOf(i)[0], this.counts[i]!]);
    return out;
  }
}
