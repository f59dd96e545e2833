import { z } from "zod";

/** A team's write-pipeline figures: /v1/metrics, the live map's queue panel, fp:queue:<team> in Redis. */
export const queueFigures = z.object({
  teamId: z.string(),
  depth: z.number().int(),
  byKind: z.record(z.string(), z.number().int()),
  oldestAgeMs: z.number().nullable(),
  nextFlushAt: z.number().nullable(),
  lastFlushAt: z.number().nullable(),
  lastFlushRows: z.number().int(),
  lastFlushMs: z.number(),
  flushedTotal: z.number().int(),
  flushesTotal: z.number().int(),
  acceptedTotal: z.number().int(),
  duplicatesTotal: z.number().int(),
  refusedTotal: z.number().int(),
  /** Events Postgres refused for their content: in its rejected_events table, never retried. */
  quarantinedTotal: z.number().int().default(0),
  lastQuarantineAt: z.number().nullable().default(null),
  consecutiveFailures: z.number().int(),
  lastError: z.string().nullable(),
  lastErrorAt: z.number().nullable(),
  drainRowsPerS: z.number().nullable(),
  /** The object's own meter (what Cloudflare bills): SQLite rows written and read, alarms set. */
  storageRowsWritten: z.number().int().default(0),
  storageRowsRead: z.number().int().default(0),
  alarmsSet: z.number().int().default(0),
  /** The dialer outbox: leads waiting for (or given up on) webhook delivery. */
  dialer: z.object({
    configured: z.boolean(),
    pending: z.number().int(),
    retrying: z.number().int(),
    delivered: z.number().int(),
    stopped: z.number().int(),
    dead: z.number().int(),
    oldestPendingAgeMs: z.number().nullable(),
    lastError: z.string().nullable(),
  }),
  updatedAt: z.number(),
});
export type QueueFigures = z.infer<typeof queueFigures>;
