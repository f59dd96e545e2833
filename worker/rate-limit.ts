import { Ratelimit } from "@upstash/ratelimit";
import { createMiddleware } from "hono/factory";
import { errorMessage, log } from "../durable-objects/log.ts";
import { redisFrom, redisKeys } from "../durable-objects/redis.ts";
import type { AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";

// Survives across requests in one isolate: a device already over its limit is refused without a Redis trip.
const ephemeralCache = new Map<string, number>();
let limiter: { perMin: number; instance: Ratelimit } | null = null;

function limiterFor(env: Env): Ratelimit | null {
  const redis = redisFrom(env);
  if (!redis) return null;
  const perMin = Number(env.RATE_LIMIT_PER_MIN) || 120;
  if (limiter?.perMin !== perMin) {
    limiter = {
      perMin,
      instance: new Ratelimit({
        redis,
        limiter: Ratelimit.slidingWindow(perMin, "60 s"),
        prefix: redisKeys(env).rateLimit,
        ephemeralCache,
        // Losing the limiter must not lose data: past this, the request is let through.
        timeout: 1_000,
        analytics: false,
      }),
    };
  }
  return limiter.instance;
}

/** Per-device sliding window on ingest (the token's user is the device's canvasser). Fails open. */
export const rateLimit = createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
  const rl = limiterFor(c.env);
  if (rl) {
    const claims = c.get("claims");
    let verdict: Awaited<ReturnType<Ratelimit["limit"]>> | null = null;
    try {
      verdict = await rl.limit(`${claims.team}:${claims.sub}`);
    } catch (err) {
      log({ event: "ratelimit_unavailable", error: errorMessage(err) });
    }
    if (verdict) c.executionCtx.waitUntil(verdict.pending);
    if (verdict && !verdict.success) {
      const retryAfter = Math.max(1, Math.ceil((verdict.reset - Date.now()) / 1000));
      throw new ApiError(429, "rate_limited", `at most ${limiter?.perMin ?? "?"} requests a minute per device`, undefined, {
        headers: { "Retry-After": String(retryAfter) },
      });
    }
  }
  await next();
});
