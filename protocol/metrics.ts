import { z } from "zod/mini";

/** A team's write-pipeline figures: /v1/metrics, the live map's queue panel, fp:queue:<team> in Redis. */
export const queueFigures = z.object({
  teamId: z.string(),
  depth: z.int(),
  byKind: z.record(z.string(), z.int()),
  oldestAgeMs: z.nullable(z.number()),
  nextFlushAt: z.nullable(z.number()),
  lastFlushAt: z.nullable(z.number()),
  lastFlushRows: z.int(),
  lastFlushMs: z.number(),
  flushedTotal: z.int(),
  flushesTotal: z.int(),
  acceptedTotal: z.int(),
  duplicatesTotal: z.int(),
  refusedTotal: z.int(),
  /** Events Postgres refused for their content: in its rejected_events table, never retried. */
  quarantinedTotal: z._default(z.int(), 0),
  lastQuarantineAt: z._default(z.nullable(z.number()), null),
  consecutiveFailures: z.int(),
  lastError: z.nullable(z.string()),
  lastErrorAt: z.nullable(z.number()),
  drainRowsPerS: z.nullable(z.number()),
  /** The object's own meter (what Cloudflare bills): SQLite rows written and read, alarms set. */
  storageRowsWritten: z._default(z.int(), 0),
  storageRowsRead: z._default(z.int(), 0),
  alarmsSet: z._default(z.int(), 0),
  /** The dialer outbox: leads waiting for (or given up on) webhook delivery. */
  dialer: z.object({
    configured: z.boolean(),
    pending: z.int(),
    retrying: z.int(),
    delivered: z.int(),
    stopped: z.int(),
    dead: z.int(),
    oldestPendingAgeMs: z.nullable(z.number()),
    lastError: z.nullable(z.string()),
  }),
  updatedAt: z.number(),
});
export type QueueFigures = z.infer<typeof queueFigures>;
