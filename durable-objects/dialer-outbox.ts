import type { BufferedEvent, LeadDialerState } from "../db/bulk.ts";
import type { LeadEvent } from "../protocol/events.ts";
import type { LeadDialer } from "../protocol/live.ts";
import type { LeadWebhook } from "../protocol/webhook.ts";
import { parseStoredEvent } from "./buffer.ts";
import { nextAttemptAt } from "./dialer-policy.ts";
import type { MeteredSql } from "./storage.ts";
import type { DeliveryResult } from "./webhook.ts";

/**
 * pending: to deliver (attempts > 0 means retrying) · delivered · stopped (the dialer answered 410) ·
 * dead (24 h of failures) · rejected (Postgres refused the lead: never sent).
 */
export type OutboxStatus = "pending" | "delivered" | "stopped" | "dead" | "rejected";

/** `stored`: 0 = Postgres has not taken the lead yet, 1 = stored, 2 = refused (dead-lettered). */
const WAITING = 0;
const STORED = 1;
const REFUSED = 2;

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

const publicStatus = (status: string, attempts: number) => (status === "pending" && attempts > 0 ? "retrying" : status);

/** Delivery errors as a person reads them: an HTTP status or a short class, never a stack or a URL. */
export function deliveryErrorClass(error: string | undefined | null): string | undefined {
  if (!error) return undefined;
  if (/^HTTP \d{3}$/.test(error)) return error;
  if (/timeout|timed out|abort/i.test(error)) return "timeout";
  // standardwebhooks cannot read the secret: nothing was sent, the dialer is not at fault.
  if (/base64|secret/i.test(error)) return "bad DIALER_WEBHOOK_SECRET";
  return "unreachable";
}

type OutboxRow = {
  lead_id: string; user_id: string; event: string | null; body: string; status: string; attempts: number;
  first_attempt_at: number | null; next_at: number; last_error: string | null; created_at: number;
  delivered_at: number | null; stored: number; synced: number; changed_at: number;
};

/**
 * The dialer outbox over the TeamHub's SQLite: one row per accepted lead, written with the lead. It is
 * also where a lead waits when Postgres did not take it at once: the flush writes those first.
 * Low volume (leads, not fixes) and small (pruned after a week): its queries scan it, so it needs no index.
 */
export class DialerOutbox {
  /** Bumped by every write: the due times below are read from SQLite once per change, not once per request. */
  private version = 0;
  private readonly cache = new Map<string, { version: number; value: number | null }>();

  constructor(private readonly sql: MeteredSql) {}

  private cached(key: string, read: () => number | null): number | null {
    const hit = this.cache.get(key);
    if (hit && hit.version === this.version) return hit.value;
    const value = read();
    this.cache.set(key, { version: this.version, value });
    return value;
  }

  private run(query: string, ...bindings: unknown[]): number {
    this.version += 1;
    return this.sql.run(query, ...bindings);
  }

  /**
   * Add leads not seen before; returns the ids that are new. One statement (100-parameter cap). Their first
   * delivery is held until `holdUntil`: the request writes them to Postgres first, and one Postgres refuses
   * must never reach the dialer (`release` or `markRefused` settles it sooner).
   */
  add(leads: readonly LeadEvent[], teamId: string, userId: string, receivedAt: number, holdUntil = receivedAt): Set<string> {
    if (leads.length === 0) return new Set();
    const rows = leads.map((l) => ({ id: l.id, event: JSON.stringify(l), body: JSON.stringify(webhookBody(l, teamId, userId, receivedAt)) }));
    this.version += 1;
    const inserted = this.sql.all<{ lead_id: string }>(
      `INSERT OR IGNORE INTO outbox (lead_id, user_id, event, body, next_at, created_at, changed_at)
       SELECT json_extract(value, '$.id'), ?1, json_extract(value, '$.event'), json_extract(value, '$.body'), ?4, ?2, ?2 FROM json_each(?3)
       RETURNING lead_id`,
      userId, receivedAt, JSON.stringify(rows), holdUntil,
    );
    return new Set(inserted.map((r) => r.lead_id));
  }

  /** Deliver these leads now (their hold is over: Postgres took them, or could not be asked in time). */
  release(ids: readonly string[], now: number): void {
    if (ids.length === 0) return;
    this.run(
      "UPDATE outbox SET next_at = ? WHERE status = 'pending' AND attempts = 0 AND next_at > ? AND lead_id IN (SELECT value FROM json_each(?))",
      now, now, JSON.stringify(ids),
    );
  }

