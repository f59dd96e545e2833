import type { EventKind } from "../protocol/events.ts";
import type { Tunables } from "./config.ts";

/** What the buffer holds right now: rows and the oldest receive time (epoch ms) per kind. */
export type PendingByKind = Partial<Record<EventKind, { rows: number; oldestReceivedAt: number }>>;

export function totalRows(pending: PendingByKind): number {
  let total = 0;
  for (const k in pending) total += pending[k as EventKind]?.rows ?? 0;
  return total;
}

export function maxAgeMs(kind: EventKind, t: Tunables): number {
  switch (kind) {
    case "location": return t.LOCATION_MAX_AGE_S * 1000;
    case "knock": return t.KNOCK_MAX_AGE_S * 1000;
    case "activity": return t.ACTIVITY_MAX_AGE_S * 1000;
    // Leads reach the buffer only when Postgres refused them: retry them at once.
    case "lead": return 0;
  }
}

/**
 * When the buffer must next be flushed (epoch ms), or null when it is empty.
 * Now when the threshold is reached; otherwise the earliest per-kind deadline.
 */
export function flushDueAt(pending: PendingByKind, t: Tunables, now: number): number | null {
  if (totalRows(pending) >= t.FLUSH_THRESHOLD_ROWS) return now;
  let due: number | null = null;
  for (const k in pending) {
    const kind = k as EventKind;
    const p = pending[kind];
    if (!p || p.rows === 0) continue;
    const deadline = p.oldestReceivedAt + maxAgeMs(kind, t);
    if (due === null || deadline < due) due = deadline;
  }
  return due;
}

/**
 * Delay before retry number `failures` (1-based) of a failed flush: 1 s doubling to the cap,
 * with "equal jitter" so a fleet of objects that failed together does not retry together.
 */
export function backoffMs(failures: number, maxBackoffS: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxBackoffS * 1000, 1000 * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Retry-After (seconds) for a refused batch: how long the recent drain rate needs to bring the buffer
 * back under 90 % of the high-water mark. Without a drain rate, the time until the next flush attempt
 * (the backoff while Postgres fails, else the flush that is already due) decides.
 */
export function retryAfterSeconds(opts: {
  depth: number;
  highWater: number;
  drainRowsPerS: number | null;
  retryInMs: number | null;
}): number {
  const target = opts.highWater * 0.9;
  const excess = Math.max(0, opts.depth - target);
  let seconds: number;
  if (opts.drainRowsPerS && opts.drainRowsPerS > 0) seconds = excess / opts.drainRowsPerS;
  else seconds = (opts.retryInMs ?? 5_000) / 1000;
  return Math.min(300, Math.max(1, Math.ceil(seconds)));
}

/** Exponentially weighted drain rate, so one slow or huge flush does not swing Retry-After. */
export function updateDrainRate(previous: number | null, rows: number, ms: number, weight = 0.3): number | null {
  if (rows <= 0 || ms <= 0) return previous;
  const rate = (rows * 1000) / ms;
  return previous === null ? rate : previous * (1 - weight) + rate * weight;
}
