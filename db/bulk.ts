import { getTableColumns, getTableName } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { ActivityEvent, EventKind, IngestEvent, KnockEvent, LeadEvent, LocationEvent } from "../protocol/events.ts";
import { activities, knocks, leads, locations, rejectedEvents } from "./schema.ts";

/** A lead's dialer state as the TeamHub's outbox knows it, written with the lead so a later UPDATE is not needed. */
export interface LeadDialerState {
  status: string;
  attempts: number;
  deliveredAt: number | null;
}

/** A buffered event as the TeamHub hands it to a flush. */
export interface BufferedEvent<E extends IngestEvent = IngestEvent> {
  teamId: string;
  userId: string;
  receivedAt: number;
  event: E;
  dialer?: LeadDialerState;
}

/**
 * What each column of a table gets from a buffered event. Keys are the drizzle table's own keys, so a
 * column added to db/schema.ts without a value here — or a misspelt one — is a type error, never a NULL.
 * Timestamps are epoch ms (sent as float8, turned into timestamptz in SQL: cheaper than ISO text).
 */
type ColumnValues<T extends PgTable, E extends IngestEvent> = {
  [K in keyof T["$inferInsert"]]-?: (b: BufferedEvent<E>) => unknown;
};

const common = {
  id: (b: BufferedEvent) => b.event.id,
  teamId: (b: BufferedEvent) => b.teamId,
  userId: (b: BufferedEvent) => b.userId,
  at: (b: BufferedEvent) => b.event.at,
  receivedAt: (b: BufferedEvent) => b.receivedAt,
};
const opt = (v: unknown) => v ?? null;

const locationValues: ColumnValues<typeof locations, LocationEvent> = {
  ...common,
  lat: (b) => b.event.lat,
  lng: (b) => b.event.lng,
  accuracy: (b) => opt(b.event.accuracy),
  speed: (b) => opt(b.event.speed),
  heading: (b) => opt(b.event.heading),
  altitude: (b) => opt(b.event.altitude),
  battery: (b) => opt(b.event.battery),
};

const knockValues: ColumnValues<typeof knocks, KnockEvent> = {
  ...common,
  lat: (b) => opt(b.event.lat),
  lng: (b) => opt(b.event.lng),
  accuracy: (b) => opt(b.event.accuracy),
  positionSource: (b) => b.event.positionSource ?? (b.event.lat === undefined ? "address" : "gps"),
  outcome: (b) => b.event.outcome,
  address: (b) => opt(b.event.address),
  notes: (b) => opt(b.event.notes),
};

const activityValues: ColumnValues<typeof activities, ActivityEvent> = {
  ...common,
  kind: (b) => b.event.kind,
  description: (b) => opt(b.event.description),
  contactId: (b) => opt(b.event.contactId),
  meta: (b) => (b.event.meta ? JSON.stringify(b.event.meta) : null),
};

const leadValues: ColumnValues<typeof leads, LeadEvent> = {
  ...common,
  name: (b) => b.event.name,
  phone: (b) => opt(b.event.phone),
  email: (b) => opt(b.event.email),
  address: (b) => opt(b.event.address),
  lat: (b) => opt(b.event.lat),
  lng: (b) => opt(b.event.lng),
  notes: (b) => opt(b.event.notes),
  interest: (b) => opt(b.event.interest),
  dialerStatus: (b) => b.dialer?.status ?? "pending",
  dialerAttempts: (b) => Math.min(b.dialer?.attempts ?? 0, 32_767),
  dialerDeliveredAt: (b) => b.dialer?.deliveredAt ?? null,
};

/** How a column travels: one array parameter of this type, and the SELECT expression that stores it. */
type Wire = { param: string; select: (name: string) => string };
function wireOf(sqlType: string): Wire {
  switch (sqlType) {
    case "uuid": return { param: "uuid", select: (n) => n };
    case "text": return { param: "text", select: (n) => n };
    case "double precision": return { param: "float8", select: (n) => n };
    case "smallint": return { param: "int2", select: (n) => n };
    case "jsonb": return { param: "text", select: (n) => `${n}::jsonb` };
    case "timestamp with time zone": return { param: "float8", select: (n) => `to_timestamp(${n} / 1000.0)` };
    default: throw new Error(`db/bulk.ts: no wire format for column type ${sqlType}`);
  }
}

export interface Column {
  name: string;
  wire: Wire;
  value: (b: BufferedEvent) => unknown;
}

function columnsOf<T extends PgTable>(table: T, values: ColumnValues<T, never>): Column[] {
  return Object.entries(getTableColumns(table)).map(([key, column]) => ({
    name: column.name,
    wire: wireOf(column.getSQLType()),
    value: values[key as keyof typeof values] as (b: BufferedEvent) => unknown,
  }));
}

