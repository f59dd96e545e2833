// db/bulk.ts sends each column as one binary-format array (and a column that is the same in every row as one
// scalar). These tests write through the production path (durable-objects/flush.ts writeBatch → Neon driver →
// the stack's WebSocket proxy → the test run's Postgres) and read the rows back with node pg: awkward text must
// come back byte for byte, null must stay null, and every row must be exactly what the driver's own array
// literals (the previous encoding) stored.
import { randomUUID } from "node:crypto";
import { neonConfig } from "@neondatabase/serverless";
import pg from "pg";
import ws from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bulkInsert, COLUMNS, TABLE, type BufferedEvent } from "../../db/bulk.ts";
import { withDb, type DbEnv } from "../../db/client.ts";
import { writeBatch } from "../../durable-objects/flush.ts";
import type { EventKind } from "../../protocol/events.ts";
import { ingestEvent, type IngestEvent } from "../../protocol/ingest.ts";
import { planStack } from "../support/stack.ts";

neonConfig.webSocketConstructor = ws;

// The stack vitest.config.ts planned for this run (test/support/stack.ts reads it back).
const plan = await planStack();
const env: DbEnv = { DATABASE_URL: plan.postgres.url, NEON_WS_PROXY: `127.0.0.1:${plan.proxyPort}` };

/** Text that array literals get wrong when they are built carelessly, and text that needs more than one byte. */
const AWKWARD = [
  'say "hi"', "back\\slash", "trailing\\", "\\\\", '\\"', '"', "a,b", ",", "{braces}", "}{", "{", "}", "{}", "{NULL}",
  "NULL", "null", "Null", "", "Zoë Ångström", "東京都渋谷区", "🏠👍🏽 door", "é vs e\u0301", "tab\there", "line\nbreak\r\n!",
  "'single'", "$1::text", "ARRAY[1,2]", "a\\,b\\}c", "nb\u00a0sp", "\u{1f600}", "x".repeat(1_998) + "🏠",
];

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: plan.postgres.url });
  admin.on("error", () => {});
  await admin.connect();
});
afterAll(async () => {
  await admin?.end().catch(() => {});
});

const T0 = Date.UTC(2026, 10, 28, 9);
const buffered = (teamId: string, userId: string, i: number, raw: Record<string, unknown>): BufferedEvent => ({
  teamId,
  userId,
  receivedAt: T0 + 10_000 + i,
  event: ingestEvent.parse({ id: randomUUID(), at: T0 + i, ...raw }),
});

/** One of each kind per awkward string; user ids are awkward too (the DB layer stores whatever it is given). */
function awkwardEvents(teamId: string): BufferedEvent[] {
  const out: BufferedEvent[] = [];
  AWKWARD.forEach((s, i) => {
    const user = `u ${s}`.slice(0, 200);
    out.push(buffered(teamId, user, 4 * i, { type: "knock", lat: 30.25 + i / 1e4, lng: -97.75, outcome: "callback", address: s.slice(0, 500), notes: s }));
    out.push(buffered(teamId, user, 4 * i + 1, {
      type: "activity", kind: s.slice(0, 64) || "k", description: s, contactId: s.slice(0, 128),
      meta: { [s.slice(0, 50)]: s.slice(0, 500), nested: { list: [s.slice(0, 100), null, 1.5] } },
    }));
    out.push(buffered(teamId, user, 4 * i + 2, { type: "lead", name: s.slice(0, 200) || "n", address: s.slice(0, 500), notes: s, email: "a@b.co" }));
    out.push(buffered(teamId, user, 4 * i + 3, { type: "location", lat: -0, lng: i === 0 ? -0 : -97.7431 + i / 1e5, accuracy: i % 2 ? 5.5 : undefined }));
  });
  return out;
}

type Row = Record<string, unknown>;
async function rowsOf(kind: EventKind, teamId: string): Promise<Map<string, Row>> {
  const r = await admin.query<Row>(`SELECT * FROM "${TABLE[kind]}" WHERE team_id = $1`, [teamId]);
  return new Map(r.rows.map((row) => [row.id as string, row]));
}