  bodyOf(leadId: string): string | null {
    return this.sql.one<{ body: string }>("SELECT body FROM outbox WHERE lead_id = ?", leadId)?.body ?? null;
  }

  /** Where these leads stand with Postgres: stored, queued (waiting in the outbox) or rejected. */
  storageStatus(ids: readonly string[]): Map<string, "stored" | "queued" | "rejected"> {
    if (ids.length === 0) return new Map();
    const rows = this.sql.all<{ lead_id: string; stored: number }>(
      "SELECT lead_id, stored FROM outbox WHERE lead_id IN (SELECT value FROM json_each(?))", JSON.stringify(ids),
    );
    return new Map(rows.map((r) => [r.lead_id, r.stored === STORED ? "stored" : r.stored === REFUSED ? "rejected" : "queued"]));
  }

  /** Leads Postgres has not taken yet, oldest first, as the flush writes them (with their dialer state). */
  unstored(teamId: string, limit: number): BufferedEvent<LeadEvent>[] {
    return this.sql
      .all<OutboxRow>(`SELECT * FROM outbox WHERE stored = ${WAITING} AND event IS NOT NULL ORDER BY created_at LIMIT ?`, limit)
      .map((r) => ({
        teamId,
        userId: r.user_id,
        receivedAt: r.created_at,
        event: parseStoredEvent(JSON.parse(r.event!)) as LeadEvent,
        dialer: this.dialerState(r),
      }));
  }

  get unstoredCount(): number {
    return this.cached("unstoredCount", () => this.sql.one<{ n: number }>(`SELECT count(*) AS n FROM outbox WHERE stored = ${WAITING} AND event IS NOT NULL`)!.n) ?? 0;
  }

  oldestUnstoredAt(): number | null {
    return this.cached("oldestUnstored", () => this.sql.one<{ t: number | null }>(`SELECT min(created_at) AS t FROM outbox WHERE stored = ${WAITING} AND event IS NOT NULL`)!.t);
  }

  /**
   * Postgres holds these leads now. Their delivery state stays unsynced if it changed: the INSERT that carried it
   * may have met a row an earlier, timed-out write committed (ON CONFLICT DO NOTHING), so the sync UPDATE follows.
   */
  markStored(written: readonly BufferedEvent[]): void {
    if (written.length === 0) return;
    this.run(`UPDATE outbox SET stored = ${STORED} WHERE lead_id IN (SELECT value FROM json_each(?))`, JSON.stringify(written.map((w) => w.event.id)));
  }

  /** Postgres took these leads directly (inside the request): stored, and released for delivery. */
  markStoredNow(ids: readonly string[], now: number): void {
    if (ids.length === 0) return;
    this.run(
      `UPDATE outbox SET stored = ${STORED}, next_at = CASE WHEN status = 'pending' AND attempts = 0 THEN min(next_at, ?) ELSE next_at END
       WHERE lead_id IN (SELECT value FROM json_each(?))`,
      now, JSON.stringify(ids),
    );
  }

  /** Postgres refused these leads for their content: never delivered, never retried. */
  markRefused(ids: readonly string[], now: number): void {
    if (ids.length === 0) return;
    this.run(
      `UPDATE outbox SET stored = ${REFUSED}, status = 'rejected', synced = 1, changed_at = ?, last_error = 'rejected by database'
       WHERE lead_id IN (SELECT value FROM json_each(?))`,
      now, JSON.stringify(ids),
    );
  }

  due(now: number, limit: number): DueDelivery[] {
    return this.sql
      .all<{ lead_id: string; body: string; attempts: number; first_attempt_at: number | null }>(
        "SELECT lead_id, body, attempts, first_attempt_at FROM outbox WHERE status = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?",
        now, limit,
      )
      .map((r) => ({ leadId: r.lead_id, body: r.body, attempts: r.attempts, firstAttemptAt: r.first_attempt_at }));
  }

  nextDueAt(): number | null {
    return this.cached("nextDue", () => this.sql.one<{ t: number | null }>("SELECT MIN(next_at) AS t FROM outbox WHERE status = 'pending'")!.t);
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
    // A lead Postgres refused meanwhile stays refused (the WHERE keeps its row as it is).
    this.run(
      `UPDATE outbox SET status = ?, attempts = ?, first_attempt_at = ?, next_at = ?, last_error = ?,
              delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, synced = 0, changed_at = ?
       WHERE lead_id = ? AND status = 'pending'`,
      status, attempts, first, nextAt, result.error ?? null, status, now, now, d.leadId,
    );
    return status;
  }