/** Column lists per kind, in the table's own order, derived from db/schema.ts. */
export const COLUMNS: Record<EventKind, readonly Column[]> = {
  location: columnsOf(locations, locationValues as ColumnValues<typeof locations, never>),
  knock: columnsOf(knocks, knockValues as ColumnValues<typeof knocks, never>),
  activity: columnsOf(activities, activityValues as ColumnValues<typeof activities, never>),
  lead: columnsOf(leads, leadValues as ColumnValues<typeof leads, never>),
};

export const TABLE: Record<EventKind, string> = {
  location: getTableName(locations),
  knock: getTableName(knocks),
  activity: getTableName(activities),
  lead: getTableName(leads),
};

export interface Statement {
  text: string;
  values: unknown[];
}

const quote = (name: string) => `"${name}"`;

function insertSelect(table: string, cols: readonly Column[], rows: readonly BufferedEvent[], firstParam: number): Statement {
  const names = cols.map((c) => quote(c.name)).join(", ");
  const params = cols.map((c, i) => `$${firstParam + i}::${c.wire.param}[]`).join(", ");
  const select = cols.map((c) => c.wire.select(quote(c.name))).join(", ");
  return {
    text: `INSERT INTO "${table}" (${names}) SELECT ${select} FROM unnest(${params}) AS t(${names}) ON CONFLICT ("team_id", "id") DO NOTHING`,
    values: cols.map((c) => rows.map(c.value)),
  };
}

/**
 * One INSERT for any number of rows: one array parameter per column, unnest()ed server-side.
 * No 65,535-parameter ceiling and about half the parse cost of a VALUES list; ON CONFLICT makes
 * re-sent rows (a retry after a crash between COMMIT and the buffer DELETE) a no-op.
 */
export function bulkInsert(kind: EventKind, rows: readonly BufferedEvent[]): Statement {
  return insertSelect(TABLE[kind], COLUMNS[kind], rows, 1);
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
    const part = insertSelect(TABLE[kind], COLUMNS[kind], rows, next);
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

/** An event Postgres refused for its content, on its way to the dead-letter table. */
export interface RejectedRow {
  buffered: BufferedEvent;
  sqlstate: string | null;
  error: string;
}

/** Dead letters in one statement. The body is JSON text: JSON escapes NUL and lone surrogates, so it always fits. */
export function rejectedInsert(rows: readonly RejectedRow[]): Statement {
  const c = getTableColumns(rejectedEvents);
  return {
    text:
      `INSERT INTO "${getTableName(rejectedEvents)}" ("${c.teamId.name}", "${c.id.name}", "${c.kind.name}", "${c.userId.name}", "${c.receivedAt.name}", "${c.sqlstate.name}", "${c.error.name}", "${c.body.name}") ` +
      `SELECT t, i, k, u, to_timestamp(r / 1000.0), s, e, b FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[], $8::text[]) AS x(t, i, k, u, r, s, e, b) ` +
      `ON CONFLICT ("${c.teamId.name}", "${c.id.name}") DO NOTHING`,
    values: [
      rows.map((r) => r.buffered.teamId),
      rows.map((r) => r.buffered.event.id),
      rows.map((r) => r.buffered.event.type),
      rows.map((r) => r.buffered.userId),
      rows.map((r) => r.buffered.receivedAt),
      rows.map((r) => r.sqlstate),
      rows.map((r) => r.error.slice(0, 2_000)),
      rows.map((r) => JSON.stringify(r.buffered.event)),
    ],
  };
}

export interface DialerStatusRow {
  leadId: string;
  status: string;
  attempts: number;
  deliveredAt: number | null;
}

/** Delivery states of many leads of one team in one statement; returns the ids Postgres holds (RETURNING). */
export function dialerStatusUpdate(teamId: string, rows: readonly DialerStatusRow[]): Statement {
  return {
    text:
      `UPDATE "leads" AS l SET "dialer_status" = u.status, "dialer_attempts" = u.attempts, "dialer_delivered_at" = to_timestamp(u.delivered_at / 1000.0) ` +
      `FROM unnest($2::uuid[], $3::text[], $4::smallint[], $5::float8[]) AS u(id, status, attempts, delivered_at) ` +
      `WHERE l."team_id" = $1 AND l."id" = u.id RETURNING l."id"`,
    values: [
      teamId,
      rows.map((r) => r.leadId),
      rows.map((r) => r.status),
      rows.map((r) => Math.min(r.attempts, 32_767)),
      rows.map((r) => r.deliveredAt),
    ],
  };
}
