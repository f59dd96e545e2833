/**
 * One phone's sender: a queue per kind, one request in flight at a time, and every decision taken by the
 * field PWA's own send policy (web/field/send-policy.ts) — when a batch is due, what goes in it, what an
 * answer means, Retry-After, full-jitter backoff — so the bench measures the client canvassers run.
 */
import type { EventKind, IngestEvent } from "../../protocol/events.ts";
import type { Reply } from "../../web/field/ingest-reply.ts";
import {
  backoffMs, composeBatch, DEFAULT_BACKOFF, DEFAULT_BATCH_LIMITS, DEFAULT_SEND_POLICY, interpretReply, sendDueAt,
  type Backoff, type BatchLimits, type OutboxSummary, type SendPolicy,
} from "../../web/field/send-policy.ts";
import type { FleetStats } from "./fleet-stats.ts";
import type { Transport } from "./transport.ts";

export type { Reply };

/** What a phone decides by: the PWA's send policy, batch limits and backoff. */
export interface PhonePolicy {
  send: SendPolicy;
  limits: BatchLimits;
  backoff: Backoff;
}

export const PWA_POLICY: PhonePolicy = { send: DEFAULT_SEND_POLICY, limits: DEFAULT_BATCH_LIMITS, backoff: DEFAULT_BACKOFF };

/** Compressed time: the phone's own waits shrink with the clock (Retry-After is the server's word, in real seconds). */
export function scalePolicy(p: PhonePolicy, timeScale: number): PhonePolicy {
  if (timeScale === 1) return p;
  const { location, knock, activity } = p.send.maxAgeS;
  const s = (ms: number) => Math.max(1, Math.round(ms / timeScale));
  return {
    ...p,
    send: { ...p.send, maxAgeS: { location: location / timeScale, knock: knock / timeScale, activity: activity / timeScale } },
    backoff: { baseMs: s(p.backoff.baseMs), capMs: Math.max(s(p.backoff.capMs), 1_000) },
  };
}

export interface QueuedEvent {
  id: string;
  kind: EventKind;
  json: string;
  bytes: number;
  /** Wall ms the event was made (its `at`). */
  createdAt: number;
}

/** One request as the phone saw it: for checking afterwards that every Retry-After was honoured. */
export interface RequestRecord {
  start: number;
  end: number;
  status: number | "network";
  retryAfterMs: number | null;
}

export interface SenderHooks {
  /** Called as a batch leaves (live bench: send time of each fix). */
  onSend?: (userId: string, batch: readonly QueuedEvent[], at: number) => void;
  /** Called with the ids the server confirmed, when its answer arrived (live bench: accept time of each fix). */
  onAccepted?: (userId: string, ids: readonly string[], at: number) => void;
}

const KINDS: readonly EventKind[] = ["lead", "knock", "activity", "location"];

export class DeviceSender {
  private readonly queues: Record<EventKind, QueuedEvent[]> = { lead: [], knock: [], activity: [], location: [] };
  private inFlight = false;
  /** No request before this wall time: a Retry-After or a backoff. */
  private notBefore = 0;
  private failures = 0;
  /** sendDueAt over the queues, read once per change (every fleet tick asks, and must not allocate). */
  private dueAt: number | null = null;
  /** The server said 401/403: like the PWA, the phone stops until someone signs in again. */
  private signInNeeded = false;
  /** The PWA's limits shrink for the rest of the session after a 413: each phone has its own. */
  private readonly limits: BatchLimits;
  readonly timeline: RequestRecord[] | null;

  constructor(
    readonly userId: string,
    private readonly token: string,
    private readonly transport: Transport,
    private readonly policy: PhonePolicy,
    private readonly stats: FleetStats,
    private readonly path = "/v1/events",
    private readonly hooks: SenderHooks = {},
    recordTimeline = false,
  ) {
    this.limits = { ...policy.limits };
    this.timeline = recordTimeline ? [] : null;
  }

  enqueue(event: IngestEvent): void {
    const json = JSON.stringify(event);
    this.queues[event.type].push({ id: event.id, kind: event.type, json, bytes: Buffer.byteLength(json) + 1, createdAt: event.at as number });
    this.stats.generated(event.id);
    this.dueAt = sendDueAt(this.summary(), this.policy.send, event.at as number);
  }

  queued(): number {
    return this.queues.lead.length + this.queues.knock.length + this.queues.activity.length + this.queues.location.length;
  }

  busy(): boolean {
    return this.inFlight;
  }

  /** What the PWA's outbox reports for one user: per kind, how many wait and when the oldest was made. */
  summary(): OutboxSummary {
    const s: OutboxSummary = {};
    for (const k of KINDS) {
      const q = this.queues[k];
      if (q.length > 0) s[k] = { count: q.length, oldestCreatedAt: q[0]!.createdAt };
    }
    return s;
  }

  /** Send if a batch is due and nothing holds the phone back. `force` sends whatever waits (the final drain). */
  tick(now: number, offline: boolean, force = false): void {
    if (this.inFlight || offline || this.signInNeeded || now < this.notBefore || this.dueAt === null) return;
    if (!force && this.dueAt > now) return;
    void this.send(now);
  }

  private async send(now: number): Promise<void> {
    this.inFlight = true;
    const others = [...this.queues.knock, ...this.queues.activity, ...this.queues.location].sort((a, b) => a.createdAt - b.createdAt);
    const batch = composeBatch(this.queues.lead, others, this.limits);
    this.hooks.onSend?.(this.userId, batch, now);
    this.stats.sending(batch.length);
    const { reply, ms } = await this.transport.post(this.path, this.token, `{"events":[${batch.map((b) => b.json).join(",")}]}`);
    const end = Date.now();
    const outcome = interpretReply(batch, reply, end);
    this.stats.replied(reply, ms, outcome, end);
    if (outcome.accepted.length > 0) this.hooks.onAccepted?.(this.userId, outcome.accepted, end);
    if (outcome.remove.length > 0) {
      const gone = new Set(outcome.remove);
      for (const k of KINDS) this.queues[k] = this.queues[k].filter((e) => !gone.has(e.id));
    }
    this.dueAt = sendDueAt(this.summary(), this.policy.send, end);
    // What the PWA's drain loop and Sender do with each answer (web/field/sender.ts).
    const next = outcome.next;
    let retryAfterMs: number | null = null;
    switch (next.type) {
      case "continue":
        this.failures = 0;
        break;
      case "shrink":
        this.limits.events = Math.max(1, Math.floor(batch.length / 2));
        break;
      case "wait":
        retryAfterMs = next.ms;
        this.notBefore = end + next.ms;
        break;
      case "backoff":
        this.failures += 1;
        this.notBefore = end + backoffMs(this.failures, this.policy.backoff);
        break;
      case "sign-in":
        this.signInNeeded = true;
        break;
    }
    this.timeline?.push({ start: now, end, status: reply.kind === "network" ? "network" : reply.status, retryAfterMs });
    this.inFlight = false;
  }
}

/** Requests sent before the previous answer's Retry-After had elapsed (must be none). */
export function retryAfterViolations(timeline: readonly RequestRecord[]): number {
  let violations = 0;
  for (let i = 1; i < timeline.length; i++) {
    const prev = timeline[i - 1]!;
    if (prev.retryAfterMs !== null && timeline[i]!.start < prev.end + prev.retryAfterMs) violations += 1;
  }
  return violations;
}