  /** Put a lead back in line for delivery (an operator's redeliver): a fresh 24 h window. */
  redeliver(leadId: string, now: number): boolean {
    return (
      this.run(
        `UPDATE outbox SET status = 'pending', attempts = 0, first_attempt_at = NULL, next_at = ?, last_error = NULL,
                synced = 0, changed_at = ? WHERE lead_id = ? AND stored != ${REFUSED}`,
        now, now, leadId,
      ) > 0
    );
  }

  /** Delivery states Postgres has not seen, for leads Postgres holds. */
  unsynced(limit: number): DialerSync[] {
    return this.sql
      .all<OutboxRow>(`SELECT * FROM outbox WHERE synced = 0 AND stored = ${STORED} ORDER BY changed_at LIMIT ?`, limit)
      .map((r) => ({ leadId: r.lead_id, ...this.dialerState(r), changedAt: r.changed_at }));
  }

  oldestUnsyncedChange(): number | null {
    return this.cached("oldestUnsynced", () => this.sql.one<{ t: number | null }>(`SELECT MIN(changed_at) AS t FROM outbox WHERE synced = 0 AND stored = ${STORED}`)!.t);
  }

  /**
   * Mark synced the rows unchanged since they were read (a delivery may have landed meanwhile) — whether or
   * not Postgres had the lead: a lead missing there (a restored database) must not be retried forever.
   */
  markSynced(rows: readonly DialerSync[]): void {
    if (rows.length === 0) return;
    this.run(
      `UPDATE outbox SET synced = 1 FROM (
         SELECT json_extract(value, '$.leadId') AS id, json_extract(value, '$.changedAt') AS changed FROM json_each(?)
       ) AS seen WHERE outbox.lead_id = seen.id AND outbox.changed_at = seen.changed`,
      JSON.stringify(rows),
    );
  }

  prune(now: number): void {
    this.run(
      "DELETE FROM outbox WHERE status IN ('delivered', 'stopped', 'rejected') AND synced = 1 AND stored != 0 AND changed_at < ?",
      now - KEEP_DONE_MS,
    );
  }

  /** Every lead's delivery state for the live map (the outbox is small: a week of leads). */
  dialerStates(configured: boolean): Map<string, LeadDialer> {
    const out = new Map<string, LeadDialer>();
    for (const r of this.sql.all<OutboxRow>("SELECT lead_id, status, attempts, last_error, delivered_at FROM outbox")) {
      out.set(r.lead_id, this.liveDialer(r, configured));
    }
    return out;
  }

  dialerOf(leadId: string, configured: boolean): LeadDialer | null {
    const r = this.sql.one<OutboxRow>("SELECT lead_id, status, attempts, last_error, delivered_at FROM outbox WHERE lead_id = ?", leadId);
    return r ? this.liveDialer(r, configured) : null;
  }

  figures(now: number): OutboxFigures {
    const counts = this.sql.all<{ status: string; retrying: number; n: number; oldest: number | null }>(
      "SELECT status, SUM(attempts > 0) AS retrying, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox GROUP BY status",
    );
    const f: OutboxFigures = { pending: 0, retrying: 0, delivered: 0, stopped: 0, dead: 0, oldestPendingAgeMs: null, lastError: null };
    for (const c of counts) {
      if (c.status === "pending") {
        f.pending = c.n;
        f.retrying = c.retrying;
        f.oldestPendingAgeMs = c.oldest === null ? null : now - c.oldest;
      } else if (c.status === "delivered" || c.status === "stopped" || c.status === "dead") f[c.status] = c.n;
    }
    const last = this.sql.one<{ e: string | null }>(
      "SELECT last_error AS e FROM outbox WHERE last_error IS NOT NULL AND status != 'rejected' ORDER BY changed_at DESC LIMIT 1",
    )?.e;
    f.lastError = deliveryErrorClass(last) ?? null;
    return f;
  }

  private dialerState(r: OutboxRow): LeadDialerState {
    return { status: publicStatus(r.status, r.attempts), attempts: r.attempts, deliveredAt: r.delivered_at };
  }

  private liveDialer(r: Pick<OutboxRow, "status" | "attempts" | "last_error" | "delivered_at">, configured: boolean): LeadDialer {
    const status = r.status === "rejected" ? "dead" : !configured && r.status === "pending" ? "off" : publicStatus(r.status, r.attempts);
    const lastError = r.status === "rejected" ? "rejected by database" : deliveryErrorClass(r.last_error);
    return {
      status: status as LeadDialer["status"],
      attempts: r.attempts,
      ...(lastError ? { lastError } : {}),
      ...(r.delivered_at !== null ? { deliveredAt: r.delivered_at } : {}),
    };
  }
}
