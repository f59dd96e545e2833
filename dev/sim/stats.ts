/** Counters and latency percentiles for a simulated fleet. */

/** The p-th percentile (0–100) of `sorted` (ascending), nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function percentiles(samples: readonly number[], ps: readonly number[] = [50, 99]): number[] {
  const sorted = Float64Array.from(samples).sort();
  return ps.map((p) => percentile(sorted, p));
}

/** Keeps every sample (bounded) plus a time-stamped recent window for live figures. */
export class LatencyRecorder {
  private all: number[] = [];
  private recent: { t: number; ms: number }[] = [];
  private seen = 0;

  constructor(private readonly maxSamples = 2_000_000, private readonly windowMs = 10_000) {}

  add(ms: number, now = Date.now()): void {
    this.seen += 1;
    if (this.all.length < this.maxSamples) this.all.push(ms);
    else {
      // Reservoir sampling past the cap keeps the percentiles honest for very long runs.
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.maxSamples) this.all[j] = ms;
    }
    this.recent.push({ t: now, ms });
  }

  count(): number {
    return this.seen;
  }

  /** [p50, p99] of every sample so far. */
  total(): [number, number] {
    const [a, b] = percentiles(this.all);
    return [a!, b!];
  }

  /** [p50, p99, count] over the last window. */
  window(now = Date.now()): [number, number, number] {
    const cut = now - this.windowMs;
    let i = 0;
    while (i < this.recent.length && this.recent[i]!.t < cut) i++;
    if (i > 0) this.recent.splice(0, i);
    const [a, b] = percentiles(this.recent.map((r) => r.ms));
    return [a!, b!, this.recent.length];
  }
}

export const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
export const fmtMs = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(1) : Math.round(n).toString()) : "–");
