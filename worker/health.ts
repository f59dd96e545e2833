import { Hono } from "hono";
import { withDb } from "../db/client.ts";
import { getTableColumns, getTableName } from "drizzle-orm";
import { configProblems, redisUrlProblem } from "../common/config-check.ts";
import { redisError, redisFrom } from "../common/redis.ts";
import { errorMessage, log } from "../common/log.ts";
import { activities, devices, knocks, leads, locations, rejectedEvents } from "../db/schema.ts";

export interface Probe {
  ok: boolean;
  ms: number;
  error?: string;
  configured: boolean;
}

/**
 * /healthz is public: it says what kind of failure, never the service's own text (hosts, users,
 * driver messages), which goes to the log.
 */
async function probe(service: "postgres" | "redis", configured: boolean, check: () => Promise<unknown>): Promise<Probe> {
  if (!configured) return { ok: false, ms: 0, configured, error: "not configured" };
  const t0 = Date.now();
  try {
    await check();
    return { ok: true, ms: Date.now() - t0, configured };
  } catch (err) {
    const raw = service === "redis" ? redisError(err) : errorMessage(err);
    log({ event: "health_probe_failed", service, error: raw });
    const schema = service === "postgres" && /does not exist/i.test(raw);
    return { ok: false, ms: Date.now() - t0, configured, error: schema ? "schema out of date: run npm run db:migrate" : /timeout|timed out/i.test(raw) ? "timed out" : "unreachable" };
  }
}

export const health = new Hono<{ Bindings: Env }>();

/**
 * Every column the flush and the routes write or read, as one statement that reads no row: a table or column
 * a migration has not made yet fails it ("relation … does not exist"), so a database left unmigrated shows here.
 */
const SCHEMA_PROBE = `SELECT 1 FROM ${[locations, knocks, activities, leads, rejectedEvents, devices]
  .map((t, i) => `(SELECT ${Object.values(getTableColumns(t)).map((c) => `"${c.name}"`).join(", ")} FROM "${getTableName(t)}" LIMIT 0) t${i}`)
  .join(", ")}`;

/**
 * Liveness, the settings and the reachability of both services. 200 while ingest works — it keeps accepting
 * with Postgres or Redis down (the buffer and fail-open limiter cover them) — with `status: "degraded"`;
 * 503 `misconfigured` when a setting breaks every request or a safety net (problems named, never their values)
 * or the database schema is behind (every flush would fail).
 */
health.get("/healthz", async (c) => {
  const problems = configProblems(c.env);
  const [postgres, redis] = await Promise.all([
    probe("postgres", Boolean(c.env.DATABASE_URL), () =>
      withDb(c.env, ({ client }) => client.query(SCHEMA_PROBE), { connectTimeoutMs: 3_000 }),
    ),
    probe("redis", Boolean(c.env.UPSTASH_REDIS_REST_URL) && !redisUrlProblem(c.env.UPSTASH_REDIS_REST_URL), async () => {
      const pong = await redisFrom(c.env)?.ping();
      if (pong !== "PONG") throw new Error(`unexpected PING answer ${String(pong)}`);
    }),
  ]);
  if (postgres.error?.startsWith("schema")) problems.push(`the database schema is out of date: run npm run db:migrate`);
  const status = problems.length > 0 ? "misconfigured" : postgres.ok && redis.ok ? "ok" : "degraded";
  return c.json({ status, ...(problems.length > 0 ? { problems } : {}), postgres, redis, time: new Date().toISOString() }, problems.length > 0 ? 503 : 200);
});
