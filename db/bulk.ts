import type { EventKind, IngestEvent } from "../protocol/events.ts";

/** A buffered event as the TeamHub hands it to a flush. */
export interface BufferedEvent {
  teamId: string;
  userId: string;
  receivedAt: number;
  event: IngestEvent;
}

type PgType = "uuid" | "text" | "timestamptz" | "float8" | "float4" | "jsonb";
type Column = readonly [name: string, type: PgType, value: (b: BufferedEvent) => unknown];

const iso = (ms: number) => new Date(ms).toISOString();
const field = (name: string) => (b: BufferedEvent) => (b.event as Record<string, unknown>)[name] ?? null;

const common: Column[] = [
  ["id", "uuid", (b) => b.event.id],
  ["team_id", "text", (b) => b.teamId],
  ["user_id", "text", (b) => b.userId],
  ["at", "timestamptz", (b) => iso(b.event.at)],
  ["received_at", "timestamptz", (b) => iso(b.receivedAt)],
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

/**
 * One INSERT for any number of rows: one array parameter per column, unnest()ed server-side.
 * No 65,535-parameter ceiling and about half the parse cost of a VALUES list; ON CONFLICT makes
 * re-sent rows (a retry after a crash between COMMIT and the buffer DELETE) a no-op.
 */
export function bulkInsert(kind: EventKind, rows: readonly BufferedEvent[]): Statement {
  const cols = COLUMNS[kind];
  const names = cols.map(([name]) => `"${name}"`).join(", ");
  // jsonb[] cannot be unnested from text directly in every server; go through text[] and cast each value.
  const params = cols.map(([, type], i) => (type === "jsonb" ? `$${i + 1}::text[]` : `$${i + 1}::${type}[]`)).join(", ");
  const select = cols.map(([name, type]) => (type === "jsonb" ? `"${name}"::jsonb` : `"${name}"`)).join(", ");
  const text =
    `INSERT INTO "${TABLE[kind]}" (${names}) ` +
    `SELECT ${select} FROM unnest(${params}) AS t(${names}) ` +
    `ON CONFLICT ("id") DO NOTHING`;
  const values = cols.map(([, , value]) => rows.map(value));
  return { text, values };
}
