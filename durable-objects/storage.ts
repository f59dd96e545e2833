/**
 * The TeamHub's SQLite: a versioned schema with ordered migrations, and a meter of every row the object
 * writes (Cloudflare bills SQLite-backed objects per row written — index rows included — and per setAlarm()).
 */

import { parseStoredEvents } from "./buffer.ts";
import type { IngestEvent } from "../protocol/events.ts";

/** When a migrated batch is due, from its events and receive time (the flush policy's rule). */
type DueAtOf = (events: readonly IngestEvent[], receivedAt: number) => number;

/** Every statement goes through here, so the object's bill is counted where it is made. */
export class MeteredSql {
  rowsWritten = 0;
  rowsRead = 0;

  constructor(private readonly sql: SqlStorage) {}

  /** Run a statement to completion and return its rows (a cursor counts rows only once consumed). */
  all<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T[] {
    const cursor = this.sql.exec<T>(query, ...bindings);
    const rows = cursor.toArray();
    this.rowsWritten += cursor.rowsWritten;
    this.rowsRead += cursor.rowsRead;
    return rows;
  }

  one<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T | undefined {
    return this.all<T>(query, ...bindings)[0];
  }

  /** Run a statement; returns the rows it wrote. */
  run(query: string, ...bindings: unknown[]): number {
    const cursor = this.sql.exec(query, ...bindings);
    cursor.toArray();
    this.rowsWritten += cursor.rowsWritten;
    this.rowsRead += cursor.rowsRead;
    return cursor.rowsWritten;
  }
}

/**
 * The current layout (version 2). Each table earns its writes: `batches` is one row per accepted request
 * (rowid only, no secondary index); `outbox` one row per lead; `meta` a handful of rows written with a flush.
 * WITHOUT ROWID: a text primary key then costs one row per write instead of the row plus its index row.
 */
const SCHEMA_V2 = [
  `CREATE TABLE IF NOT EXISTS batches (
     seq INTEGER PRIMARY KEY,
     user_id TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     due_at INTEGER NOT NULL,
     events INTEGER NOT NULL,
     body TEXT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS outbox (
     lead_id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     event TEXT,
     body TEXT NOT NULL,
     status TEXT NOT NULL DEFAULT 'pending',
     attempts INTEGER NOT NULL DEFAULT 0,
     first_attempt_at INTEGER,
     next_at INTEGER NOT NULL,
     last_error TEXT,
     created_at INTEGER NOT NULL,
     delivered_at INTEGER,
     stored INTEGER NOT NULL DEFAULT 0,
     synced INTEGER NOT NULL DEFAULT 1,
     changed_at INTEGER NOT NULL
   ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
];

export const SCHEMA_VERSION = 2;

function tableExists(sql: MeteredSql, name: string): boolean {
  return sql.one<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?", name)!.n > 0;
}

function storedVersion(sql: MeteredSql): number {
  if (!tableExists(sql, "meta")) return tableExists(sql, "pending") || tableExists(sql, "outbox") ? 1 : 0;
  const row = sql.one<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
  return row ? Number(row.value) : 0;
}

/**
 * Version 1 (the first round) kept one row per event in `pending` (plus two indexes), the live picture in
 * `latest`/`recent`/`marks`, counters in `state`. Its buffered events become batch rows — one per
 * (user, receive time), as they were accepted — and its outbox gains the lead event itself.
 */
function migrateV1(sql: MeteredSql, dueAtOf: DueAtOf): void {
  if (tableExists(sql, "pending")) {
    const groups = sql.all<{ user_id: string; received_at: number; body: string; n: number }>(
      `SELECT user_id, received_at, json_group_array(json(body)) AS body, count(*) AS n FROM pending
       WHERE kind != 'lead' GROUP BY user_id, received_at ORDER BY min(seq)`,
    );
    for (const g of groups) {
      const events = parseStoredEvents(g.body);
      sql.run(
        "INSERT INTO batches (user_id, received_at, due_at, events, body) VALUES (?, ?, ?, ?, ?)",
        g.user_id, g.received_at, dueAtOf(events, g.received_at), g.n, g.body,
      );
    }
  }
  if (tableExists(sql, "outbox_v1")) sql.run("DROP TABLE outbox_v1");
  if (tableExists(sql, "outbox")) {
    let hasEventColumn = true;
    try {
      sql.all("SELECT event FROM outbox LIMIT 0");
    } catch {
      hasEventColumn = false;
    }
    if (!hasEventColumn) {
      sql.run("ALTER TABLE outbox RENAME TO outbox_v1");
      sql.run("DROP INDEX IF EXISTS outbox_due");
      sql.run("DROP INDEX IF EXISTS outbox_unsynced");
      sql.run(SCHEMA_V2[1]!);
      const pendingLeads = tableExists(sql, "pending");
      sql.run(
        `INSERT INTO outbox (lead_id, user_id, event, body, status, attempts, first_attempt_at, next_at, last_error, created_at, delivered_at, stored, synced, changed_at)
         SELECT o.lead_id, coalesce(json_extract(o.body, '$.data.userId'), ''), ${pendingLeads ? "(SELECT p.body FROM pending p WHERE p.id = o.lead_id)" : "NULL"},
                o.body, o.status, o.attempts, o.first_attempt_at, o.next_at, o.last_error, o.created_at, o.delivered_at, o.stored, o.synced, o.changed_at
         FROM outbox_v1 o`,
      );
      sql.run("DROP TABLE outbox_v1");
    }
  }
  if (tableExists(sql, "state")) {
    const counters = sql.one<{ value: string }>("SELECT value FROM state WHERE key = 'counters'");
    if (counters) sql.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('counters', ?)", counters.value);
  }
  for (const old of ["pending", "latest", "recent", "marks", "state"]) sql.run(`DROP TABLE IF EXISTS ${old}`);
}

/**
 * Bring the object's storage to SCHEMA_VERSION, in one transaction with whatever the caller does
 * (the constructor, inside blockConcurrencyWhile). Returns the version it found.
 */
export function migrateStorage(sql: MeteredSql, dueAtOf: DueAtOf): number {
  const found = storedVersion(sql);
  if (found === SCHEMA_VERSION) return found;
  // The outbox of version 1 has the same name: it is converted by migrateV1, not created here.
  sql.run(SCHEMA_V2[0]!);
  sql.run(SCHEMA_V2[2]!);
  if (found === 1) migrateV1(sql, dueAtOf);
  sql.run(SCHEMA_V2[1]!);
  sql.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", String(SCHEMA_VERSION));
  return found;
}

/** Small JSON values in `meta`, each written only when it changed. */
export class MetaStore {
  private readonly written = new Map<string, string>();

  constructor(private readonly sql: MeteredSql) {
    for (const r of sql.all<{ key: string; value: string }>("SELECT key, value FROM meta")) this.written.set(r.key, r.value);
  }

  read(key: string): unknown {
    const raw = this.written.get(key);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw);
    } catch {
      return undefined;
    }
  }

  write(key: string, value: unknown): void {
    const raw = JSON.stringify(value);
    if (this.written.get(key) === raw) return;
    this.sql.run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, raw);
    this.written.set(key, raw);
  }
}
