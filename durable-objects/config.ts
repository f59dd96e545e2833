import { z } from "zod";

const seconds = (fallback: number) => z.coerce.number().positive().default(fallback);
const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The tunables of README "Configuration", parsed once per isolate from wrangler vars. */
const tunables = z.object({
  LOCATION_MAX_AGE_S: seconds(30),
  KNOCK_MAX_AGE_S: seconds(5),
  ACTIVITY_MAX_AGE_S: seconds(30),
  FLUSH_THRESHOLD_ROWS: count(1_000),
  FLUSH_BATCH_ROWS: count(5_000),
  FLUSH_MAX_BACKOFF_S: seconds(60),
  BUFFER_HIGH_WATER: count(200_000),
  LIVE_TICK_MS: count(150),
  RETENTION_DAYS: count(90),
  LEAD_WRITE_TIMEOUT_MS: count(2_000),
});

export type Tunables = z.infer<typeof tunables>;

const blankToUndefined = (v: unknown) => (v === "" ? undefined : v);

export function readTunables(env: Partial<Record<keyof Tunables, unknown>>): Tunables {
  const raw = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, blankToUndefined(v)]));
  const parsed = tunables.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`bad configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}