/** What each column must hold, from the event as the edge parsed it. */
function expectedRow(b: BufferedEvent): Row {
  const e = b.event as IngestEvent & Record<string, unknown>;
  const common = { id: e.id, team_id: b.teamId, user_id: b.userId, at: new Date(e.at), received_at: new Date(b.receivedAt) };
  // -0 is stored as 0, as the driver's text form of it ("0") always stored it.
  const n = (v: unknown) => (v === undefined ? null : v === 0 ? 0 : v);
  switch (e.type) {
    case "location":
      return { ...common, lat: n(e.lat), lng: n(e.lng), accuracy: n(e.accuracy), speed: n(e.speed), heading: n(e.heading), altitude: n(e.altitude), battery: n(e.battery) };
    case "knock":
      return { ...common, lat: n(e.lat), lng: n(e.lng), accuracy: n(e.accuracy), position_source: e.positionSource ?? "gps", outcome: e.outcome, address: n(e.address), notes: n(e.notes) };
    case "activity":
      return { ...common, kind: e.kind, description: n(e.description), contact_id: n(e.contactId), meta: n(e.meta) };
    case "lead":
      return {
        ...common, name: e.name, phone: n(e.phone), email: n(e.email), address: n(e.address), lat: n(e.lat), lng: n(e.lng), notes: n(e.notes),
        interest: n(e.interest), dialer_status: "pending", dialer_attempts: 0, dialer_delivered_at: null,
      };
  }
}

async function expectStored(events: readonly BufferedEvent[], teamId: string): Promise<void> {
  for (const kind of ["location", "knock", "activity", "lead"] as const) {
    const mine = events.filter((b) => b.event.type === kind);
    const stored = await rowsOf(kind, teamId);
    expect(stored.size, `${kind} rows`).toBe(mine.length);
    for (const b of mine) expect(stored.get(b.event.id), `${kind} ${b.event.id}`).toEqual(expectedRow(b));
  }
}

/** The previous encoding: the same INSERT … SELECT FROM unnest, every column a plain JS array for the driver to quote. */
async function writeWithDriverArrays(kind: EventKind, rows: readonly BufferedEvent[]): Promise<void> {
  const cols = COLUMNS[kind];
  const names = cols.map((c) => `"${c.name}"`).join(", ");
  const text =
    `INSERT INTO "${TABLE[kind]}" (${names}) SELECT ${cols.map((c) => c.wire.select(`"${c.name}"`)).join(", ")} ` +
    `FROM unnest(${cols.map((c, i) => `$${i + 1}::${c.wire.param}[]`).join(", ")}) AS t(${names}) ON CONFLICT ("team_id", "id") DO NOTHING`;
  await withDb(env, async ({ client }) => {
    await client.query(text, cols.map((c) => rows.map(c.value)));
  });
}

