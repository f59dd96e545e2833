import type { EventKind, IngestEvent } from "../protocol/events.ts";

/** A buffered event as the TeamHub hands it to a flush. */
export interface BufferedEvent {
  teamId: string;
  userId: string;
  receivedAt: number;
  event: IngestEvent;
}

/** `epoch` travels as float8 epoch ms and becomes timestamptz in SQL: cheaper to send and to parse than ISO text. */
type PgType = "uuid" | "text" | "epoch" | "float8" | "float4" | "jsonb";
type Column = readonly [name: string, type: PgType, value: (b: BufferedEvent) => unknown];

const iso = (ms: number) => new Date(ms).toISOString();
const field = (name: string) => (b: BufferedEvent) => (b.event as Record<string, unknown>)[name] ?? null;

const common: Column[] = [
  ["id", "uuid", (b) => b.event.id],
  ["team_id", "text", (b) => b.teamId],
  ["user_id", "text", (b) => b.userId],
  ["at", "epoch", (b) => b.event.at],
  ["received_at", "epoch", (b) => b.receivedAt],
];

/** Column lists per kind, in the order of the unnest() parameters. Names match db/schema.ts. */
export const COLUMNS: Record<EventKind, readonly Column[]> = {
  location: [
    ...common,
    ["lat", "float8", field("lat")],
    ["lng", "float8", field("lng")],
    ["accuracy", "float4", field("accuracy")],
    ["speed", "float4", field("speed")],
    ["heading", "float4", field("heading")],
    ["altitude", "float4", field("altitude")],
    ["battery", "float4", field("battery")],
  ],
  knock: [
    ...common,
    ["lat", "float8", field("lat")],
    ["lng", "float8", field("lng")],
    ["outcome", "text", field("outcome")],
    ["address", "text", field("address")],
    ["notes", "text", field("notes")],
  ],
  activity: [
    ...common,
    ["kind", "text", field("kind")],
    ["description", "text", field("description")],
    ["contact_id", "text", field("contactId")],
    ["meta", "jsonb", (b) => (b.event.type === "activity" && b.event.meta ? JSON.stringify(b.event.meta) : null)],
  ],
  lead: [
    ...common,
    ["name", "text", field("name")],
    ["phone", "text", field("phone")],
    ["email", "text", field("email")],
    ["address", "text", field("address")],
    ["lat", "float8", field("lat")],
    ["lng", "float8", field("lng")],
    ["notes", "text", field("notes")],
    ["interest", "text", field("interest")],
  ],
};

export const TABLE: Record<EventKind, string> = {
  location: "locations",
  knock: "knocks",
  activity: "activities",
  lead: "leads",
};

export interface Statement {
  text: string;
  values: unknown[];
}

const paramType = (t: PgType) => (t === "jsonb" ? "text" : t === "epoch" ? "float8" : t);
const selectExpr = (name: string, t: PgType) =>
  t === "jsonb" ? `"${name}"::jsonb` : t === "epoch" ? `to_timestamp("${name}" / 1000.0)` : `"${name}"`;

function insertSelect(kind: EventKind, rows: readonly BufferedEvent[], firstParam: number): Statement {
  const cols = COLUMNS[kind];
  const names = cols.map(([name]) => `"${name}"`).join(", ");
  const params = cols.map(([, type], i) => `$${firstParam + i}::${paramType(type)}[]`).join(", ");
  const select = cols.map(([name, type]) => selectExpr(name, type)).join(", ");
  return {
    text: `INSERT INTO "${TABLE[kind]}" (${names}) SELECT ${select} FROM unnest(${params}) AS t(${names}) ON CONFLICT ("id") DO NOTHING`,
    values: cols.map(([, , value]) => rows.map(value)),
  };
}

/**
 * One INSERT for any number of rows: one array parameter per column, unnest()ed server-side.
 * No 65,535-parameter ceiling and about half the parse cost of a VALUES list; ON CONFLICT makes
 * re-sent rows (a retry after a crash between COMMIT and the buffer DELETE) a no-op.
 */
export function bulkInsert(kind: EventKind, rows: readonly BufferedEvent[]): Statement {
  return insertSelect(kind, rows, 1);
}

/**
 * Every kind of a batch in ONE statement (data-modifying CTEs): one round trip and one implicit
 * transaction, all rows or none, whatever mix of kinds the batch holds.
 */
export function bulkInsertKinds(groups: ReadonlyArray<readonly [EventKind, readonly BufferedEvent[]]>): Statement | null {
  const parts: Statement[] = [];
  let next = 1;
  for (const [kind, rows] of groups) {
    if (rows.length === 0) continue;
    const part = insertSelect(kind, rows, next);
    next += part.values.length;
    parts.push(part);
  }
  if (parts.length === 0) return null;
  const last = parts.at(-1)!;
  const ctes = parts.slice(0, -1).map((p, i) => `w${i} AS (${p.text})`);
  return {
    text: (ctes.length ? `WITH ${ctes.join(", ")} ` : "") + last.text,
    values: parts.flatMap((p) => p.values),
  };
}

export interface DialerStatusRow {
  leadId: string;
  status: string;
  attempts: number;
  deliveredAt: number | null;
}

/** Delivery states of many leads in one statement; returns the ids Postgres holds (RETURNING). */
export function dialerStatusUpdate(rows: readonly DialerStatusRow[]): Statement {
  return {
    text:
      `UPDATE "leads" AS l SET "dialer_status" = u.status, "dialer_attempts" = u.attempts, "dialer_delivered_at" = u.delivered_at ` +
      `FROM unnest($1::uuid[], $2::text[], $3::smallint[], $4::timestamptz[]) AS u(id, status, attempts, delivered_at) ` +
      `WHERE l."id" = u.id RETURNING l."id"`,
    values: [
      rows.map((r) => r.leadId),
      rows.map((r) => r.status),
      rows.map((r) => Math.min(r.attempts, 32_767)),
      rows.map((r) => (r.deliveredAt === null ? null : iso(r.deliveredAt))),
    ],
  };
}
