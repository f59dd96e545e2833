import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import type { TeamHub } from "../support/test-worker.ts";
import {
  activityEvent, countRows, drainByAlarm, hubFor, knockEvent, leadEvent, locationEvent, newTeam, postEvents, sql, tokenFor, waitFor,
} from "./helpers.ts";

const received = async (leadId: string): Promise<unknown[]> =>
  (await fetch(`${inject("controlUrl")}/dialer/received?leadId=${leadId}`)).json() as Promise<unknown[]>;

/** Rows the object has billed so far: SQLite rows written plus alarms set. */
async function billedWrites(team: string): Promise<number> {
  const f = await hubFor(team).figures();
  return f.storageRowsWritten + f.alarmsSet;
}

describe("what Postgres cannot store never gets past the edge", () => {
  it("refuses NUL, lone surrogates, deep meta and half positions per event with their path; keeps the neighbours", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    let deep: unknown = 1;
    for (let i = 0; i < 1_500; i++) deep = [deep]; // ~3 KB: inside the 4 KiB cap, far past the depth limit
    const fix = locationEvent({ accuracy: 1e-50 }); // float4 underflow once; double precision now
    const proto = activityEvent({ meta: JSON.parse('{"__proto__": {"x": 1}, "ok": true}') });
    const batch = [
      fix,
      knockEvent({ notes: "ring\u0000bell" }),
      leadEvent({ name: "Ada\u0000" }),
      activityEvent({ description: "call \uD800 back" }),
      activityEvent({ meta: { ["k\u0000"]: 1 } }),
      activityEvent({ meta: { nested: { v: "x\uDC00" } } }),
      activityEvent({ meta: { deep } }),
      knockEvent({ lng: undefined }),
      proto,
    ];
    const res = await postEvents(token, batch);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; rejected: { index: number; issues: { path: string; message: string }[] }[] };
    expect(body.accepted).toBe(2);
    const paths = Object.fromEntries(body.rejected.map((r) => [r.index, r.issues.map((i) => i.path)]));
    expect(paths).toEqual({
      1: ["events.1.notes"],
      2: ["events.2.name"],
      3: ["events.3.description"],
      4: ["events.4.meta.k\u0000"],
      5: ["events.5.meta.nested.v"],
      6: [expect.stringMatching(/^events\.6\.meta\.deep(\.0)+$/)],
      7: ["events.7.lng"],
    });
    await hubFor(team).flush();
    expect(await sql("SELECT accuracy FROM locations WHERE team_id = $1 AND id = $2", [team, fix.id])).toEqual([{ accuracy: 1e-50 }]);
    // A key named __proto__ is data like any other: kept verbatim.
    const [row] = await sql<{ meta: string }>("SELECT meta::text AS meta FROM activities WHERE team_id = $1 AND id = $2", [team, proto.id]);
    expect(JSON.parse(row!.meta)).toEqual(JSON.parse('{"__proto__": {"x": 1}, "ok": true}'));
  });

  it("takes phone numbers a dialer can dial, as E.164; refuses the rest with the path", async () => {
    const team = newTeam();
    const good = leadEvent({ phone: "+1 (202) 555-0143" });
    const res = await postEvents(await tokenFor(team), [leadEvent({ phone: "..." }), leadEvent({ phone: "12" }), good]);
    expect(await res.json()).toMatchObject({
      accepted: 1,
      rejected: [{ index: 0, issues: [{ path: "events.0.phone" }] }, { index: 1, issues: [{ path: "events.1.phone" }] }],
    });
    expect(await sql("SELECT phone FROM leads WHERE team_id = $1", [team])).toEqual([{ phone: "+12025550143" }]);
  });

  it("takes a knock without a position when it has an address", async () => {
    const team = newTeam();
    const knock = knockEvent({ lat: undefined, lng: undefined, address: "12 Elm St", positionSource: "address" });
    const res = await postEvents(await tokenFor(team), [knock, knockEvent({ lat: undefined, lng: undefined, address: undefined })]);
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: [{ index: 1, issues: [{ path: "events.1.address" }] }] });
    await hubFor(team).flush();
    expect(await sql("SELECT lat, address, position_source FROM knocks WHERE team_id = $1 AND id = $2", [team, knock.id])).toEqual([
      { lat: null, address: "12 Elm St", position_source: "address" },
    ]);
    const snapshot = await hubFor(team).snapshot(team);
    expect(snapshot.knocks).toMatchObject([{ id: knock.id, address: "12 Elm St" }]);
    expect(snapshot.knocks[0]).not.toHaveProperty("lat");
  });
});

