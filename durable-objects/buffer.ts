import { z } from "zod";
import { EVENT_KINDS, type EventKind } from "../protocol/events.ts";
import { ingestEvent, type IngestEvent } from "../protocol/ingest.ts";
import type { MeteredSql } from "./storage.ts";

/** What the flush policy and the figures need of one buffered request, kept in memory. */
export interface BatchInfo {
  seq: number;
  userId: string;
  receivedAt: number;
  /** The earliest received_at + max age over the batch's kinds. */
  dueAt: number;
  events: number;
  byKind: Partial<Record<EventKind, number>>;
}

export interface TakenBatch extends BatchInfo {
  body: IngestEvent[];
}

/** The buffer as the flush policy sees it. */
export interface BufferStats {
  events: number;
  batches: number;
  /** The earliest due time over every batch, or null when empty. */
  dueAt: number | null;
  oldestReceivedAt: number | null;
  byKind: Partial<Record<EventKind, number>>;
}

function countKinds(events: readonly { type: EventKind }[]): Partial<Record<EventKind, number>> {
  const out: Partial<Record<EventKind, number>> = {};
  for (const e of events) out[e.type] = (out[e.type] ?? 0) + 1;
  return out;
}

/**
 * The TeamHub's write buffer: ONE SQLite row per accepted request, its events as one JSON body — so a
 * 20-event request costs one row written, and its flush one row deleted. What the flush policy needs
 * (counts, due times) lives in memory, rebuilt from the table when the object starts.
 */
export class BatchBuffer {
  private readonly batches: BatchInfo[] = [];
  private eventCount = 0;
  private minDueAt: number | null = null;
  private readonly kindCounts: Partial<Record<EventKind, number>> = {};

  constructor(
    private readonly sql: MeteredSql,
    /** Every buffered event, once, when the object starts: the id set and the live picture rebuild from them. */
    onLoad: (events: IngestEvent[], userId: string, receivedAt: number) => void,
  ) {
    for (const row of sql.all<{ seq: number; user_id: string; received_at: number; due_at: number; body: string }>(
      "SELECT seq, user_id, received_at, due_at, body FROM batches ORDER BY seq",
    )) {
      const body = parseStoredEvents(row.body);
      this.track({ seq: row.seq, userId: row.user_id, receivedAt: row.received_at, dueAt: row.due_at, events: body.length, byKind: countKinds(body) });
      onLoad(body, row.user_id, row.received_at);
    }
  }

  get depth(): number {
    return this.eventCount;
  }

  /** O(1): every request asks (through the alarm); the earliest due time is recomputed only when batches leave. */
  stats(): BufferStats {
    const byKind: Partial<Record<EventKind, number>> = {};
    for (const k of EVENT_KINDS) if (this.kindCounts[k]) byKind[k] = this.kindCounts[k];
    return { events: this.eventCount, batches: this.batches.length, dueAt: this.minDueAt, oldestReceivedAt: this.batches[0]?.receivedAt ?? null, byKind };
  }

  /** One accepted request's buffered events: one row written. Returns its due time. */
  append(events: readonly IngestEvent[], userId: string, receivedAt: number, dueAt: number): BatchInfo | null {
    if (events.length === 0) return null;
    const row = this.sql.one<{ seq: number }>(
      "INSERT INTO batches (user_id, received_at, due_at, events, body) VALUES (?, ?, ?, ?, ?) RETURNING seq",
      userId, receivedAt, dueAt, events.length, JSON.stringify(events),
    )!;
    const info: BatchInfo = { seq: row.seq, userId, receivedAt, dueAt, events: events.length, byKind: countKinds(events) };
    this.track(info);
    return info;
  }

  /** The oldest whole batches holding up to `limit` events (at least one batch, however large). */
  take(limit: number): TakenBatch[] {
    let n = 0;
    let last = -1;
    for (let i = 0; i < this.batches.length; i++) {
      if (i > 0 && n + this.batches[i]!.events > limit) break;
      n += this.batches[i]!.events;
      last = i;
    }
    if (last < 0) return [];
    const infos = this.batches.slice(0, last + 1);
    const bodies = this.sql.all<{ seq: number; body: string }>(
      "SELECT seq, body FROM batches WHERE seq BETWEEN ? AND ? ORDER BY seq",
      infos[0]!.seq, infos.at(-1)!.seq,
    );
    const bySeq = new Map(bodies.map((b) => [b.seq, b.body]));
    return infos.map((info) => {
      const body = bySeq.get(info.seq);
      // Never read a missing row as an empty batch: it would be deleted as flushed.
      if (body === undefined) throw new Error(`buffer: batch ${info.seq} is missing from storage`);
      return { ...info, body: parseStoredEvents(body) };
    });
  }

  /** Forget batches once Postgres has committed them: one row deleted per batch. */
  remove(taken: readonly BatchInfo[]): void {
    if (taken.length === 0) return;
    const seqs = new Set(taken.map((t) => t.seq));
    this.sql.run("DELETE FROM batches WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify([...seqs]));
    for (let i = this.batches.length - 1; i >= 0; i--) {
      const b = this.batches[i]!;
      if (seqs.has(b.seq)) {
        this.batches.splice(i, 1);
        this.eventCount -= b.events;
        for (const k of EVENT_KINDS) if (b.byKind[k]) this.kindCounts[k] = (this.kindCounts[k] ?? 0) - b.byKind[k]!;
      }
    }
    this.minDueAt = null;
    for (const b of this.batches) if (this.minDueAt === null || b.dueAt < this.minDueAt) this.minDueAt = b.dueAt;
  }

  private track(info: BatchInfo): void {
    this.batches.push(info);
    this.eventCount += info.events;
    if (this.minDueAt === null || info.dueAt < this.minDueAt) this.minDueAt = info.dueAt;
    for (const k of EVENT_KINDS) if (info.byKind[k]) this.kindCounts[k] = (this.kindCounts[k] ?? 0) + info.byKind[k]!;
  }
}

/** What any deploy ever stored of an event: enough to write it (or to let Postgres refuse it into quarantine). */
const storedShape = z.looseObject({ id: z.string(), type: z.enum(EVENT_KINDS), at: z.number() });

/**
 * An event as the object stored it (a batch body, an outbox row). Validated on the way in; parsing again guards
 * against a schema change between deploys: an event an older deploy accepted and this one would refuse is still
 * flushed as it was accepted (Postgres, not this parser, decides; a refusal is quarantined, never a stalled team).
 */
export function parseStoredEvent(item: unknown): IngestEvent {
  const parsed = ingestEvent.safeParse(item);
  return parsed.success ? parsed.data : (storedShape.parse(item) as IngestEvent);
}

/** A stored JSON array of events (a batch row's body). */
export function parseStoredEvents(raw: string): IngestEvent[] {
  return z.array(z.unknown()).parse(JSON.parse(raw)).map(parseStoredEvent);
}
