import { describe, expect, it } from "vitest";
import { call } from "./helpers.ts";

describe("GET /healthz", () => {
  it("reports Postgres and Redis reachable", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    const body = await res.json<{ status: string; postgres: { ok: boolean; error?: string }; redis: { ok: boolean; error?: string } }>();
    expect(body.postgres).toMatchObject({ ok: true, configured: true });
    expect(body.redis).toMatchObject({ ok: true, configured: true });
    expect(body.status).toBe("ok");
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
