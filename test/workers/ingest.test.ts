import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, knockEvent, leadEvent, locationEvent, makeLocations, newTeam, postEvents, tokenFor } from "./helpers.ts";

type IngestBody = {
  accepted: number;
  duplicates: number;
  rejected: { index: number; id?: string; issues: { path: string; message: string }[] }[];
  leads: { id: string; status: string }[];
  error?: { code: string; message: string; issues?: unknown[] };
};

describe("POST /v1/events", () => {
  it("accepts a batch of every kind with 202 and counts it", async () => {
    const token = await tokenFor(newTeam());
    const lead = leadEvent();
    const events = [...makeLocations(5), knockEvent(), { id: crypto.randomUUID(), type: "activity", at: new Date().toISOString(), kind: "shift_start" }, lead];
    const res = await postEvents(token, events);
    expect(res.status).toBe(202);
    expect(await res.json<IngestBody>()).toEqual({ accepted: 8, duplicates: 0, rejected: [], leads: [{ id: lead.id, status: "stored" }] });
  });

  it("counts a resent batch as duplicates", async () => {
    const token = await tokenFor(newTeam());
    const events = makeLocations(10);
    await postEvents(token, events);
    const again = await postEvents(token, events);
    expect(again.status).toBe(202);
    expect(await again.json<IngestBody>()).toMatchObject({ accepted: 0, duplicates: 10 });
  });

  it("accepts the valid events of a partly bad batch and names each bad field", async () => {
    const token = await tokenFor(newTeam());
    const events: Record<string, unknown>[] = makeLocations(20);
    events[3] = { ...events[3], lat: 123 };
    events[7] = { ...events[7], id: "not-a-uuid" };
    events[15] = { ...events[15], type: "teleport" };
    const res = await postEvents(token, events);
    expect(res.status).toBe(202);
    const body = await res.json<IngestBody>();
    expect(body.accepted).toBe(17);
    expect(body.rejected.map((r) => [r.index, r.id, r.issues.map((i) => i.path)])).toEqual([
      [3, events[3]!.id, ["events.3.lat"]],
      [7, "not-a-uuid", ["events.7.id"]],
      [15, events[15]!.id, ["events.15.type"]],
    ]);
    for (const r of body.rejected) expect(r.issues[0]!.message).toMatch(/\w/);
  });

  it("400 with every event's issues when none is valid", async () => {
    const token = await tokenFor(newTeam());
    const res = await postEvents(token, [{ type: "knock", lat: 0, lng: 0 }, { id: crypto.randomUUID(), type: "lead", at: Date.now() }]);
    expect(res.status).toBe(400);
    const body = await res.json<IngestBody>();
    expect(body.error?.code).toBe("no_valid_events");
    expect(body.accepted).toBe(0);
    expect(body.rejected.map((r) => r.index)).toEqual([0, 1]);
    expect(body.rejected[0]!.issues.map((i) => i.path)).toEqual(expect.arrayContaining(["events.0.id", "events.0.at", "events.0.outcome"]));
    expect(body.rejected[1]!.issues.map((i) => i.path)).toEqual(["events.1.name"]);
  });

  it("rejects a bad `at`, bad ranges and oversized meta with paths", async () => {
    const token = await tokenFor(newTeam());
    const res = await postEvents(token, [
      locationEvent({ at: "yesterday" }),
      locationEvent({ heading: 400, battery: 1.5 }),
      { id: crypto.randomUUID(), type: "activity", at: Date.now(), kind: "note", meta: { blob: "x".repeat(5000) } },
      knockEvent({ outcome: "maybe" }),
      locationEvent(),
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<IngestBody>();
    expect(body.accepted).toBe(1);
    expect(body.rejected.flatMap((r) => r.issues.map((i) => i.path)).sort()).toEqual(
      ["events.0.at", "events.1.battery", "events.1.heading", "events.2.meta", "events.3.outcome"].sort(),
    );
  });

  it("400 for a body that is not JSON or not the envelope", async () => {
    const token = await tokenFor(newTeam());
    const notJson = await call("/v1/events", { method: "POST", token, headers: { "Content-Type": "application/json" }, body: "{nope" });
    expect(notJson.status).toBe(400);
    expect((await notJson.json<IngestBody>()).error?.code).toBe("invalid_json");
    const empty = await postEvents(token, { events: [] });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ error: { code: "invalid_envelope", issues: [{ path: "events" }] } });
    const tooMany = await postEvents(token, { events: makeLocations(501) });
    expect(tooMany.status).toBe(400);
    const noEvents = await postEvents(token, { fixes: [] });
    expect(noEvents.status).toBe(400);
  });

  it("415 for a non-JSON content type", async () => {
    const token = await tokenFor(newTeam());
    const res = await call("/v1/events", { method: "POST", token, headers: { "Content-Type": "text/plain" }, body: "{}" });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { code: "unsupported_media_type" } });
  });

  it("413 for a body over 512 KiB, before parsing it", async () => {
    const token = await tokenFor(newTeam());
    const big = JSON.stringify({ events: [locationEvent({ pad: "x".repeat(600 * 1024) })] });
    const res = await call("/v1/events", { method: "POST", token, headers: { "Content-Type": "application/json" }, body: big });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "payload_too_large" } });
  });

  it("never answers 5xx to odd input", async () => {
    const token = await tokenFor(newTeam());
    const bodies = ["null", "[]", "42", '"events"', '{"events":null}', '{"events":[null,1,"x",[],{}]}', '{"events":[{"id":{},"type":{},"at":[]}]}'];
    for (const body of bodies) {
      const res = await call("/v1/events", { method: "POST", token, headers: { "Content-Type": "application/json" }, body });
      expect(res.status, body).toBe(400);
      expect(await res.json(), body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
    }
  });

  it("429 with Retry-After (the binding's period) once a device passes its limit, keyed per device without ambiguity", async () => {
    const team = newTeam();
    const token = await tokenFor(`${team}:rl`, "field", `d1`);
    let res: Response | null = null;
    // wrangler.toml: 20 requests per 10 s per device.
    for (let i = 0; i < 21; i++) {
      res = await postEvents(token, [locationEvent()]);
      if (res.status === 429) break;
      expect(res.status).toBe(202);
    }
    expect(res!.status).toBe(429);
    expect(res!.headers.get("Retry-After")).toBe("10");
    expect(await res!.json()).toMatchObject({ error: { code: "rate_limited" } });
    // Team "X" user "rl:d1" once shared a bucket with team "X:rl" user "d1"; another device is not affected either.
    expect((await postEvents(await tokenFor(team, "field", "rl:d1"), [locationEvent()])).status).toBe(202);
    expect((await postEvents(await tokenFor(team, "field"), [locationEvent()])).status).toBe(202);
  });

  it("takes team and user from the token only", async () => {
    const team = newTeam();
    const token = await tokenFor(team, "field", "alice");
    const res = await postEvents(token, { events: [locationEvent()], team: "other", userId: "mallory" });
    expect(res.status).toBe(202);
  });
});