describe("quarantine: a value Postgres refuses costs its team nothing but itself", () => {
  it("splits the batch, writes the rest, dead-letters the bad event, counts it, and keeps flushing", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const poison = `poison-${crypto.randomUUID()}`;
    // A data error no edge check foresaw: a CHECK constraint only this test's value breaks.
    const constraint = `test_${poison.replaceAll("-", "_")}`;
    await sql(`ALTER TABLE knocks ADD CONSTRAINT ${constraint} CHECK (notes IS DISTINCT FROM '${poison}') NOT VALID`);
    try {
      const fixes = Array.from({ length: 10 }, () => locationEvent());
      const bad = knockEvent({ notes: poison });
      const good = knockEvent({ notes: "fine" });
      await postEvents(token, [...fixes, bad, good]);
      const report = await hubFor(team).flush();
      expect(report).toMatchObject({ ok: true, rows: 11, quarantined: 1, depth: 0 });
      expect(await countRows("locations", fixes.map((f) => f.id))).toBe(10);
      expect(await countRows("knocks", [good.id, bad.id])).toBe(1);
      const dead = await sql<{ id: string; kind: string; sqlstate: string; body: string }>(
        "SELECT id, kind, sqlstate, body FROM rejected_events WHERE team_id = $1", [team],
      );
      expect(dead).toMatchObject([{ id: bad.id, kind: "knock", sqlstate: "23514" }]);
      expect(JSON.parse(dead[0]!.body)).toMatchObject({ id: bad.id, notes: poison });
      const figures = await hubFor(team).figures();
      expect(figures).toMatchObject({ quarantinedTotal: 1, consecutiveFailures: 0, depth: 0, lastError: null });
      // The team goes on: a later knock lands through its own alarm.
      const later = knockEvent();
      await postEvents(token, [later]);
      await drainByAlarm(team);
      expect(await countRows("knocks", [later.id])).toBe(1);
      expect((await hubFor(team).snapshot(team)).queue.quarantinedTotal).toBe(1);
    } finally {
      await sql(`ALTER TABLE knocks DROP CONSTRAINT ${constraint}`);
    }
  });

  it("a lead Postgres refuses is answered rejected, dead-lettered, and never sent to the dialer", async () => {
    const team = newTeam();
    const poison = `poison-${crypto.randomUUID()}`;
    const constraint = `test_${poison.replaceAll("-", "_")}`;
    await sql(`ALTER TABLE leads ADD CONSTRAINT ${constraint} CHECK (name IS DISTINCT FROM '${poison}') NOT VALID`);
    try {
      const bad = leadEvent({ name: poison });
      const good = leadEvent();
      const res = await postEvents(await tokenFor(team), [bad, good]);
      expect(res.status).toBe(202);
      expect((await res.json()) as unknown).toMatchObject({ leads: [{ id: bad.id, status: "rejected" }, { id: good.id, status: "stored" }] });
      await waitFor(async () => (await received(good.id)).length === 1, { what: "the good lead's delivery" });
      // Everything due, and later: the refused lead is never among the deliveries.
      await hubFor(team).deliverDue(Date.now() + 3_600_000);
      expect(await received(bad.id)).toEqual([]);
      expect(await sql("SELECT id FROM rejected_events WHERE team_id = $1", [team])).toEqual([{ id: bad.id }]);
      expect(await hubFor(team).figures()).toMatchObject({ quarantinedTotal: 1 });
    } finally {
      await sql(`ALTER TABLE leads DROP CONSTRAINT ${constraint}`);
    }
  });
});

describe("ids are per team, lower-cased, first occurrence wins", () => {
  it("the same id from two teams lands for both", async () => {
    const [a, b] = [newTeam(), newTeam()];
    const fix = locationEvent();
    for (const team of [a, b]) expect(await (await postEvents(await tokenFor(team), [fix])).json()).toMatchObject({ accepted: 1 });
    await Promise.all([hubFor(a).flush(), hubFor(b).flush()]);
    expect(await sql("SELECT team_id FROM locations WHERE id = $1 ORDER BY team_id", [fix.id])).toEqual([{ team_id: a }, { team_id: b }].sort((x, y) => (x.team_id < y.team_id ? -1 : 1)));
  });

  it("the upper- and lower-case forms of one lead id are one lead: one row, one delivery", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const lead = leadEvent();
    await postEvents(token, [{ ...lead, id: lead.id.toUpperCase() }]);
    const again = await postEvents(token, [lead]);
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 1, leads: [{ id: lead.id, status: "stored" }] });
    await waitFor(async () => (await received(lead.id)).length === 1, { what: "the delivery" });
    await hubFor(team).deliverDue(Date.now() + 3_600_000);
    expect(await received(lead.id)).toHaveLength(1);
    expect(await sql("SELECT id FROM leads WHERE team_id = $1", [team])).toEqual([{ id: lead.id }]);
  });

  it("a repeated id in one batch: Postgres and the live map both keep the first", async () => {
    const team = newTeam();
    const first = locationEvent({ lat: 10, lng: 10 });
    const second = { ...first, lat: 20, lng: 20, at: first.at + 1_000 };
    const res = await postEvents(await tokenFor(team, "field", "u-dup"), [first, second]);
    expect(await res.json()).toMatchObject({ accepted: 1, duplicates: 1 });
    await hubFor(team).flush();
    expect(await sql("SELECT lat FROM locations WHERE team_id = $1 AND id = $2", [team, first.id])).toEqual([{ lat: 10 }]);
    expect((await hubFor(team).snapshot(team)).users).toMatchObject([{ userId: "u-dup", lat: 10 }]);
  });
});

