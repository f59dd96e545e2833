import { z } from "zod";

/** What a TeamHub remembers about its pipeline across evictions (one JSON row in `state`). */
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
  consecutiveFailures: z.number().default(0),
  lastError: z.string().nullable().default(null),
  lastErrorAt: z.number().nullable().default(null),
  retryAt: z.number().nullable().default(null),
  drainRowsPerS: z.number().nullable().default(null),
});
export type Counters = z.infer<typeof countersSchema>;

const STATE_SCHEMA = "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)";

export class CounterStore {
  readonly value: Counters;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(STATE_SCHEMA);
    const row = sql.exec<{ value: string }>("SELECT value FROM state WHERE key = 'counters'").toArray()[0];
    const parsed = countersSchema.safeParse(row ? JSON.parse(row.value) : {});
    this.value = parsed.success ? parsed.data : countersSchema.parse({});
  }

  /** Mutate and persist in one go (call inside the same storage transaction as the change it counts). */
  update(change: (c: Counters) => void): void {
    change(this.value);
    this.sql.exec(
      "INSERT INTO state (key, value) VALUES ('counters', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      JSON.stringify(this.value),
    );
  }
}
