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

/**
 * How a column travels: one array parameter of this type, the SELECT expression that stores it, and how a
 * column of values is encoded for the wire (see "Array parameters" below).
 */
type Wire = { param: string; select: (name: string) => string; encode: (values: unknown[]) => unknown };
function wireOf(sqlType: string): Wire {
  switch (sqlType) {
    case "uuid": return { param: "uuid", select: (n) => n, encode: uuidArray };
    case "text": return { param: "text", select: (n) => n, encode: textArray };
    case "double precision": return { param: "float8", select: (n) => n, encode: float8Array };
    case "smallint": return { param: "int2", select: (n) => n, encode: asDriverArray };
    case "jsonb": return { param: "text", select: (n) => `${n}::jsonb`, encode: textArray };
    case "timestamp with time zone": return { param: "float8", select: (n) => `to_timestamp(${n} / 1000.0)`, encode: float8Array };
    default: throw new Error(`db/bulk.ts: no wire format for column type ${sqlType}`);
  }
}

/*
 * Array parameters. Handed a JS array, the driver (pg's prepareValue) writes a quoted, escaped text literal
 * element by element ({"30.2671","-97.74"…}) and Postgres parses it back, strtod per number (per 100,000 fixes
 * ~240 ms of client CPU and ~270 ms of server parsing, of ~1.7 s; bench/flush.ts). Instead each column goes as ONE
 * binary-format array (what array_send writes and array_recv reads; the driver binds any Uint8Array in binary):
 * float8 as its 8 IEEE bytes, uuid as its 16 bytes, text as its UTF-8 bytes: no escaping, no parsing.
 * The stored values are the very same: a double goes bit for bit (-0 as 0, as its text form "0" did), text
 * byte for byte (UTF-8, the connection's client_encoding). A column holding anything else than these types
 * expect (a non-number, a uuid not in its canonical 36-character form, a non-string) goes as before, a JS
 * array for the driver's text literal, so Postgres' own input functions accept or refuse it as they always did.
 */
const ARRAY_HEADER = 20; // ndim, has-nulls flag, element type oid, then length and lower bound of the one dimension
const OID = { text: 25, float8: 701, uuid: 2950 } as const;

function arrayBuffer(size: number, count: number, hasNulls: boolean, oid: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, 1);
  view.setInt32(4, hasNulls ? 1 : 0);
  view.setUint32(8, oid);
  view.setInt32(12, count);
  view.setInt32(16, 1);
  return { bytes, view };
}

const asDriverArray = (values: unknown[]): unknown => values;

function float8Array(values: unknown[]): unknown {
  let nulls = 0;
  for (const v of values) {
    if (v === null || v === undefined) nulls++;
    else if (typeof v !== "number") return values;
  }
  const { bytes, view } = arrayBuffer(ARRAY_HEADER + values.length * 4 + (values.length - nulls) * 8, values.length, nulls > 0, OID.float8);
  let at = ARRAY_HEADER;
  for (const v of values) {
    if (v === null || v === undefined) {
      view.setInt32(at, -1);
      at += 4;
    } else {
      view.setInt32(at, 8);
      view.setFloat64(at + 4, (v as number) === 0 ? 0 : (v as number)); // -0 → 0
      at += 12;
    }
  }
  return bytes;
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;
const hexDigit = (code: number) => (code < 128 ? HEX[code]! : -1);

/** Where each of a canonical uuid's 16 bytes starts in its 36 characters (8-4-4-4-12 hex digits). */
const UUID_BYTE_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

function uuidArray(values: unknown[]): unknown {
  const { bytes, view } = arrayBuffer(ARRAY_HEADER + values.length * 20, values.length, false, OID.uuid);
  let at = ARRAY_HEADER;
  for (const v of values) {
    if (typeof v !== "string" || v.length !== 36) return values;
    if (v.charCodeAt(8) !== 45 || v.charCodeAt(13) !== 45 || v.charCodeAt(18) !== 45 || v.charCodeAt(23) !== 45) return values;
    view.setInt32(at, 16);
    at += 4;
    for (const i of UUID_BYTE_AT) {
      const hi = hexDigit(v.charCodeAt(i)), lo = hexDigit(v.charCodeAt(i + 1));
      if (hi < 0 || lo < 0) return values;
      bytes[at++] = (hi << 4) | lo;
    }
  }
  return bytes;
}

const utf8 = new TextEncoder();
const NOT_ASCII = /[^\u0000-\u007f]/;

function textArray(values: unknown[]): unknown {
  let size = ARRAY_HEADER, nulls = 0;
  const encoded: (Uint8Array | undefined)[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      nulls++;
      size += 4;
    } else if (typeof v !== "string") {
      return values;
    } else if (NOT_ASCII.test(v)) {
      const e = (encoded[i] = utf8.encode(v));
      size += 4 + e.length;
    } else {
      size += 4 + v.length;
    }
  }
  const { bytes, view } = arrayBuffer(size, values.length, nulls > 0, OID.text);
  let at = ARRAY_HEADER;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      view.setInt32(at, -1);
      at += 4;
      continue;
    }
    const e = encoded[i];
    if (e) {
      view.setInt32(at, e.length);
      bytes.set(e, at + 4);
      at += 4 + e.length;
    } else {
      const s = v as string;
      view.setInt32(at, s.length);
      at += 4;
      for (let j = 0; j < s.length; j++) bytes[at++] = s.charCodeAt(j);
    }
  }
  return bytes;
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

/**
 * A column with one value in every row of a statement of several (the team, in a TeamHub's flush) goes once,
 * as a scalar parameter, not as an array to unnest. The id never does: unnest() keeps at least one array.
 */
function isUniform(col: Column, values: readonly unknown[]): boolean {
  if (values.length < 2 || col.name === "id") return false;
  const first = values[0];
  for (let i = 1; i < values.length; i++) if (values[i] !== first) return false;
  return true;
}

function insertSelect(table: string, cols: readonly Column[], rows: readonly BufferedEvent[], firstParam: number): Statement {
  const names = cols.map((c) => quote(c.name)).join(", ");
  const values: unknown[] = [];
  const unnested: string[] = [], unnestedNames: string[] = [], select: string[] = [];
  for (const c of cols) {
    const column = rows.map(c.value);
    const param = `$${firstParam + values.length}`;
    if (isUniform(c, column)) {
      values.push(column[0] ?? null);
      select.push(c.wire.select(`${param}::${c.wire.param}`));
    } else {
      values.push(c.wire.encode(column));
      unnested.push(`${param}::${c.wire.param}[]`);
      unnestedNames.push(quote(c.name));
      select.push(c.wire.select(quote(c.name)));
    }
  }
  return {
    text: `INSERT INTO "${table}" (${names}) SELECT ${select.join(", ")} FROM unnest(${unnested.join(", ")}) AS t(${unnestedNames.join(", ")}) ON CONFLICT ("team_id", "id") DO NOTHING`,
    values,
  };
}

/**
 * One INSERT for any number of rows: one binary array parameter per column, unnest()ed server-side.
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