describe("one id, one event, whatever its kind", () => {
  it("a lead reusing a location's id, or a knock's in the same batch, is refused with its path — never answered \"queued\" and lost", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const fix = locationEvent();
    expect((await postEvents(token, [fix])).status).toBe(202);
    const reused = leadEvent({ id: fix.id.toUpperCase(), name: "Reused Rita" });
    const res = await postEvents(token, [locationEvent(), reused]);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [{ index: 1, id: fix.id, issues: [{ path: "events.1.id", message: "is already the id of a location event: every event needs its own id" }] }],
      leads: [],
    });

    const knock = knockEvent();
    const sameBatch = await postEvents(token, [knock, leadEvent({ id: knock.id, name: "Twin" }), { ...knock }]);
    expect(await sameBatch.json()).toMatchObject({
      accepted: 1,
      duplicates: 1,
      rejected: [{ index: 1, id: knock.id, issues: [{ path: "events.1.id", message: expect.stringMatching(/knock event/) }] }],
      leads: [],
    });

    // A real lead beside them is taken; a resend of it is a duplicate with its status.
    const lead = leadEvent();
    expect(await (await postEvents(token, [lead])).json()).toMatchObject({ accepted: 1, leads: [{ id: lead.id, status: "stored" }] });
    expect(await (await postEvents(token, [lead])).json()).toMatchObject({ accepted: 0, duplicates: 1, rejected: [], leads: [{ id: lead.id, status: "stored" }] });

    await hubFor(team).flush();
    expect(await sql("SELECT id FROM leads WHERE team_id = $1", [team])).toEqual([{ id: lead.id }]);
    expect(await countRows("locations", [fix.id])).toBe(1);
    expect(await countRows("knocks", [knock.id])).toBe(1);
    expect(await received(fix.id)).toEqual([]);
  });
});

describe("the object's meter", () => {
  it("costs at most 0.2 billed rows per event at 20-event batches (50 canvassers × 4 batches, one flush)", async () => {
    const team = newTeam();
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => tokenFor(team, "field", `walker-${i}`)));
    const before = await billedWrites(team);
    for (let round = 0; round < 4; round++) {
      await Promise.all(tokens.map((t) => postEvents(t, [...Array.from({ length: 18 }, () => locationEvent()), knockEvent(), activityEvent()]).then((r) => expect(r.status).toBe(202))));
    }
    const report = await hubFor(team).flush();
    expect(report).toMatchObject({ ok: true, rows: 4_000, depth: 0 });
    const writes = (await billedWrites(team)) - before;
    // 200 batch rows in, 200 out, a counters row per flush, a few alarms: ~0.1 per event. The first version paid 7.
    expect(writes / 4_000).toBeLessThanOrEqual(0.2);
    expect(writes).toBeGreaterThanOrEqual(400);
  });
});

