import type { BufferedEvent, DialerStatusRow, RejectedRow } from "../db/bulk.ts";
import { bulkInsertKinds, dialerStatusUpdate, rejectedInsert } from "../db/bulk.ts";
import { withDb, type DbEnv } from "../db/client.ts";
import type { EventKind, LeadEvent } from "../protocol/events.ts";
import { isDataError, sqlstateOf } from "./db-errors.ts";
import { errorMessage } from "../common/log.ts";

// Leads first in the statement: the order the rows are written in when a batch mixes kinds.
const WRITE_ORDER: readonly EventKind[] = ["lead", "knock", "activity", "location"];

export interface WriteReport {
  /** Events Postgres now holds (or already held). */
  written: BufferedEvent[];
  /** Events Postgres refused for their content, now in `rejected_events`. */
  rejected: RejectedRow[];
  statements: number;
  /** Leads whose dialer state sync was attempted (held by Postgres or not). */
  synced: Set<string>;
}

function insertFor(events: readonly BufferedEvent[]) {
  const byKind = new Map<EventKind, BufferedEvent[]>();
  for (const e of events) {
    const list = byKind.get(e.event.type) ?? [];
    list.push(e);
    byKind.set(e.event.type, list);
  }
  return bulkInsertKinds(WRITE_ORDER.map((kind) => [kind, byKind.get(kind) ?? []] as const));
}

type Query = (text: string, values: unknown[]) => Promise<{ rows: { id: string }[] }>;

/**
 * Write `events` in one statement; if Postgres refuses it for its content, bisect until each refused event
 * stands alone, write the rest, and return the refused ones. Connection errors propagate (the caller backs off).
 * Every statement autocommits: a crash half way leaves committed halves that ON CONFLICT makes harmless.
 */
async function writeSplitting(query: Query, events: readonly BufferedEvent[], report: WriteReport): Promise<void> {
  const insert = insertFor(events);
  if (!insert) return;
  try {
    await query(insert.text, insert.values);
    report.statements += 1;
    report.written.push(...events);
  } catch (err) {
    report.statements += 1;
    if (!isDataError(err)) throw err;
    if (events.length === 1) {
      report.rejected.push({ buffered: events[0]!, sqlstate: sqlstateOf(err), error: errorMessage(err) });
      return;
    }
    const half = Math.ceil(events.length / 2);
    await writeSplitting(query, events.slice(0, half), report);
    await writeSplitting(query, events.slice(half), report);
  }
}

/**
 * A whole flush: every kind in one statement (data-modifying CTEs: one round trip, one implicit transaction);
 * dead letters, if any, in a second; then, only if deliveries changed since the last flush, one UPDATE of
 * the leads' dialer columns. A connection error anywhere leaves the buffer as it was for the retry.
 */
export async function writeBatch(
  env: DbEnv,
  teamId: string,
  events: readonly BufferedEvent[],
  dialer: readonly DialerStatusRow[] = [],
): Promise<WriteReport> {
  const report: WriteReport = { written: [], rejected: [], statements: 0, synced: new Set() };
  if (events.length === 0 && dialer.length === 0) return report;
  // A hung connection must not hold the flush forever: past the deadline it counts as a timeout and backs off
  // (if the write commits after all, the retry meets ON CONFLICT).
  await withDeadline(FLUSH_DEADLINE_MS, "flush", () => withDb(env, async ({ client }) => {
    const query: Query = (text, values) => client.query(text, values);
    await writeSplitting(query, events, report);
    if (report.rejected.length > 0) {
      const { text, values } = rejectedInsert(report.rejected);
      await query(text, values);
      report.statements += 1;
    }
    if (dialer.length > 0) {
      const { text, values } = dialerStatusUpdate(teamId, dialer);
      await query(text, values);
      for (const d of dialer) report.synced.add(d.leadId);
      report.statements += 1;
    }
  }));
  return report;
}

/** How long one flush's statements may take in all before the flush counts as failed. */
const FLUSH_DEADLINE_MS = 60_000;

export async function withDeadline<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms (timeout)`)), ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * A request's leads, written at once and on their own (autocommit: one round trip), within a deadline.
 * Returns the leads Postgres refused for their content (already dead-lettered); throws when Postgres did not
 * answer in time (the leads then wait in the outbox for the flush).
 */
export async function writeLeadsNow(
  env: DbEnv,
  leads: readonly BufferedEvent<LeadEvent>[],
  timeoutMs: number,
): Promise<RejectedRow[]> {
  const report: WriteReport = { written: [], rejected: [], statements: 0, synced: new Set() };
  // If the deadline wins, the write may still commit later: the outbox copy then meets ON CONFLICT.
  await withDeadline(timeoutMs, "lead write", () =>
    withDb(env, async ({ client }) => {
      const query: Query = (text, values) => client.query(text, values);
      await writeSplitting(query, leads, report);
      if (report.rejected.length > 0) {
        const dead = rejectedInsert(report.rejected);
        await query(dead.text, dead.values);
      }
    }, { connectTimeoutMs: timeoutMs }));
  return report.rejected;
}
