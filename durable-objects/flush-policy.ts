import { backoffDelayMs } from "../protocol/backoff.ts";
import type { EventKind } from "../protocol/events.ts";
import type { Tunables } from "../common/config.ts";

/**
 * When a batch must reach Postgres: its receive time plus the shortest max age over its kinds
 * (a batch holding a knock is due within KNOCK_MAX_AGE_S, however many fixes ride with it).
 */
export function batchDueAt(kinds: Iterable<EventKind>, receivedAt: number, t: Tunables): number {
  let age: number | null = null;
  for (const k of kinds) {
    const a = maxAgeMs(k, t);
    if (age === null || a < age) age = a;
  }
  return receivedAt + (age ?? 0);
}

export function maxAgeMs(kind: EventKind, t: Tunables): number {
  switch (kind) {
    case "location": return t.LOCATION_MAX_AGE_S * 1000;
    case "knock": return t.KNOCK_MAX_AGE_S * 1000;
    case "activity": return t.ACTIVITY_MAX_AGE_S * 1000;
    // Leads wait in the outbox only when Postgres did not take them at once: retry them at once.
    case "lead": return 0;
  }
}

/**
 * When the buffer must next be flushed (epoch ms), or null when it is empty: now when the threshold is
 * reached, otherwise the earliest batch's due time.
 */
export function flushDueAt(pending: { events: number; dueAt: number | null }, t: Tunables, now: number): number | null {
  if (pending.dueAt === null) return null;
  if (pending.events >= t.FLUSH_THRESHOLD_ROWS) return now;
  return pending.dueAt;
}

/**
 * Delay before retry number `failures` (1-based) of a failed flush: 1 s doubling to the cap,
 * with "equal jitter" so a fleet of objects that failed together does not retry together.
 */
export function backoffMs(failures: number, maxBackoffS: number, random: () => number = Math.random): number {
  return backoffDelayMs(failures, { baseMs: 1000, capMs: maxBackoffS * 1000, jitter: "equal" }, random);
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
