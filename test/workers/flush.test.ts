import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TeamHub } from "../support/test-worker.ts";
import { countRows, drainByAlarm, hubFor, waitFor, knockEvent, leadEvent, locationEvent, makeLocations, newTeam, postEvents, sql, tokenFor, activityEvent } from "./helpers.ts";

describe("flush to Postgres", () => {
  it("lands a batch exactly once after the alarm fires, even when resent 3 times", async () => {
    const team = newTeam();
    const token = await tokenFor(team, "field", "u-once");
    const fixes = makeLocations(20);
    const events = [...fixes, knockEvent(), activityEvent(), leadEvent()];
    for (let i = 0; i < 4; i++) expect((await postEvents(token, events)).status).toBe(202);
    await drainByAlarm(team);
    const ids = events.map((e) => e.id);
    const counts = await sql<{ n: string }>(
      `SELECT (SELECT count(*) FROM locations WHERE id = ANY($1::uuid[])) + (SELECT count(*) FROM knocks WHERE id = ANY($1::uuid[]))
            + (SELECT count(*) FROM activities WHERE id = ANY($1::uuid[])) + (SELECT count(*) FROM leads WHERE id = ANY($1::uuid[])) AS n`,
      [ids],
    );
    expect(Number(counts[0]!.n)).toBe(23);
    // Resent after the flush: the buffer takes them again, Postgres ignores them.
    expect((await postEvents(token, events)).status).toBe(202);
    await hubFor(team).flush();
    expect(await countRows("locations", ids)).toBe(20);
    const [row] = await sql<{ team_id: string; user_id: string; lat: number }>("SELECT team_id, user_id, lat FROM locations WHERE id = $1", [fixes[0]!.id]);
    expect(row).toEqual({ team_id: team, user_id: "u-once", lat: fixes[0]!.lat });
    const [act] = await sql<{ meta: unknown; kind: string }>("SELECT meta, kind FROM activities WHERE id = $1", [events[21]!.id]);
    expect(act).toEqual({ meta: { minutes: 10 }, kind: "break" });
  });

  it("keeps every field of every kind", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const fix = locationEvent({ accuracy: 4.5, speed: 1.25, heading: 270, altitude: 12.5, battery: 0.75, at: "2026-11-28T09:30:00.123Z" });
    const knock = knockEvent({ outcome: "callback", notes: "come back at 6" });
    const lead = leadEvent({ email: "ada@example.org", address: "12 Elm", lat: 52.1, lng: 4.2, notes: "wants solar", interest: "warm" });
    await postEvents(token, [fix, knock, lead]);
    await hubFor(team).flush();
    expect(await sql("SELECT lat, lng, accuracy, speed, heading, altitude, battery, at FROM locations WHERE id = $1", [fix.id])).toEqual([
      { lat: fix.lat, lng: fix.lng, accuracy: 4.5, speed: 1.25, heading: 270, altitude: 12.5, battery: 0.75, at: "2026-11-28T09:30:00.123Z" },
    ]);
    expect(await sql("SELECT outcome, address, notes FROM knocks WHERE id = $1", [knock.id])).toEqual([
      { outcome: "callback", address: "1 Main St", notes: "come back at 6" },
    ]);
    expect(await sql("SELECT name, phone, email, address, lat, lng, notes, interest FROM leads WHERE id = $1", [lead.id])).toEqual([
      { name: "Ada Lovelace", phone: "+31612345678", email: "ada@example.org", address: "12 Elm", lat: 52.1, lng: 4.2, notes: "wants solar", interest: "warm" },
    ]);
  });

  it("survives a crash between COMMIT and DELETE: every row exactly once", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const events = makeLocations(50);
    await postEvents(token, events);
    const hub = hubFor(team);
    const first = await runInDurableObject(hub, async (instance: TeamHub) => {
      instance.afterCommit = () => {
        throw new Error("injected crash after commit");
      };
      try {
        return await instance.flush();
      } finally {
        instance.afterCommit = null;
      }
    });
    expect(first).toMatchObject({ ok: false, error: "injected crash after commit", depth: 50 });
    // Committed, though the buffer still holds every row.
    expect(await countRows("locations", events.map((e) => e.id))).toBe(50);
    const second = await hub.flush();
    expect(second).toMatchObject({ ok: true, rows: 50, depth: 0 });
    expect(await countRows("locations", events.map((e) => e.id))).toBe(50);
  });

  it("runs two concurrent flushes as one", async () => {
    const team = newTeam();
    await postEvents(await tokenFor(team), makeLocations(30));
    const [a, b] = await runInDurableObject(hubFor(team), (hub: TeamHub) => Promise.all([hub.flush(), hub.flush()]));
    expect(a).toBe(b);
    expect(a).toMatchObject({ ok: true, rows: 30, batches: 1 });
  });

  it("splits a large buffer into whole batch rows of up to FLUSH_BATCH_ROWS events, one statement each", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const events = makeLocations(450);
    await postEvents(token, events.slice(0, 300));
    await postEvents(token, [...events.slice(300), knockEvent()]);
    const report = await runInDurableObject(hubFor(team), async (hub: TeamHub) => {
      hub.tune({ FLUSH_BATCH_ROWS: 200, FLUSH_THRESHOLD_ROWS: 100 });
      return hub.flush();
    });
    // Batch rows are never cut: the 300-event request goes alone (a first row is taken however large), then 150 + 1 knock.
    expect(report).toMatchObject({ ok: true, rows: 451, batches: 2, depth: 0 });
    expect(report.statements).toBe(2);
    expect(await countRows("locations", events.map((e) => e.id))).toBe(450);
  });
});