describe("separate clocks", () => {
  it("a dialer that takes ~10 s per delivery does not hold a due knock flush", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const hub = hubFor(team);
    await runInDurableObject(hub, (instance: TeamHub) => {
      instance.tune({ KNOCK_MAX_AGE_S: 1 });
    });
    const lead = leadEvent();
    await fetch(`${inject("controlUrl")}/dialer/script`, { method: "POST", body: JSON.stringify({ leadId: lead.id, statuses: [], otherwise: 200, delayMs: 9_000 }) });
    // Its delivery starts at once (the alarm) and will take ~9 s.
    await postEvents(token, [lead]);
    const knock = knockEvent();
    await postEvents(token, [knock]);
    await waitFor(async () => (await countRows("knocks", [knock.id])) === 1, { timeoutMs: 8_000, what: "the knock to land by its own alarm" });
    // The knock reached Postgres while the slow dialer still sat on the lead.
    expect(await received(lead.id)).toEqual([]);
    await waitFor(async () => (await received(lead.id)).length === 1, { timeoutMs: 15_000, what: "the slow delivery to finish" });
  }, 40_000);

  it("a failed delivery is retried on its own schedule (5 s later), not whenever the next flush or sync comes", async () => {
    const team = newTeam();
    const hub = hubFor(team);
    const lead = leadEvent();
    await fetch(`${inject("controlUrl")}/dialer/script`, { method: "POST", body: JSON.stringify({ leadId: lead.id, statuses: [500], otherwise: 200 }) });
    await postEvents(await tokenFor(team), [lead]);
    await waitFor(async () => (await received(lead.id)).length === 1, { what: "the first attempt" });
    // The alarm now points at the retry (its next_at), not at the 30 s dialer-state sync.
    const [alarm, nextAt] = await waitFor(async () => {
      const pair = await runInDurableObject(hub, (_i: TeamHub, state) => [
        state.storage.getAlarm(),
        state.storage.sql.exec<{ next_at: number }>("SELECT next_at FROM outbox WHERE lead_id = ?", lead.id).one().next_at,
      ] as const);
      const a = await pair[0];
      return a !== null && a === pair[1] ? ([a, pair[1]] as const) : undefined;
    }, { what: "the alarm set to the retry" });
    expect(alarm).toBe(nextAt);
    await waitFor(async () => (await received(lead.id)).length === 2, { timeoutMs: 15_000, what: "the retry by the alarm alone" });
  }, 30_000);

  it("an outbox whose leads Postgres does not hold settles instead of spinning", async () => {
    const team = newTeam();
    const lead = leadEvent();
    await postEvents(await tokenFor(team), [lead]);
    await waitFor(async () => (await received(lead.id)).length === 1, { what: "the delivery" });
    // A restored database: the lead is gone, and its delivery state waits to be synced into it.
    await sql("DELETE FROM leads WHERE team_id = $1", [team]);
    const hub = hubFor(team);
    await runInDurableObject(hub, async (instance: TeamHub) => {
      await instance.redeliver(lead.id);
      await instance.deliverDue(Date.now());
    });
    await hub.flush();
    const alarmsBefore = (await hub.figures()).alarmsSet;
    // At most a handful of alarms, then none: nothing is left that could ever be due.
    let fired = 0;
    while (fired < 5 && (await runDurableObjectAlarm(hub))) fired += 1;
    expect(fired).toBeLessThan(5);
    expect(await runInDurableObject(hub, (_i: TeamHub, state) => state.storage.getAlarm())).toBeNull();
    expect((await hub.figures()).alarmsSet - alarmsBefore).toBeLessThan(5);
  });
});

describe("objects of the first version migrate", () => {
  it("buffered rows in the old `pending` table are flushed, exactly once", async () => {
    const team = newTeam();
    const hub = hubFor(team);
    const fixes = Array.from({ length: 5 }, () => locationEvent());
    const knock = knockEvent({ at: Date.now() - 1_000 });
    // Lay the object's storage out as the first version left it, with rows waiting in `pending`.
    await runInDurableObject(hub, (_i: TeamHub, state) => {
      const sql = state.storage.sql;
      for (const t of ["batches", "outbox", "meta"]) sql.exec(`DROP TABLE IF EXISTS ${t}`);
      sql.exec(`CREATE TABLE pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, user_id TEXT NOT NULL,
                at INTEGER NOT NULL, received_at INTEGER NOT NULL, body TEXT NOT NULL)`);
      sql.exec("CREATE INDEX pending_kind_seq ON pending (kind, seq)");
      sql.exec(`CREATE TABLE outbox (lead_id TEXT PRIMARY KEY, body TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                first_attempt_at INTEGER, next_at INTEGER NOT NULL, last_error TEXT, created_at INTEGER NOT NULL, delivered_at INTEGER,
                stored INTEGER NOT NULL DEFAULT 0, synced INTEGER NOT NULL DEFAULT 1, changed_at INTEGER NOT NULL)`);
      sql.exec("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
      sql.exec("INSERT INTO state (key, value) VALUES ('counters', ?)", JSON.stringify({ teamId: team, acceptedTotal: 6 }));
      const receivedAt = Date.now() - 2_000;
      for (const e of [...fixes, knock]) {
        const event = { ...e, at: typeof e.at === "string" ? Date.parse(e.at) : e.at };
        sql.exec("INSERT INTO pending (id, kind, user_id, at, received_at, body) VALUES (?, ?, 'u-old', ?, ?, ?)", e.id, e.type, event.at, receivedAt, JSON.stringify(event));
      }
    });
    await evictDurableObject(hub);
    const figures = await hub.figures();
    expect(figures).toMatchObject({ teamId: team, depth: 6, acceptedTotal: 6 });
    const report = await hub.flush();
    expect(report).toMatchObject({ ok: true, rows: 6, depth: 0 });
    expect(await countRows("locations", fixes.map((f) => f.id))).toBe(5);
    expect(await countRows("knocks", [knock.id])).toBe(1);
    const tables = await runInDurableObject(hub, (_i: TeamHub, state) =>
      state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray().map((r) => r.name));
    expect(tables).not.toContain("pending");
    expect(tables).toEqual(expect.arrayContaining(["batches", "meta", "outbox"]));
  });
});
