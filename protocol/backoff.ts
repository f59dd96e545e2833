/**
 * Exponential backoff, the one schedule every retry loop uses (flushes to Postgres, the map's socket, the
 * phone's sender): the ceiling doubles from `baseMs` per failure up to `capMs`; the jitter decides where
 * under it the delay falls, so clients that failed together do not come back together.
 */
export type Jitter =
  /** Uniform in [0, ceiling): spreads a crowd the widest (phones after a cell outage). */
  | "full"
  /** Half the ceiling fixed, half random: never retries at once, still spreads (flushes, the map's socket). */
  | "equal"
  /** Exactly the ceiling. */
  | "none";

export interface BackoffSchedule {
  baseMs: number;
  capMs: number;
  jitter: Jitter;
}

/** The upper bound of the delay before retry number `failures` (1-based): `baseMs` doubling to `capMs`. */
export function backoffCeilingMs(failures: number, s: Pick<BackoffSchedule, "baseMs" | "capMs">): number {
  return Math.min(s.capMs, s.baseMs * 2 ** Math.max(0, failures - 1));
}

/** The delay before retry number `failures` (1-based), in whole milliseconds. */
export function backoffDelayMs(failures: number, s: BackoffSchedule, random: () => number = Math.random): number {
  const ceiling = backoffCeilingMs(failures, s);
  switch (s.jitter) {
    case "full": return Math.floor(random() * ceiling);
    case "equal": return Math.round(ceiling / 2 + random() * (ceiling / 2));
    case "none": return ceiling;
  }
}
