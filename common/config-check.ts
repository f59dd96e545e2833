import { Webhook } from "standardwebhooks";
import { readConfig } from "./config.ts";

/**
 * What a deployment got wrong in its settings, by name, never by value: /healthz answers 503 with these (the
 * API would answer 500 to everyone, or a safety net would fail every minute), and the logs say the same.
 */
export function configProblems(env: Env): string[] {
  const problems: string[] = [];
  try {
    readConfig(env);
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  if (!env.AUTH_SECRET) problems.push("AUTH_SECRET is not set: every authenticated call fails");
  const redisProblem = redisUrlProblem(env.UPSTASH_REDIS_REST_URL);
  if (redisProblem) problems.push(redisProblem);
  if (env.DIALER_WEBHOOK_URL && !env.DIALER_WEBHOOK_SECRET) problems.push("DIALER_WEBHOOK_URL is set without DIALER_WEBHOOK_SECRET: leads wait and are never sent");
  const secretProblem = dialerSecretProblem(env.DIALER_WEBHOOK_SECRET);
  if (secretProblem) problems.push(secretProblem);
  return problems;
}

/** Upstash's REST URL is https:// (the redis:// one is for Redis clients, and carries the password). */
export function redisUrlProblem(url: string | undefined): string | null {
  if (!url) return null;
  return /^https?:\/\/[^\s/]+/i.test(url) ? null : "UPSTASH_REDIS_REST_URL is not an http(s) URL: use the REST URL (https://…upstash.io), not the redis:// one";
}

/** A Standard Webhooks secret: `whsec_` and base64 (or plain base64). */
export function dialerSecretProblem(secret: string | undefined): string | null {
  if (!secret) return null;
  try {
    new Webhook(secret);
    return null;
  } catch {
    return "DIALER_WEBHOOK_SECRET is not a Standard Webhooks secret (whsec_ followed by base64)";
  }
}
