import { Hono } from "hono";
import { withDb } from "../db/client.ts";
import { redisFrom } from "../durable-objects/redis.ts";
import { errorMessage } from "../durable-objects/log.ts";

export interface Probe {
  ok: boolean;
  ms: number;
  error?: string;
  configured: boolean;
}

async function probe(configured: boolean, check: () => Promise<unknown>): Promise<Probe> {
  if (!configured) return { ok: false, ms: 0, configured, error: "not configured" };
  const t0 = Date.now();
  try {
    await check();
    return { ok: true, ms: Date.now() - t0, configured };
  } catch (err) {
    return { ok: false, ms: Date.now() - t0, configured, error: errorMessage(err) };
  }
}

export const health = new Hono<{ Bindings: Env }>();

/**
 * Liveness plus the reachability of both services. 200 while ingest works — it keeps accepting with
 * Postgres or Redis down (the buffer and fail-open limiter cover them) — with `status: "degraded"`.
 */
health.get("/healthz", async (c) => {
  const [postgres, redis] = await Promise.all([
    probe(Boolean(c.env.DATABASE_URL), () =>
      withDb(c.env, ({ client }) => client.query("SELECT 1"), { connectTimeoutMs: 3_000 }),
    ),
    probe(Boolean(c.env.UPSTASH_REDIS_REST_URL), async () => {
      const pong = await redisFrom(c.env)?.ping();
      if (pong !== "PONG") throw new Error(`unexpected PING answer ${String(pong)}`);
    }),
  ]);
  const status = postgres.ok && redis.ok ? "ok" : "degraded";
  return c.json({ status, postgres, redis, time: new Date().toISOString() });
});
