import { z } from "zod";
import type { MetaStore } from "./storage.ts";

/**
 * What a TeamHub remembers about its pipeline across evictions. Kept in memory and written to `meta` with
 * each flush (one row), never per request: a crash loses at most the counts since the last flush.
 */
const countersSchema = z.object({
  teamId: z.string().nullable().default(null),
  lastFlushAt: z.number().nullable().default(null),
  lastFlushRows: z.number().default(0),
  lastFlushMs: z.number().default(0),
  flushedTotal: z.number().default(0),
  flushesTotal: z.number().default(0),
  acceptedTotal: z.number().default(0),
  duplicatesTotal: z.number().default(0),
  refusedTotal: z.number().default(0),
  quarantinedTotal: z.number().default(0),
  lastQuarantineAt: z.number().nullable().default(null),
  consecutiveFailures: z.number().default(0),
  /** A short error class for people ("database unreachable"); the raw text goes to logs only. */
  lastError: z.string().nullable().default(null),
  lastErrorAt: z.number().nullable().default(null),
  retryAt: z.number().nullable().default(null),
  drainRowsPerS: z.number().nullable().default(null),
  /** The object's own bill: SQLite rows written and read, alarms set (each a billed row write). */
  storageRowsWritten: z.number().default(0),
  storageRowsRead: z.number().default(0),
  alarmsSet: z.number().default(0),
});
export type Counters = z.infer<typeof countersSchema>;

export function loadCounters(meta: MetaStore): Counters {
  const parsed = countersSchema.safeParse(meta.read("counters") ?? {});
  return parsed.success ? parsed.data : countersSchema.parse({});
}

export function saveCounters(meta: MetaStore, counters: Counters): void {
  meta.write("counters", counters);
}
