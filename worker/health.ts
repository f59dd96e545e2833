import { Hono } from "hono";
import { withDb } from "../db/client.ts";
import { redisFrom } from "../common/redis.ts";
import { errorMessage, log } from "../common/log.ts";

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
    const raw = errorMessage(err);
    log({ event: "health_probe_failed", service, error: raw });
    return { ok: false, ms: Date.now() - t0, configured, error: /timeout|timed out/i.test(raw) ? "timed out" : "unreachable" };
  }
}

export const health = new Hono<{ Bindings: Env }>();

/**
 * Liveness plus the reachability of both services. 200 while ingest works — it keeps accepting with
 * Postgres or Redis down (the buffer and fail-open limiter cover them) — with `status: "degraded"`.
 */
health.get("/healthz", async (c) => {
  const [postgres, redis] = await Promise.all([
    probe("postgres", Boolean(c.env.DATABASE_URL), () =>
      withDb(c.env, ({ client }) => client.query("SELECT 1"), { connectTimeoutMs: 3_000 }),
    ),
    probe("redis", Boolean(c.env.UPSTASH_REDIS_REST_URL), async () => {
      const pong = await redisFrom(c.env)?.ping();
      if (pong !== "PONG") throw new Error(`unexpected PING answer ${String(pong)}`);
    }),
  ]);
  const status = postgres.ok && redis.ok ? "ok" : "degraded";
  return c.json({ status, postgres, redis, time: new Date().toISOString() });
});
