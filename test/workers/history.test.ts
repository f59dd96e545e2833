import { describe, expect, it } from "vitest";
import { call, hubFor, knockEvent, locationEvent, newTeam, postEvents, tokenFor } from "./helpers.ts";

describe("GET /v1/history", () => {
  it("returns one canvasser's flushed path and knocks, in time order, to a manager of the team", async () => {
    const team = newTeam();
    const t0 = Date.now() - 600_000;
    const walk = [0, 1, 2].map((i) => locationEvent({ at: t0 + i * 5_000, lat: 10 + i / 1000, lng: 20 }));
    const knock = knockEvent({ at: t0 + 7_000, outcome: "no_answer" });
    await postEvents(await tokenFor(team, "field", "ivy"), [walk[2], walk[0], walk[1], knock]);
    await postEvents(await tokenFor(team, "field", "jon"), [locationEvent({ at: t0 + 1_000 })]);
    await hubFor(team).flush();
    const manager = await tokenFor(team, "manager");
    const res = await call(`/v1/history?userId=ivy&from=${t0 - 1}&to=${new Date(t0 + 60_000).toISOString()}`, { token: manager });
    expect(res.status).toBe(200);
    const body = await res.json<{ points: number[][]; knocks: { id: string; outcome: string }[]; truncated: boolean }>();
    expect(body.points.map((p) => [p[0], p[1], p[2]])).toEqual(walk.map((w) => [w.lng, w.lat, w.at]));
    expect(body.knocks).toMatchObject([{ id: knock.id, outcome: "no_answer" }]);
    expect(body.truncated).toBe(false);
    // Another team's manager sees nothing of it.
    const stranger = await call(`/v1/history?userId=ivy&from=${t0 - 1}`, { token: await tokenFor(newTeam(), "manager") });
    expect((await stranger.json<{ points: unknown[] }>()).points).toEqual([]);
  });

  it("400 with the field path for a bad query; 403 for field tokens", async () => {
    const manager = await tokenFor(newTeam(), "manager");
    const missing = await call("/v1/history?from=1", { token: manager });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { code: "invalid_query", issues: [{ path: "userId" }] } });
    const tooLong = await call(`/v1/history?userId=u&from=${Date.now() - 3 * 86_400_000}`, { token: manager });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({ error: { issues: [{ path: "to", message: "the range may span at most 24 hours" }] } });
    expect((await call("/v1/history?userId=u&from=1", { token: await tokenFor(newTeam(), "field") })).status).toBe(403);
  });
});
