import { createMiddleware } from "hono/factory";
import type { AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";

/** The binding's period (wrangler.toml [[ratelimits]] simple.period): a refused device may retry after it. */
export const RATE_LIMIT_PERIOD_S = 10;

/**
 * The bucket of one device: team and user as a JSON pair, so no two (team, user) pairs share a key
 * (`X:rl` + `d1` and `X` + `rl:d1` did when they were joined with a colon).
 */
export const deviceKey = (team: string, user: string) => JSON.stringify([team, user]);

/**
 * Per-device limit on ingest through the Workers Rate Limiting binding: no Redis command per request.
 * Counts are per Cloudflare location and approximate — a flood guard, not billing. Fails open.
 */
export const rateLimit = createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
  const claims = c.get("claims");
  let allowed = true;
  try {
    allowed = (await c.env.DEVICE_LIMIT.limit({ key: deviceKey(claims.team, claims.sub) })).success;
  } catch {
    // Losing the limiter must not lose data: the request goes through.
  }
  if (!allowed) {
    throw new ApiError(429, "rate_limited", `too many requests from this device; retry in ${RATE_LIMIT_PERIOD_S} s`, undefined, {
      headers: { "Retry-After": String(RATE_LIMIT_PERIOD_S) },
    });
  }
  await next();
});