describe("when to flush", () => {
  it("a threshold-sized buffer is due at once; a lone location waits for its deadline", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const hub = hubFor(team);
    await postEvents(token, [locationEvent()]);
    const [alarm, figures] = await runInDurableObject(hub, async (instance: TeamHub, state) => [await state.storage.getAlarm(), instance.figures()] as const);
    // LOCATION_MAX_AGE_S = 30: due about 30 s after receipt.
    expect(alarm! - Date.now()).toBeGreaterThan(20_000);
    expect(figures.nextFlushAt).toBe(alarm);
    // The alarm is not due yet: nothing is flushed.
    await runInDurableObject(hub, async (instance: TeamHub) => {
      instance.tune({ FLUSH_THRESHOLD_ROWS: 50 });
    });
    const events = makeLocations(60);
    await postEvents(token, events);
    const due = await runInDurableObject(hub, (_i: TeamHub, state) => state.storage.getAlarm());
    expect(due! - Date.now()).toBeLessThan(1_000);
    await drainByAlarm(team);
    expect(await countRows("locations", events.map((e) => e.id))).toBe(60);
  });

  it("a knock is due within KNOCK_MAX_AGE_S, ahead of older locations", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const hub = hubFor(team);
    await postEvents(token, [locationEvent()]);
    const before = await runInDurableObject(hub, (_i: TeamHub, state) => state.storage.getAlarm());
    const knock = knockEvent();
    const sentAt = Date.now();
    await postEvents(token, [knock]);
    const after = await runInDurableObject(hub, (_i: TeamHub, state) => state.storage.getAlarm());
    expect(after!).toBeLessThan(before!);
    expect(after! - sentAt).toBeLessThanOrEqual(5_000 + 50);
    expect(await runDurableObjectAlarm(hub)).toBe(true);
    await waitFor(async () => (await hub.figures()).depth === 0);
    expect(await countRows("knocks", [knock.id])).toBe(1);
  });

  it("empties the buffer and clears the alarm after a flush", async () => {
    const team = newTeam();
    await postEvents(await tokenFor(team), [knockEvent()]);
    const hub = hubFor(team);
    await drainByAlarm(team);
    const [alarm, figures] = await runInDurableObject(hub, async (instance: TeamHub, state) => [await state.storage.getAlarm(), instance.figures()] as const);
    expect(alarm).toBeNull();
    expect(figures).toMatchObject({ depth: 0, flushedTotal: 1, consecutiveFailures: 0, lastError: null });
  });
});
