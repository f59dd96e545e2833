import { z } from "zod";
import { DEFAULT_MAX_TTL_S, type MaxTtl } from "../protocol/auth.ts";

// protocol/ is written in zod/mini (the pages' bundles stay small), which loads no locale: the messages the API
// answers with ("Too big: expected number to be <=90") are English, said here once for every server entry.
z.config(z.locales.en());

/** A var is text: a plain decimal ("30", "0.5") is its number; anything else ("abc", "0x10", "1e3") is refused by name. */
const decimal = (n: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === "string" && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v), n);
// Only for text that is no number; a number out of range keeps zod's own words ("Too small: expected number to be >0").
const notA = (what: string) => ({ error: (issue: { code: string }) => (issue.code === "invalid_type" ? `must be ${what}` : undefined) });
const NOT_DECIMAL = notA("a plain decimal number (like 30 or 0.5)");
const NOT_WHOLE = notA("a whole number (like 30)");
const seconds = (fallback: number) => decimal(z.number(NOT_DECIMAL).positive()).default(fallback);
const count = (fallback: number) => decimal(z.number(NOT_WHOLE).int().positive()).default(fallback);

/**
 * Every var of README "Configuration" with its default, in one place: the Worker, the TeamHub, the cron and the
 * dev tools read them here, never with `Number(env.X) || …` of their own.
 */
const config = z.object({
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
  /** Length cap of the per-team Redis pull list of leads; 0 turns it off. */
  DIALER_PULL_MAX: decimal(z.number(NOT_WHOLE).int().nonnegative()).default(1_000),
  /** Prefix of every Redis key, so deployments (or test runs) can share one database. */
  REDIS_PREFIX: z.string().min(1).default("fp"),
  TOKEN_MAX_TTL_FIELD_S: count(DEFAULT_MAX_TTL_S.field),
  TOKEN_MAX_TTL_S: count(DEFAULT_MAX_TTL_S.manager),
});

export type Config = z.infer<typeof config>;
/** What the TeamHub reads per object (and tests may narrow). */
export type Tunables = Config;

const blankToUndefined = (v: unknown) => (v === "" ? undefined : v);
const parsedFor = new WeakMap<object, Config>();

/** Parse the vars once per env object (per isolate in production). A bad value is a deploy mistake: say which. */
export function readConfig(env: object): Config {
  const cached = parsedFor.get(env);
  if (cached) return cached;
  const raw = Object.fromEntries(Object.keys(config.shape).map((k) => [k, blankToUndefined((env as Record<string, unknown>)[k])]));
  const parsed = config.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`bad configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  }
  parsedFor.set(env, parsed.data);
  return parsed.data;
}

/** The tunables of one TeamHub: the same reader. */
export const readTunables = readConfig;

/** The longest lifetime (exp − iat) a token of each role may have. */
export function maxTtl(env: object): MaxTtl {
  const c = readConfig(env);
  return { field: c.TOKEN_MAX_TTL_FIELD_S, manager: c.TOKEN_MAX_TTL_S, admin: c.TOKEN_MAX_TTL_S, operator: c.TOKEN_MAX_TTL_S };
}
