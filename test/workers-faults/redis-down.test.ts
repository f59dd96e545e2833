import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, countRows, hubFor, knockEvent, makeLocations, newTeam, postEvents, tokenFor, waitFor } from "../workers/helpers.ts";

const worker = exports.default as unknown as { scheduled(c: { cron: string; scheduledTime: Date }): Promise<unknown> };

describe("Redis unreachable", () => {
  it("ingest fails open (no rate limit, 202), the alarm still flushes, health says degraded", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const knock = knockEvent();
    const fixes = makeLocations(5);
    const res = await postEvents(token, [knock, ...fixes]);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 6 });
    // No dirty set, no cron: the object's own alarm lands the knock within KNOCK_MAX_AGE_S.
    await waitFor(async () => (await countRows("knocks", [knock.id])) === 1, { timeoutMs: 15_000, what: "the knock flushed by the alarm" });
    await hubFor(team).flush();
    expect(await countRows("locations", fixes.map((f) => f.id))).toBe(5);

    const health = await (await call("/healthz")).json<{ status: string; redis: { ok: boolean; error?: string } }>();
    expect(health.status).toBe("degraded");
    expect(health.redis.ok).toBe(false);
    expect(health.redis.error).toEqual(expect.any(String));
  });

  it("the cron run survives it (and says so in its log)", async () => {
    await expect(worker.scheduled({ cron: "* * * * *", scheduledTime: new Date() })).resolves.not.toThrow();
  });
});
