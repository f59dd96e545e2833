import { EVENT_KINDS, ingestEvent, type EventKind, type IngestEvent } from "../protocol/events.ts";
import type { PendingByKind } from "./flush-policy.ts";

export const BUFFER_SCHEMA = `
CREATE TABLE IF NOT EXISTS pending (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  user_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_kind_seq ON pending (kind, seq);
`;

export interface PendingRow {
  seq: number;
  userId: string;
  receivedAt: number;
  event: IngestEvent;
}

export interface Batch {
  rows: PendingRow[];
  /** Every row with seq ≤ maxSeq is in this batch (seq only grows: AUTOINCREMENT). */
  maxSeq: number;
  /** Leads past maxSeq taken ahead of their turn; every lead with seq ≤ maxLeadSeq is in the batch. */
  maxLeadSeq: number;
}

/**
 * The TeamHub's write buffer over its SQLite storage. Row counts and oldest ages per kind are kept in
 * memory (rebuilt from the table when the object starts), so ingest never scans the table.
 */
export class PendingBuffer {
  private readonly byKind = new Map<EventKind, { rows: number; oldestReceivedAt: number }>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(BUFFER_SCHEMA);
    for (const kind of EVENT_KINDS) this.refreshKind(kind);
  }

  get depth(): number {
    let total = 0;
    for (const v of this.byKind.values()) total += v.rows;
    return total;
  }

  rowsOf(kind: EventKind): number {
    return this.byKind.get(kind)?.rows ?? 0;
  }

  stats(): PendingByKind {
    const out: PendingByKind = {};
    for (const [kind, v] of this.byKind) if (v.rows > 0) out[kind] = { ...v };
    return out;
  }

  /**
   * Append a batch with one statement (DO SQLite caps bound parameters at 100: the batch travels as one
   * JSON parameter). Ids already buffered are ignored and counted as duplicates.
   */
  append(events: readonly IngestEvent[], userId: string, receivedAt: number): { accepted: Set<string>; duplicates: number } {
    if (events.length === 0) return { accepted: new Set(), duplicates: 0 };
    const inserted = this.sql
      .exec<{ id: string; kind: string }>(
        `INSERT OR IGNORE INTO pending (id, kind, user_id, at, received_at, body)
         SELECT json_extract(value, '$.id'), json_extract(value, '$.type'), ?, json_extract(value, '$.at'), ?, value
         FROM json_each(?) RETURNING id, kind`,
        userId,
        receivedAt,
        JSON.stringify(events),
      )
      .toArray();
    for (const { kind } of inserted) {
      const k = kind as EventKind;
      const current = this.byKind.get(k);
      if (!current || current.rows === 0) this.byKind.set(k, { rows: 1, oldestReceivedAt: receivedAt });
      else current.rows += 1;
    }
    return { accepted: new Set(inserted.map((r) => r.id)), duplicates: events.length - inserted.length };
  }

  /** The oldest `limit` rows by seq, plus any leads beyond them (leads jump the queue). */
  take(limit: number): Batch {
    const oldest = this.sql
      .exec<RawRow>("SELECT seq, user_id, received_at, body FROM pending ORDER BY seq LIMIT ?", limit)
      .toArray();
    const maxSeq = oldest.at(-1)?.seq ?? 0;
    const leads = this.rowsOf("lead") > 0
      ? this.sql
          .exec<RawRow>(
            "SELECT seq, user_id, received_at, body FROM pending WHERE kind = 'lead' AND seq > ? ORDER BY seq LIMIT ?",
            maxSeq,
            limit,
          )
          .toArray()
      : [];
    return {
      rows: [...leads, ...oldest].map(toPendingRow),
      maxSeq,
      maxLeadSeq: Math.max(maxSeq, leads.at(-1)?.seq ?? 0),
    };
  }

  /** Forget a batch once Postgres has committed it. */
  remove(batch: Batch): void {
    this.sql.exec("DELETE FROM pending WHERE seq <= ?", batch.maxSeq);
    if (batch.maxLeadSeq > batch.maxSeq) {
      this.sql.exec("DELETE FROM pending WHERE kind = 'lead' AND seq <= ?", batch.maxLeadSeq);
    }
    const kinds = new Set(batch.rows.map((r) => r.event.type));
    for (const kind of kinds) this.refreshKind(kind);
  }

  /** Forget buffered leads that Postgres took directly. */
  removeLeads(ids: readonly string[]): void {
    if (ids.length === 0) return;
    this.sql.exec("DELETE FROM pending WHERE kind = 'lead' AND id IN (SELECT value FROM json_each(?))", JSON.stringify(ids));
    this.refreshKind("lead");
  }

  private refreshKind(kind: EventKind): void {
    const row = this.sql
      .exec<{ n: number; oldest: number | null }>(
        `SELECT COUNT(*) AS n,
                (SELECT received_at FROM pending WHERE kind = ?1 ORDER BY seq LIMIT 1) AS oldest
         FROM pending WHERE kind = ?1`,
        kind,
      )
      .one();
    if (row.n === 0 || row.oldest === null) this.byKind.delete(kind);
    else this.byKind.set(kind, { rows: row.n, oldestReceivedAt: row.oldest });
  }
}

type RawRow = { seq: number; user_id: string; received_at: number; body: string };

function toPendingRow(r: RawRow): PendingRow {
  // The body was validated on the way in; parsing it again guards against a schema change between deploys.
  const event = ingestEvent.parse(JSON.parse(r.body));
  return { seq: r.seq, userId: r.user_id, receivedAt: r.received_at, event };
}
