import { EVENT_KINDS, type EventKind } from "../../protocol/events.ts";
import type { LeadStatus } from "../../protocol/events.ts";
import { HIGH, META, type DayRecord, type FieldDb, type OutboxRecord, type RecentRecord } from "./db.ts";
import { dayRecordOf } from "./day.ts";
import { composeBatch, type BatchLimits, type OutboxSummary, type SendOutcome } from "./send-policy.ts";

/**
 * The outbox in IndexedDB: every event is written here before anything else happens, and leaves only when
 * the server has it (or says it can never take it).
 */
const encoder = new TextEncoder();

export interface NewEvent {
  id: string;
  type: EventKind;
}

/** Store an event (and its lines in the recent list and the day) in one transaction. */
export async function enqueue(db: FieldDb, owner: string, event: NewEvent, recent?: Omit<RecentRecord, "id" | "owner" | "createdAt" | "status" | "kind">, now = Date.now()): Promise<OutboxRecord> {
  const record: OutboxRecord = {
    id: event.id,
    owner,
    kind: event.type,
    createdAt: now,
    bytes: encoder.encode(JSON.stringify(event)).byteLength,
    event,
  };
  const day = dayRecordOf(event, owner);
  const tx = db.transaction(["outbox", "recent", "day"], "readwrite");
  await tx.objectStore("outbox").put(record);
  if (recent && (event.type === "knock" || event.type === "lead")) {
    await tx.objectStore("recent").put({ ...recent, id: event.id, owner, kind: event.type, createdAt: now, status: "waiting" });
  }
  if (day) await tx.objectStore("day").put(day);
  await tx.done;
  return record;
}

const kindRange = (owner: string, kind: EventKind) => IDBKeyRange.bound([owner, kind, ""], [owner, kind, HIGH]);
const ownerRange = (owner: string) => IDBKeyRange.bound([owner, ""], [owner, HIGH]);

/** Count and oldest creation time per kind: what the send policy decides on. */
export async function summarize(db: FieldDb, owner: string): Promise<OutboxSummary> {
  const tx = db.transaction("outbox");
  const index = tx.store.index("byOwnerKind");
  const summary: OutboxSummary = {};
  for (const kind of EVENT_KINDS) {
    const count = await index.count(kindRange(owner, kind));
    if (count === 0) continue;
    const first = await index.openCursor(kindRange(owner, kind));
    summary[kind] = { count, oldestCreatedAt: first?.value.createdAt ?? Date.now() };
  }
  await tx.done;
  return summary;
}

/** The next batch: leads first, then the rest in creation order, within the limits. */
export async function takeBatch(db: FieldDb, owner: string, limits: BatchLimits): Promise<OutboxRecord[]> {
  const tx = db.transaction("outbox");
  const leads = await tx.store.index("byOwnerKind").getAll(kindRange(owner, "lead"), limits.events);
  const rest = await tx.store.index("byOwner").getAll(ownerRange(owner), limits.events + leads.length);
  await tx.done;
  return composeBatch(leads, rest.filter((r) => r.kind !== "lead"), limits);
}

/**
 * Apply what the server said about a batch, in one transaction: remove what left, tick the recent list,
 * record problems, remember the last good send and any wait the server asked for.
 */
export async function settle(db: FieldDb, owner: string, outcome: SendOutcome, now = Date.now(), leads: readonly LeadStatus[] = []): Promise<void> {
  const tx = db.transaction(["outbox", "recent", "problems", "meta", "day"], "readwrite");
  const day = tx.objectStore("day");
  const markDay = async (id: string, change: Partial<DayRecord>) => {
    const r = await day.get(id);
    if (r) await day.put({ ...r, ...change });
  };
  const outbox = tx.objectStore("outbox");
  const recent = tx.objectStore("recent");
  const problems = tx.objectStore("problems");
  const meta = tx.objectStore("meta");
  for (const id of outcome.remove) await outbox.delete(id);
  for (const id of outcome.accepted) {
    const r = await recent.get(id);
    if (r) await recent.put({ ...r, status: "sent", sentAt: now });
    await markDay(id, { status: "sent" });
  }
  for (const lead of leads) await markDay(lead.id, { dialer: lead.status });
  for (const rej of outcome.rejected) {
    const r = await recent.get(rej.id);
    if (r) await recent.put({ ...r, status: "rejected" });
    await markDay(rej.id, { status: "rejected" });
    await problems.add({
      owner,
      at: now,
      eventId: rej.id,
      kind: rej.kind,
      issues: rej.issues,
      message: `The server refused a ${rej.kind}: ${rej.issues.map((i) => `${i.path} ${i.message}`).join("; ")}`,
    });
  }
  if (outcome.problem) await problems.add({ owner, at: now, message: outcome.problem });
  if (outcome.next.type === "continue" || outcome.accepted.length > 0) await meta.put(now, META.lastSendAt(owner));
  if (outcome.next.type === "wait") await meta.put(now + outcome.next.ms, META.notBefore(owner));
  await tx.done;
}

/** Undo: remove an event that has not been sent. False when it already left the outbox. */
export async function withdraw(db: FieldDb, id: string): Promise<boolean> {
  const tx = db.transaction(["outbox", "recent", "day"], "readwrite");
  const present = (await tx.objectStore("outbox").getKey(id)) !== undefined;
  if (present) {
    await tx.objectStore("outbox").delete(id);
    const r = await tx.objectStore("recent").get(id);
    if (r) await tx.objectStore("recent").put({ ...r, status: "undone" });
    const d = await tx.objectStore("day").get(id);
    if (d) await tx.objectStore("day").put({ ...d, status: "undone" });
  }
  await tx.done;
  return present;
}

export async function outboxIds(db: FieldDb, owner?: string): Promise<string[]> {
  if (owner === undefined) return db.getAllKeys("outbox");
  return (await db.getAllFromIndex("outbox", "byOwner", ownerRange(owner))).map((r) => r.id);
}