describe("bulk statements: binary arrays through the Neon driver", () => {
  it("stores awkward text byte for byte in every kind, in one statement, and a re-send is a no-op", async () => {
    const team = `bulk-${randomUUID()}`;
    const events = awkwardEvents(team);
    // The strings reached the statement as written (the edge's trim left them alone).
    expect(events.filter((b) => b.event.type === "knock").map((b) => (b.event as { notes?: string }).notes)).toEqual(AWKWARD);

    const report = await writeBatch(env, team, events);
    expect(report).toMatchObject({ statements: 1, rejected: [] });
    expect(report.written).toHaveLength(events.length);
    await expectStored(events, team);

    // The literal strings "NULL" and "" are text, never NULL.
    const nulls = await admin.query(`SELECT count(*)::int AS n FROM knocks WHERE team_id = $1 AND notes IS NULL`, [team]);
    expect(nulls.rows[0].n).toBe(0);
    const literal = await admin.query(`SELECT notes FROM knocks WHERE team_id = $1 AND notes IN ('NULL', '') ORDER BY notes`, [team]);
    expect(literal.rows.map((r) => r.notes)).toEqual(["", "NULL"]);

    const again = await writeBatch(env, team, events);
    expect(again).toMatchObject({ statements: 1, rejected: [] });
    await expectStored(events, team);
  });

  it("stores exactly what the driver's own array literals stored (-0, nulls, unicode, json)", async () => {
    const binaryTeam = `bulk-bin-${randomUUID()}`, driverTeam = `bulk-drv-${randomUUID()}`;
    const events = awkwardEvents(binaryTeam);
    expect((await writeBatch(env, binaryTeam, events)).rejected).toEqual([]);
    for (const kind of ["location", "knock", "activity", "lead"] as const) {
      await writeWithDriverArrays(kind, events.filter((b) => b.event.type === kind).map((b) => ({ ...b, teamId: driverTeam })));
      const table = TABLE[kind];
      // Every column but team_id, compared as Postgres compares them (float8 -0 and 0 are equal, so also by their text).
      const cols = COLUMNS[kind].filter((c) => c.name !== "team_id").map((c) => `"${c.name}"`);
      const asText = cols.map((c) => `${c}::text`).join(", ");
      const diff = await admin.query(
        `SELECT count(*)::int AS n FROM ((SELECT ${asText} FROM "${table}" WHERE team_id = $1 EXCEPT ALL SELECT ${asText} FROM "${table}" WHERE team_id = $2) ` +
          `UNION ALL (SELECT ${asText} FROM "${table}" WHERE team_id = $2 EXCEPT ALL SELECT ${asText} FROM "${table}" WHERE team_id = $1)) d`,
        [binaryTeam, driverTeam],
      );
      const counts = await admin.query(`SELECT count(*)::int AS n FROM "${table}" WHERE team_id = ANY($1)`, [[binaryTeam, driverTeam]]);
      expect(diff.rows[0].n, `${table}: rows that differ`).toBe(0);
      expect(counts.rows[0].n, `${table}: rows`).toBe(2 * AWKWARD.length);
    }
    const zero = await admin.query(`SELECT lat::text, lng::text FROM locations WHERE team_id = $1 AND at = $2`, [binaryTeam, new Date(T0 + 3)]);
    expect(zero.rows).toEqual([{ lat: "0", lng: "0" }]); // -0 was always stored as 0 (the driver wrote "0")
  });

  it("keeps null null, and a column the same in every row (one scalar) the same in every row", async () => {
    const team = `bulk-uni-${randomUUID()}`;
    const same = (i: number, raw: Record<string, unknown>) => buffered(team, "NULL", i, raw);
    const events = [
      // Uniform: user "NULL", notes "NULL", address null (omitted), outcome; varying: lat, lng, at.
      same(0, { type: "knock", lat: 1, lng: 2, outcome: "other", notes: "NULL" }),
      same(1, { type: "knock", lat: 3, lng: 4, outcome: "other", notes: "NULL" }),
      // Every optional measurement absent: each such column is null in every row.
      same(2, { type: "location", lat: 10, lng: 20 }),
      same(3, { type: "location", lat: 11, lng: 21 }),
      // A single row: every column varies trivially, nothing goes as a scalar.
      same(4, { type: "lead", name: '{"NULL"}', notes: "" }),
      same(5, { type: "activity", kind: "k" }),
    ];
    const stmt = bulkInsert("location", events.slice(2, 4));
    expect(stmt.values.filter((v) => v instanceof Uint8Array).length).toBeGreaterThan(0);
    expect(stmt.values).toContain(team); // the team goes once, as a scalar
    expect((await writeBatch(env, team, events)).rejected).toEqual([]);
    await expectStored(events, team);
    const loc = await admin.query(`SELECT accuracy, speed, heading, altitude, battery FROM locations WHERE team_id = $1`, [team]);
    expect(loc.rows).toEqual(Array(2).fill({ accuracy: null, speed: null, heading: null, altitude: null, battery: null }));
  });

  it("sends what is not in a binary form as the driver's text literal, for Postgres to read as before", async () => {
    const team = `bulk-txt-${randomUUID()}`;
    const ids = [randomUUID(), randomUUID()];
    const rows: BufferedEvent[] = [
      { teamId: team, userId: "u", receivedAt: T0, event: { ...ingestEvent.parse({ id: ids[0], type: "location", at: T0, lat: 1, lng: 2 }), id: `{${ids[0]}}` } },
      { teamId: team, userId: "u", receivedAt: T0, event: { ...ingestEvent.parse({ id: ids[1], type: "location", at: T0, lat: 1, lng: 2 }), id: ids[1]!.toUpperCase() } },
    ];
    const stmt = bulkInsert("location", rows);
    expect(Array.isArray(stmt.values[0])).toBe(true); // a braced uuid: uuid_in reads it
    expect(bulkInsert("location", rows.slice(1)).values[0]).toBeInstanceOf(Uint8Array); // upper-case hex is still 16 bytes
    expect((await writeBatch(env, team, rows)).rejected).toEqual([]);
    expect([...(await rowsOf("location", team)).keys()].sort()).toEqual([...ids].sort());
  });
});
