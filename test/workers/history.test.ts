import { describe, expect, it } from "vitest";
import { historyCollection } from "../../protocol/history.ts";
import { activityEvent, call, hubFor, knockEvent, locationEvent, newTeam, postEvents, tokenFor } from "./helpers.ts";

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

  it("format=geojson: route split at a gap, simplified, a stop of 5 min+, and knocks not undone", async () => {
    const team = newTeam();
    const t0 = Date.now() - 3 * 3_600_000;
    const min = 60_000;
    // Walk east in a straight line (10 fixes, 1 a minute), stand still 6 min, then 20 min of silence, then walk again.
    const walk1 = Array.from({ length: 10 }, (_, i) => locationEvent({ at: t0 + i * min, lat: 52.5, lng: 13.4 + i * 0.0005 }));
    const stand = Array.from({ length: 7 }, (_, i) => locationEvent({ at: t0 + (10 + i) * min, lat: 52.5 + (i % 2) * 0.00005, lng: 13.4 + 10 * 0.0005 }));
    const after = t0 + 37 * min;
    const walk2 = Array.from({ length: 5 }, (_, i) => locationEvent({ at: after + i * min, lat: 52.51 + i * 0.0005, lng: 13.41 }));
    const kept = knockEvent({ at: t0 + 3 * min, lat: 52.5, lng: 13.4015, outcome: "interested" });
    const undone = knockEvent({ at: t0 + 4 * min, lat: 52.5, lng: 13.402, outcome: "no_answer" });
    // The undo names the knock in upper case: ids are one per lower-cased form, here as on the live map.
    const undo = activityEvent({ at: t0 + 4 * min + 5_000, kind: "knock_undo", meta: { knockId: undone.id.toUpperCase(), outcome: "no_answer" } });
    const ivy = await tokenFor(team, "field", "ivy");
    expect((await postEvents(ivy, [...walk1, ...stand, ...walk2, kept, undone, undo])).status).toBe(202);
    await hubFor(team).flush();

    const res = await call(`/v1/history?userId=ivy&from=${t0 - 1}&to=${after + 10 * min}&format=geojson`, { token: await tokenFor(team, "manager") });
    expect(res.status).toBe(200);
    const parsed = historyCollection.safeParse(await res.json());
    expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 3))).toBe(true);
    const fc = parsed.data!;
    const routes = fc.features.flatMap((f) => {
      const p = f.properties;
      return p.kind === "route" && f.geometry?.type === "LineString" ? [{ properties: p, geometry: f.geometry }] : [];
    });
    // Split at the 20-minute silence: two segments, the first covering the walk and the stand.
    expect(routes.map((r) => [r.properties.from, r.properties.to, r.properties.fixes])).toEqual([
      [walk1[0]!.at, stand[6]!.at, 17],
      [walk2[0]!.at, walk2[4]!.at, 5],
    ]);
    // A straight walk simplifies to its ends; times stay aligned with the kept points.
    expect(routes[1]!.geometry.coordinates).toEqual([[13.41, 52.51], [13.41, 52.51 + 4 * 0.0005]]);
    expect(routes[1]!.properties.times).toEqual([walk2[0]!.at, walk2[4]!.at]);
    expect(routes[0]!.geometry.coordinates.length).toBeLessThan(17);
    const stops = fc.features.filter((f) => f.properties.kind === "stop");
    expect(stops).toHaveLength(1);
    // The 6-minute stand, plus the walk's last fix 34 m away (inside the 50 m radius).
    expect(stops[0]!.properties).toMatchObject({ kind: "stop", from: walk1[9]!.at, to: stand[6]!.at, minutes: 7 });
    // The undone knock is not part of the day.
    const doors = fc.features.filter((f) => f.properties.kind === "knock");
    expect(doors.map((d) => d.id)).toEqual([kept.id]);
  });

  it("400 with the field path for a bad query, never 500; 403 for field tokens", async () => {
    const manager = await tokenFor(newTeam(), "manager");
    const missing = await call(`/v1/history?from=${Date.now() - 1000}`, { token: manager });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { code: "invalid_query", issues: [{ path: "userId" }] } });
    // A user id no token could carry (NUL, a space) is a 400, never a query Postgres refuses (a 500).
    for (const bad of ["%00", "a%20b", "x%0Ay"]) {
      const res = await call(`/v1/history?userId=${bad}&from=${Date.now() - 1000}`, { token: manager });
      expect(res.status, bad).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "invalid_query", issues: [{ path: "userId" }] } });
    }
    const tooLong = await call(`/v1/history?userId=u&from=${Date.now() - 8 * 86_400_000}`, { token: manager });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({ error: { issues: [{ path: "to", message: "the range may span at most 7 days" }] } });
    // A week is allowed.
    expect((await call(`/v1/history?userId=u&from=${Date.now() - 6 * 86_400_000}&format=geojson`, { token: manager })).status).toBe(200);
    // Out of any real date's range (new Date() would be invalid): 400 on the field, not a 500.
    for (const [query, path] of [
      ["from=9000000000000000", "from"],
      ["from=-5", "from"],
      [`from=${Date.now() - 1000}&to=9000000000000000`, "to"],
      ["from=yesterday", "from"],
      [`from=${Date.now() - 1000}&format=kml`, "format"],
    ] as const) {
      const res = await call(`/v1/history?userId=u&${query}`, { token: manager });
      expect(res.status, query).toBe(400);
      const body = await res.json<{ error: { issues: { path: string }[] } }>();
      expect(body.error.issues.map((i) => i.path), query).toContain(path);
    }
    expect((await call("/v1/history?userId=u&from=1", { token: await tokenFor(newTeam(), "field") })).status).toBe(403);
  });
});
