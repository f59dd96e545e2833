import { Redis } from "@upstash/redis/cloudflare";
import { readConfig } from "./config.ts";
import { redisUrlProblem } from "./config-check.ts";
import { errorMessage, log } from "./log.ts";

/**
 * Redis keys, under REDIS_PREFIX (default "fp") so deployments — or test runs — can share one database.
 * dirtyTeams: teams with buffered rows, the cron supervisor's safety net for lost alarms.
 * knownTeams: every team the cron has seen, so admin metrics list them without waking any object.
 * queue(team): a team's published queue figures (a hash).
 */
export function redisKeys(env: object) {
  const prefix = readConfig(env).REDIS_PREFIX;
  return {
    dirtyTeams: `${prefix}:teams:dirty`,
    knownTeams: `${prefix}:teams:known`,
    queue: (teamId: string) => `${prefix}:queue:${teamId}`,
    rateLimit: `${prefix}:rl`,
    dialerPull: (teamId: string) => `${prefix}:dialer:${teamId}`,
  };
}

let badUrlLogged = false;

/** Upstash Redis, or null when not configured (or configured wrong): every Redis feature degrades, never blocks ingest. */
export function redisFrom(env: Env): Redis | null {
  if (!env.UPSTASH_REDIS_REST_URL || !env.UPSTASH_REDIS_REST_TOKEN) return null;
  const problem = redisUrlProblem(env.UPSTASH_REDIS_REST_URL);
  if (problem) {
    // Said once per isolate, without the URL (a redis:// URL carries the password); /healthz says it too.
    if (!badUrlLogged) log({ event: "redis_misconfigured", error: problem });
    badUrlLogged = true;
    return null;
  }
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    // Fail fast: a slow Redis must not hold a phone's request; callers fail open.
    retry: { retries: 1, backoff: () => 50 },
    signal: () => AbortSignal.timeout(2_000),
  });
}

async function failOpen(what: string, teamId: string, op: (r: Redis) => Promise<unknown>, env: Env): Promise<void> {
  const redis = redisFrom(env);
  if (!redis) return;
  try {
    await op(redis);
  } catch (err) {
    log({ event: "redis_unavailable", op: what, teamId, error: redisError(err) });
  }
}

export const markTeamDirty = (env: Env, teamId: string) =>
  failOpen("sadd", teamId, (r) => r.sadd(redisKeys(env).dirtyTeams, teamId), env);

export const markTeamClean = (env: Env, teamId: string) =>
  failOpen("srem", teamId, (r) => r.srem(redisKeys(env).dirtyTeams, teamId), env);

/**
 * For dialers that poll instead of receiving webhooks: each new lead's webhook body (JSON) is pushed to
 * the head of the list `<prefix>:dialer:<team>`, capped at DIALER_PULL_MAX entries (0 turns it off).
 */
export async function pushDialerPull(env: Env, teamId: string, bodies: string[]): Promise<void> {
  const max = readConfig(env).DIALER_PULL_MAX;
  if (!(max > 0) || bodies.length === 0) return;
  const key = redisKeys(env).dialerPull(teamId);
  await failOpen("lpush", teamId, (r) => r.pipeline().lpush(key, ...bodies).ltrim(key, 0, max - 1).exec(), env);
}

/**
 * A Redis failure for the logs: Upstash's errors repeat the whole command ("…, command was: [["lpush", …]]"),
 * which for the dialer list is a lead's name and phone — cut at that point; URLs (a password may be in one)
 * are replaced too.
 */
export function redisError(err: unknown): string {
  return errorMessage(err)
    .replace(/,?\s*command was:[\s\S]*$/i, "")
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "<url>");
}
