/**
 * The sender's decisions, as plain functions: when a send is due, what goes in a batch, how long to wait
 * after a failure, and what an answer from POST /v1/events means for each event of the batch.
 */
import { backoffCeilingMs as ceilingOf, backoffDelayMs, type BackoffSchedule } from "../../protocol/backoff.ts";
import { MAX_EVENTS_PER_BATCH, type EventKind, type Issue } from "../../protocol/events.ts";
import { ingestReply, type IngestReply, type Reply } from "./ingest-reply.ts";

export type BufferedKind = Exclude<EventKind, "lead">;

export interface SendPolicy {
  /** Send as soon as this many events wait, whatever their age. */
  sendAtCount: number;
  /** Longest an event of each kind waits on the phone before a send is due. Leads never wait. */
  maxAgeS: Record<BufferedKind, number>;
}

export const DEFAULT_SEND_POLICY: SendPolicy = {
  sendAtCount: 100,
  maxAgeS: { location: 15, knock: 3, activity: 15 },
};

/** What the outbox holds for one user: how many events of each kind, and when the oldest was made. */
export type OutboxSummary = Partial<Record<EventKind, { count: number; oldestCreatedAt: number }>>;

export function maxAgeMs(kind: EventKind, policy: SendPolicy): number {
  return kind === "lead" ? 0 : Math.max(0, policy.maxAgeS[kind] * 1000);
}

export function totalWaiting(summary: OutboxSummary): number {
  let total = 0;
  for (const k in summary) total += summary[k as EventKind]?.count ?? 0;
  return total;
}

/** When the next send is due (epoch ms; `now` or earlier means at once), or null when nothing waits. */
export function sendDueAt(summary: OutboxSummary, policy: SendPolicy, now: number): number | null {
  if (totalWaiting(summary) === 0) return null;
  if ((summary.lead?.count ?? 0) > 0 || totalWaiting(summary) >= policy.sendAtCount) return now;
  let due: number | null = null;
  for (const k in summary) {
    const kind = k as EventKind;
    const s = summary[kind];
    if (!s || s.count === 0) continue;
    const deadline = s.oldestCreatedAt + maxAgeMs(kind, policy);
    if (due === null || deadline < due) due = deadline;
  }
  return due;
}

// The server takes 512 KiB; a batch stays well below so a body never reaches 413.
export const MAX_BATCH_BYTES = 384 * 1024;

export interface BatchLimits {
  events: number;
  bytes: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { events: MAX_EVENTS_PER_BATCH, bytes: MAX_BATCH_BYTES };

/**
 * Leads first (the dialer is waiting), then everything else in creation order, up to the limits.
 * The first candidate always goes, so one large event cannot stall the queue.
 */
export function composeBatch<T extends { bytes: number }>(leads: readonly T[], others: readonly T[], limits: BatchLimits): T[] {
  const batch: T[] = [];
  let bytes = 0;
  for (const item of [...leads, ...others]) {
    if (batch.length >= limits.events) break;
    if (batch.length > 0 && bytes + item.bytes > limits.bytes) break;
    batch.push(item);
    bytes += item.bytes;
  }
  return batch;
}

export type Backoff = Pick<BackoffSchedule, "baseMs" | "capMs">;

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1_000, capMs: 5 * 60_000 };

/** The upper bound of the delay before retry number `failures` (1-based): base doubling to the cap. */
export function backoffCeilingMs(failures: number, b: Backoff = DEFAULT_BACKOFF): number {
  return ceilingOf(failures, b);
}

/**
 * "Full jitter": uniform in [0, ceiling). Phones that lost the network together (a tunnel, a cell outage)
 * spread their retries over the whole window instead of coming back as one wave.
 */
export function backoffMs(failures: number, b: Backoff = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  return backoffDelayMs(failures, { ...b, jitter: "full" }, random);
}

/** A Retry-After far in the future is a bug somewhere; the queue must not freeze for days on it. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP-date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (value == null) return null;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else if (/[a-z]/i.test(v) && Number.isFinite(Date.parse(v))) ms = Math.max(0, Date.parse(v) - now);
  else return null;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** Waits when the server asked to slow down but did not say for how long. */
export const DEFAULT_WAIT_MS = { rateLimited: 60_000, unavailable: 30_000 } as const;

export type Next =
  | { type: "continue" }
  | { type: "wait"; ms: number; reason: "backpressure" | "rate-limited" | "unavailable" }
  | { type: "backoff"; reason: string }
  | { type: "shrink" }
  | { type: "sign-in"; status: 401 | 403 };

