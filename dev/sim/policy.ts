/**
 * The simulator's sending decisions, as plain functions — the same rules as the field PWA: send when
 * enough events wait or the oldest of a kind waited its kind's longest, leads at once; honour
 * Retry-After; back off with full jitter on network errors and 5xx.
 */
import { MAX_EVENTS_PER_BATCH, type EventKind, type IngestResult } from "../../protocol/events.ts";

export type BufferedKind = Exclude<EventKind, "lead">;

export interface SendPolicy {
  /** Send as soon as this many events wait. */
  sendAtCount: number;
  /** Longest an event of each kind waits on the phone (ms). Leads never wait. */
  maxAgeMs: Record<BufferedKind, number>;
  maxBatchEvents: number;
  /** Stay well under the server's 512 KiB so a body never meets 413. */
  maxBatchBytes: number;
  /** Full-jitter backoff after network errors and 5xx: base doubling to the cap (ms). */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** When a 429/503 carries no Retry-After. */
  defaultWaitMs: number;
}

export const PWA_POLICY: SendPolicy = {
  sendAtCount: 100,
  maxAgeMs: { location: 15_000, knock: 3_000, activity: 15_000 },
  maxBatchEvents: MAX_EVENTS_PER_BATCH,
  maxBatchBytes: 384 * 1024,
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
  defaultWaitMs: 30_000,
};

/** Compressed time: the phone's own waits shrink with the clock (Retry-After is the server's word, in real seconds). */
export function scalePolicy(p: SendPolicy, timeScale: number): SendPolicy {
  if (timeScale === 1) return p;
  const s = (ms: number) => Math.max(1, Math.round(ms / timeScale));
  return {
    ...p,
    maxAgeMs: { location: s(p.maxAgeMs.location), knock: s(p.maxAgeMs.knock), activity: s(p.maxAgeMs.activity) },
    backoffBaseMs: s(p.backoffBaseMs),
    backoffCapMs: Math.max(s(p.backoffCapMs), 1_000),
  };
}

/** Per kind: how many wait and when the oldest was made (wall ms). */
export type QueueSummary = Partial<Record<EventKind, { count: number; oldestAt: number }>>;

/** When a send is due (wall ms, ≤ now means at once), or null when nothing waits. */
export function sendDueAt(summary: QueueSummary, policy: SendPolicy, now: number): number | null {
  let total = 0;
  for (const k in summary) total += summary[k as EventKind]!.count;
  if (total === 0) return null;
  if ((summary.lead?.count ?? 0) > 0 || total >= policy.sendAtCount) return now;
  let due = Infinity;
  for (const k in summary) {
    const kind = k as BufferedKind;
    const s = summary[kind]!;
    if (s.count > 0) due = Math.min(due, s.oldestAt + policy.maxAgeMs[kind]);
  }
  return due;
}

/** Leads first, then the rest oldest first, within the count and byte limits; the first item always goes. */
export function composeBatch<T extends { bytes: number }>(leads: readonly T[], others: readonly T[], policy: SendPolicy): T[] {
  const batch: T[] = [];
  let bytes = 0;
  for (const list of [leads, others]) {
    for (const item of list) {
      if (batch.length >= policy.maxBatchEvents || (batch.length > 0 && bytes + item.bytes > policy.maxBatchBytes)) return batch;
      batch.push(item);
      bytes += item.bytes;
    }
  }
  return batch;
}

/** "Full jitter": uniform in [0, min(cap, base·2^(n−1))), so phones that failed together do not return together. */
export function backoffMs(failures: number, policy: SendPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After in ms (delta-seconds or an HTTP date), or null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (value == null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  return /[a-z]/i.test(v) && Number.isFinite(date) ? Math.max(0, date - now) : null;
}

export type Reply =
  | { kind: "network"; error: string }
  | { kind: "http"; status: number; body: unknown; retryAfter: string | null };

export interface ReplyOutcome {
  /** The server has these (now or from an earlier send): they leave the queue. */
  accepted: string[];
  /** Invalid for good: they leave the queue too. */
  rejected: string[];
  /** Buffered kinds refused under backpressure (503): they stay queued. */
  refused: number;
  duplicates: number;
  next:
    | { type: "continue" }
    | { type: "wait"; ms: number; reason: "rate-limited" | "backpressure" | "unavailable" }
    | { type: "backoff"; reason: string };
}

const asResult = (body: unknown): Partial<IngestResult> =>
  typeof body === "object" && body !== null ? (body as Partial<IngestResult>) : {};

/** Ids the reply's `rejected` list names (by index, checked against the id when given). */
function rejectedIds(batchIds: readonly string[], result: Partial<IngestResult>): string[] {
  const out = new Set<string>();
  for (const r of result.rejected ?? []) {
    const byIndex = batchIds[r.index];
    if (byIndex !== undefined && (r.id === undefined || r.id === byIndex)) out.add(byIndex);
    else if (r.id !== undefined && batchIds.includes(r.id)) out.add(r.id);
  }
  return [...out];
}

/** What one answer to a batch means for each of its events, and what the phone does next. */
export function interpretReply(batchIds: readonly string[], reply: Reply, now: number, policy: SendPolicy): ReplyOutcome {
  const none = { accepted: [], rejected: [], refused: 0, duplicates: 0 };
  if (reply.kind === "network") return { ...none, next: { type: "backoff", reason: reply.error } };
  const { status } = reply;
  const result = asResult(reply.body);
  const retryMs = parseRetryAfter(reply.retryAfter, now);
  if (status >= 200 && status < 300) {
    const rejected = rejectedIds(batchIds, result);
    const gone = new Set(rejected);
    return { accepted: batchIds.filter((id) => !gone.has(id)), rejected, refused: 0, duplicates: result.duplicates ?? 0, next: { type: "continue" } };
  }
  if (status === 400) {
    const rejected = rejectedIds(batchIds, result);
    // An envelope error names no event: that would be our bug, and dropping the batch would lose data.
    if (rejected.length === 0) return { ...none, next: { type: "backoff", reason: "400 without per-event detail" } };
    return { ...none, rejected, next: rejected.length === batchIds.length ? { type: "continue" } : { type: "backoff", reason: "400 for part of a batch" } };
  }
  if (status === 429) return { ...none, next: { type: "wait", ms: retryMs ?? policy.defaultWaitMs, reason: "rate-limited" } };
  if (status === 503 && typeof result.refused === "number") {
    // Backpressure: the leads it lists were taken, rejected ones are gone, everything else stays queued.
    const inBatch = new Set(batchIds);
    const taken = (result.leads ?? []).map((l) => l.id).filter((id) => inBatch.has(id));
    return {
      accepted: taken, rejected: rejectedIds(batchIds, result), refused: result.refused, duplicates: result.duplicates ?? 0,
      next: { type: "wait", ms: retryMs ?? policy.defaultWaitMs, reason: "backpressure" },
    };
  }
  if (status >= 500) {
    return { ...none, next: retryMs !== null ? { type: "wait", ms: retryMs, reason: "unavailable" } : { type: "backoff", reason: `HTTP ${status}` } };
  }
  return { ...none, next: { type: "backoff", reason: `HTTP ${status}` } };
}
