import type { LeadEvent } from "../protocol/events.ts";
import type { LeadWebhook } from "../protocol/webhook.ts";
import { nextAttemptAt } from "./dialer-policy.ts";
import type { DeliveryResult } from "./webhook.ts";

export const OUTBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  lead_id TEXT PRIMARY KEY,
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
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_at);
CREATE INDEX IF NOT EXISTS outbox_unsynced ON outbox (synced, changed_at);
`;

/** pending: to deliver (attempts > 0 means retrying) · delivered · stopped (the dialer answered 410) · dead (24 h of failures). */
export type OutboxStatus = "pending" | "delivered" | "stopped" | "dead";

export interface DueDelivery {
  leadId: string;
  body: string;
  attempts: number;
  firstAttemptAt: number | null;
}

/** A change of delivery state that Postgres' leads.dialer_* columns have not seen yet. */
export interface DialerSync {
  leadId: string;
  status: string;
  attempts: number;
  deliveredAt: number | null;
  changedAt: number;
}

export interface OutboxFigures {
  pending: number;
  retrying: number;
  delivered: number;
  stopped: number;
  dead: number;
  oldestPendingAgeMs: number | null;
  lastError: string | null;
}

/** Delivered and stopped rows are kept this long so a resent lead is not delivered again. */
const KEEP_DONE_MS = 7 * 24 * 3_600_000;

export function webhookBody(lead: LeadEvent, teamId: string, userId: string, receivedAt: number): LeadWebhook {
  const { type: _type, at, ...fields } = lead;
  return {
    type: "lead.created",
    timestamp: new Date(receivedAt).toISOString(),
    data: { ...fields, teamId, userId, at: new Date(at).toISOString(), receivedAt: new Date(receivedAt).toISOString() },
  };
}

/** The dialer outbox over the TeamHub's SQLite: one row per accepted lead, written with the lead. */
export class DialerOutbox {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(OUTBOX_SCHEMA);
  }

  /** Add leads not seen before; returns the ids that are new. One statement (100-parameter cap). */
  add(leads: readonly LeadEvent[], teamId: string, userId: string, receivedAt: number): Set<string> {
    if (leads.length === 0) return new Set();
    const rows = leads.map((l) => ({ id: l.id, body: JSON.stringify(webhookBody(l, teamId, userId, receivedAt)) }));
    const inserted = this.sql
      .exec<{ lead_id: string }>(
        `INSERT OR IGNORE INTO outbox (lead_id, body, next_at, created_at, changed_at)
         SELECT json_extract(value, '$.id'), json_extract(value, '$.body'), ?1, ?1, ?1 FROM json_each(?2)
         RETURNING lead_id`,
        receivedAt,
        JSON.stringify(rows),
      )
      .toArray();
    return new Set(inserted.map((r) => r.lead_id));
  }

  bodyOf(leadId: string): string {
    return this.sql.exec<{ body: string }>("SELECT body FROM outbox WHERE lead_id = ?", leadId).one().body;
  }

  /** Which of these leads Postgres already holds. */
  storedAmong(ids: readonly string[]): Set<string> {
    if (ids.length === 0) return new Set();
    const rows = this.sql
      .exec<{ lead_id: string }>("SELECT lead_id FROM outbox WHERE stored = 1 AND lead_id IN (SELECT value FROM json_each(?))", JSON.stringify(ids))
      .toArray();
    return new Set(rows.map((r) => r.lead_id));
  }

  markStored(ids: readonly string[]): void {
    if (ids.length === 0) return;
    this.sql.exec("UPDATE outbox SET stored = 1 WHERE lead_id IN (SELECT value FROM json_each(?))", JSON.stringify(ids));
  }

  due(now: number, limit: number): DueDelivery[] {
    return this.sql
      .exec<{ lead_id: string; body: string; attempts: number; first_attempt_at: number | null }>(
        "SELECT lead_id, body, attempts, first_attempt_at FROM outbox WHERE status = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?",
        now,
        limit,
      )
      .toArray()
      .map((r) => ({ leadId: r.lead_id, body: r.body, attempts: r.attempts, firstAttemptAt: r.first_attempt_at }));
  }

  nextDueAt(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT MIN(next_at) AS t FROM outbox WHERE status = 'pending'").one().t;
  }

  /** Record one attempt's outcome; returns the new status. */
  record(d: DueDelivery, result: DeliveryResult, now: number): OutboxStatus {
    const attempts = d.attempts + 1;
    const first = d.firstAttemptAt ?? now;
    let status: OutboxStatus;
    let nextAt = now;
    if (result.verdict === "delivered") status = "delivered";
    else if (result.verdict === "stop") status = "stopped";
    else {
      const next = nextAttemptAt(attempts, first, now);
      status = next === "dead" ? "dead" : "pending";
      if (next !== "dead") nextAt = next;
    }
    this.sql.exec(
      `UPDATE outbox SET status = ?, attempts = ?, first_attempt_at = ?, next_at = ?, last_error = ?,
              delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, synced = 0, changed_at = ?
       WHERE lead_id = ?`,
      status, attempts, first, nextAt, result.error ?? null, status, now, now, d.leadId,
    );
    return status;
  }

  /** Put a lead back in line for delivery (an operator's redeliver): a fresh 24 h window. */
  redeliver(leadId: string, now: number): boolean {
    const cursor = this.sql.exec(
      `UPDATE outbox SET status = 'pending', attempts = 0, first_attempt_at = NULL, next_at = ?, last_error = NULL,
              synced = 0, changed_at = ? WHERE lead_id = ?`,
      now, now, leadId,
    );
    return cursor.rowsWritten > 0;
  }

  /** Delivery states Postgres has not seen, for leads Postgres holds (or will, in the same transaction). */
  unsynced(limit: number, alsoLeads: readonly string[] = []): DialerSync[] {
    return this.sql
      .exec<{ lead_id: string; status: string; attempts: number; delivered_at: number | null; changed_at: number }>(
        `SELECT lead_id, status, attempts, delivered_at, changed_at FROM outbox
         WHERE synced = 0 AND (stored = 1 OR lead_id IN (SELECT value FROM json_each(?)))
         ORDER BY changed_at LIMIT ?`,
        JSON.stringify(alsoLeads),
        limit,
      )
      .toArray()
      .map((r) => ({
        leadId: r.lead_id,
        status: r.status === "pending" && r.attempts > 0 ? "retrying" : r.status,
        attempts: r.attempts,
        deliveredAt: r.delivered_at,
        changedAt: r.changed_at,
      }));
  }

  oldestUnsyncedChange(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT MIN(changed_at) AS t FROM outbox WHERE synced = 0 AND stored = 1").one().t;
  }

  /** Mark synced only rows unchanged since they were read (a delivery may have landed meanwhile). */
  markSynced(rows: readonly DialerSync[]): void {
    if (rows.length === 0) return;
    this.sql.exec(
      `UPDATE outbox SET synced = 1 FROM (
         SELECT json_extract(value, '$.leadId') AS id, json_extract(value, '$.changedAt') AS changed FROM json_each(?)
       ) AS seen WHERE outbox.lead_id = seen.id AND outbox.changed_at = seen.changed`,
      JSON.stringify(rows),
    );
  }

  prune(now: number): void {
    this.sql.exec("DELETE FROM outbox WHERE status IN ('delivered', 'stopped') AND synced = 1 AND delivered_at < ?", now - KEEP_DONE_MS);
  }

  figures(now: number): OutboxFigures {
    const counts = this.sql
      .exec<{ status: string; retrying: number; n: number; oldest: number | null }>(
        "SELECT status, SUM(attempts > 0) AS retrying, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox GROUP BY status",
      )
      .toArray();
    const f: OutboxFigures = { pending: 0, retrying: 0, delivered: 0, stopped: 0, dead: 0, oldestPendingAgeMs: null, lastError: null };
    for (const c of counts) {
      if (c.status === "pending") {
        f.pending = c.n;
        f.retrying = c.retrying;
        f.oldestPendingAgeMs = c.oldest === null ? null : now - c.oldest;
      } else if (c.status === "delivered" || c.status === "stopped" || c.status === "dead") f[c.status] = c.n;
    }
    f.lastError =
      this.sql.exec<{ e: string | null }>("SELECT last_error AS e FROM outbox WHERE last_error IS NOT NULL ORDER BY changed_at DESC LIMIT 1").toArray()[0]?.e ?? null;
    return f;
  }
}
