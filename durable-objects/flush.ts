import type { BufferedEvent, DialerStatusRow } from "../db/bulk.ts";
import { bulkInsert, bulkInsertKinds, dialerStatusUpdate } from "../db/bulk.ts";
import { withDb, type DbEnv } from "../db/client.ts";
import type { EventKind, LeadEvent } from "../protocol/events.ts";
import type { PendingRow } from "./buffer.ts";

// Leads first in the statement: the order the rows are written in when a batch mixes kinds.
const WRITE_ORDER: readonly EventKind[] = ["lead", "knock", "activity", "location"];

export interface WriteReport {
  rows: number;
  statements: number;
  /** Leads whose dialer state Postgres now holds. */
  synced: Set<string>;
}

/**
 * A whole batch in one statement — one multi-row INSERT per kind present, joined as CTEs, so one round
 * trip and one implicit transaction. Then, only if deliveries changed since the last flush, one UPDATE
 * of the leads' dialer columns (its own statement: it must see leads the first one inserted).
 * Either failing leaves the buffer as it was; the retry meets ON CONFLICT and the same UPDATE.
 */
export async function writeBatch(
  env: DbEnv,
  teamId: string,
  rows: readonly PendingRow[],
  dialer: readonly DialerStatusRow[] = [],
): Promise<WriteReport> {
  const byKind = new Map<EventKind, BufferedEvent[]>();
  for (const r of rows) {
    const list = byKind.get(r.event.type) ?? [];
    list.push({ teamId, userId: r.userId, receivedAt: r.receivedAt, event: r.event });
    byKind.set(r.event.type, list);
  }
  const insert = bulkInsertKinds(WRITE_ORDER.map((kind) => [kind, byKind.get(kind) ?? []] as const));
  const report: WriteReport = { rows: rows.length, statements: 0, synced: new Set() };
  if (!insert && dialer.length === 0) return report;
  await withDb(env, async ({ client }) => {
    if (insert) {
      await client.query(insert.text, insert.values);
      report.statements += 1;
    }
    if (dialer.length > 0) {
      const { text, values } = dialerStatusUpdate(dialer);
      const result = await client.query<{ id: string }>(text, values);
      for (const r of result.rows) report.synced.add(r.id);
      report.statements += 1;
    }
  });
  return report;
}

/** A batch's leads, written at once and on their own (autocommit: one round trip), within a deadline. */
export async function writeLeadsNow(
  env: DbEnv,
  teamId: string,
  userId: string,
  receivedAt: number,
  leads: readonly LeadEvent[],
  timeoutMs: number,
): Promise<void> {
  const { text, values } = bulkInsert("lead", leads.map((event) => ({ teamId, userId, receivedAt, event })));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`lead write took over ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    // If the deadline wins, the write may still commit later: the buffered copy then meets ON CONFLICT.
    await Promise.race([withDb(env, ({ client }) => client.query(text, values), { connectTimeoutMs: timeoutMs }), deadline]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
