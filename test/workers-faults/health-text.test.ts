import { describe, expect, it } from "vitest";
import { call } from "../workers/helpers.ts";

describe("GET /healthz with Redis unreachable", () => {
  it("says what kind of failure, never the driver's text (it is public)", async () => {
    const res = await call("/healthz");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const body = await res.json<{ status: string; redis: { ok: boolean; error?: string } }>();
    expect(body.status).toBe("degraded");
    expect(body.redis.ok).toBe(false);
    expect(["unreachable", "timed out"]).toContain(body.redis.error);
  });
});
