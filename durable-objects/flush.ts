import type { BufferedEvent } from "../db/bulk.ts";
import { bulkInsert } from "../db/bulk.ts";
import { inTransaction, withDb, type DbEnv } from "../db/client.ts";
import type { EventKind } from "../protocol/events.ts";
import type { PendingRow } from "./buffer.ts";

// Leads first: if the transaction is cut short mid-way, the rows that matter most are already sent.
const WRITE_ORDER: readonly EventKind[] = ["lead", "knock", "activity", "location"];

export interface WriteReport {
  rows: number;
  statements: number;
}

/** One Postgres transaction for a whole batch: one multi-row INSERT per kind present. */
export async function writeBatch(env: DbEnv, teamId: string, rows: readonly PendingRow[]): Promise<WriteReport> {
  const byKind = new Map<EventKind, BufferedEvent[]>();
  for (const r of rows) {
    const list = byKind.get(r.event.type) ?? [];
    list.push({ teamId, userId: r.userId, receivedAt: r.receivedAt, event: r.event });
    byKind.set(r.event.type, list);
  }
  let statements = 0;
  await withDb(env, ({ client }) =>
    inTransaction(client, async () => {
      for (const kind of WRITE_ORDER) {
        const group = byKind.get(kind);
        if (!group) continue;
        const { text, values } = bulkInsert(kind, group);
        await client.query(text, values);
        statements += 1;
      }
    }),
  );
  return { rows: rows.length, statements };
}