export interface BatchItem {
  id: string;
  kind: EventKind;
}

export interface RejectedItem extends BatchItem {
  issues: Issue[];
}

export interface SendOutcome {
  /** Leave the outbox: the server has them, or they can never succeed. */
  remove: string[];
  /** The server has these (accepted now or before): a ✓ in the app. */
  accepted: string[];
  /** Invalid for good: dropped, logged, listed under "problems". */
  rejected: RejectedItem[];
  next: Next;
  /** Something the user or a developer should see (the problems list, the console). */
  problem?: string;
}

/** The events a reply's `rejected` list names: by index into the batch, checked against the id when given. */
function rejectedItems(batch: readonly BatchItem[], reply: IngestReply): RejectedItem[] {
  const out = new Map<string, RejectedItem>();
  for (const r of reply.rejected) {
    const byIndex = batch[r.index];
    const item = byIndex && (r.id === undefined || r.id === byIndex.id) ? byIndex : batch.find((b) => b.id === r.id);
    if (item) out.set(item.id, { ...item, issues: r.issues });
  }
  return [...out.values()];
}

const keepAll = (next: Next, problem?: string): SendOutcome => ({ remove: [], accepted: [], rejected: [], next, ...(problem ? { problem } : {}) });

/** What one answer to a batch means: which events leave the outbox, and what the sender does next. */
export function interpretReply(batch: readonly BatchItem[], reply: Reply, now: number): SendOutcome {
  if (reply.kind === "network") return keepAll({ type: "backoff", reason: reply.error });
  const { status } = reply;
  const parsed = ingestReply.safeParse(reply.body);
  const retryAfterMs = parseRetryAfter(reply.retryAfter, now);

  if (status >= 200 && status < 300) {
    // Every event of the batch was accepted, a duplicate, or rejected for good: none stays.
    const rejected = parsed.success ? rejectedItems(batch, parsed.data) : [];
    const rejectedIds = new Set(rejected.map((r) => r.id));
    return {
      remove: batch.map((b) => b.id),
      accepted: batch.filter((b) => !rejectedIds.has(b.id)).map((b) => b.id),
      rejected,
      next: { type: "continue" },
      ...(parsed.success ? {} : { problem: `unreadable ${status} body` }),
    };
  }

  switch (status) {
    case 400: {
      // No valid event in the batch: drop exactly the ones the server names. An envelope error names
      // none; that is our bug, and dropping the batch would lose data, so it backs off instead.
      const rejected = parsed.success ? rejectedItems(batch, parsed.data) : [];
      if (rejected.length === 0) return keepAll({ type: "backoff", reason: "400 without per-event detail" }, "the server refused the batch as a whole (400)");
      const ids = rejected.map((r) => r.id);
      const allNamed = rejected.length === batch.length;
      return {
        remove: ids,
        accepted: [],
        rejected,
        next: allNamed ? { type: "continue" } : { type: "backoff", reason: "400 for part of the batch" },
      };
    }
    case 401:
    case 403:
      return keepAll({ type: "sign-in", status });
    case 413: {
      if (batch.length > 1) return keepAll({ type: "shrink" });
      const only = batch[0]!;
      return {
        remove: [only.id],
        accepted: [],
        rejected: [{ ...only, issues: [{ path: "events.0", message: "is too large to send" }] }],
        next: { type: "continue" },
      };
    }
    case 429:
      return keepAll({ type: "wait", ms: retryAfterMs ?? DEFAULT_WAIT_MS.rateLimited, reason: "rate-limited" });
    case 503: {
      if (parsed.success && parsed.data.refused !== undefined) {
        // Backpressure: the leads it lists were taken, invalid events are rejected, the rest were refused.
        const inBatch = new Set(batch.map((b) => b.id));
        const taken = parsed.data.leads.map((l) => l.id).filter((id) => inBatch.has(id));
        const rejected = rejectedItems(batch, parsed.data);
        return {
          remove: [...taken, ...rejected.map((r) => r.id)],
          accepted: taken,
          rejected,
          next: { type: "wait", ms: retryAfterMs ?? DEFAULT_WAIT_MS.unavailable, reason: "backpressure" },
        };
      }
      break;
    }
  }
  if (status >= 500) {
    return keepAll(retryAfterMs !== null ? { type: "wait", ms: retryAfterMs, reason: "unavailable" } : { type: "backoff", reason: `HTTP ${status}` });
  }
  // Any other answer (404, 415, …) is a deployment or client bug: keep everything, back off, say so.
  return keepAll({ type: "backoff", reason: `HTTP ${status}` }, `unexpected answer ${status} from the server`);
}
