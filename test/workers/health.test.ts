import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { redisError } from "../../common/redis.ts";
import { app } from "../../worker/app.ts";
import { call, sql } from "./helpers.ts";

type Health = { status: string; problems?: string[]; postgres: { ok: boolean; error?: string }; redis: { ok: boolean; error?: string } };
/** The real /healthz route, in workerd, with some settings changed as an operator could get them wrong. */
const healthWith = async (changes: Partial<Record<keyof Env, string>>) => {
  const res = await app.request("/healthz", {}, { ...env, ...changes });
  return { status: res.status, body: await res.json<Health>() };
};

describe("GET /healthz", () => {
  it("reports Postgres and Redis reachable", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    const body = await res.json<{ status: string; postgres: { ok: boolean; error?: string }; redis: { ok: boolean; error?: string } }>();
    expect(body.postgres).toMatchObject({ ok: true, configured: true });
    expect(body.redis).toMatchObject({ ok: true, configured: true });
    expect(body.status).toBe("ok");
  });

  it("says misconfigured (503) when a setting breaks every request or a safety net, naming it and never its value", async () => {
    for (const [changes, named] of [
      [{ AUTH_SECRET: "" }, /AUTH_SECRET/],
      [{ FLUSH_THRESHOLD_ROWS: "abc" }, /FLUSH_THRESHOLD_ROWS/],
      [{ TOKEN_MAX_TTL_S: "0" }, /TOKEN_MAX_TTL_S/],
      [{ UPSTASH_REDIS_REST_URL: "rediss://default:s3cretpw@127.0.0.1:6379" }, /UPSTASH_REDIS_REST_URL/],
      [{ DIALER_WEBHOOK_SECRET: "my dialer pass!" }, /DIALER_WEBHOOK_SECRET/],
      [{ DIALER_WEBHOOK_SECRET: "" }, /DIALER_WEBHOOK_URL is set without DIALER_WEBHOOK_SECRET/],
    ] as const) {
      const { status, body } = await healthWith(changes);
      expect(status, JSON.stringify(changes)).toBe(503);
      expect(body.status).toBe("misconfigured");
      expect(body.problems!.join("\n")).toMatch(named);
      expect(JSON.stringify(body)).not.toContain("s3cretpw");
    }
  });

  it("says misconfigured when the database has not been migrated (every flush would fail)", async () => {
    const name = `fp_unmigrated_${crypto.randomUUID().slice(0, 8)}`;
    await sql(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(env.DATABASE_URL!);
      url.pathname = `/${name}`;
      const { status, body } = await healthWith({ DATABASE_URL: url.toString() });
      expect(status).toBe(503);
      expect(body).toMatchObject({ status: "misconfigured", postgres: { ok: false, error: "schema out of date: run npm run db:migrate" } });
      expect(body.problems).toContain("the database schema is out of date: run npm run db:migrate");
    } finally {
      await sql(`DROP DATABASE ${name} WITH (FORCE)`);
    }
  });

  it("never logs what Upstash echoes of a command (a lead's name and phone) or a URL's password", () => {
    const echoed = new Error('Unauthorized, command was: [["lpush","fp:dialer:demo","{\\"name\\":\\"Jan\\",\\"phone\\":\\"+31612345678\\"}"]]');
    expect(redisError(echoed)).toBe("Unauthorized");
    expect(redisError(new Error('invalid URL. Received: "rediss://default:pw@host:6379"'))).not.toContain("pw@");
  });

  it("answers unknown API paths with the JSON error shape", async () => {
    const res = await call("/v1/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "no route GET /v1/nope" } });
  });
});

describe("bench-only routes", () => {
  it("do not exist in the deployed Worker (only bench/worker.ts has them)", async () => {
    const res = await call("/v1/bench/naive-events", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(res.status).toBe(404);
  });
});
