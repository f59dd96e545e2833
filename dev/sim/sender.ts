/**
 * One phone's sender: a queue per kind, one request in flight at a time, the PWA's batching rules
 * (policy.ts), Retry-After on 429/503, full-jitter backoff on network errors and 5xx.
 */
import type { EventKind, IngestEvent } from "../../protocol/events.ts";
import { backoffMs, composeBatch, interpretReply, type QueueSummary, type SendPolicy } from "./policy.ts";
import type { FleetStats } from "./fleet-stats.ts";
import type { Transport } from "./transport.ts";

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
  readonly timeline: RequestRecord[] | null;

  constructor(
    readonly userId: string,
    private readonly token: string,
    private readonly transport: Transport,
    private readonly policy: SendPolicy,
    private readonly stats: FleetStats,
    private readonly path = "/v1/events",
    private readonly hooks: SenderHooks = {},
    recordTimeline = false,
  ) {
    this.timeline = recordTimeline ? [] : null;
  }

  enqueue(event: IngestEvent): void {
    const json = JSON.stringify(event);
    this.queues[event.type].push({ id: event.id, kind: event.type, json, bytes: Buffer.byteLength(json) + 1, createdAt: event.at as number });
    this.stats.generated(event.id);
  }

  queued(): number {
    return this.queues.lead.length + this.queues.knock.length + this.queues.activity.length + this.queues.location.length;
  }

  busy(): boolean {
    return this.inFlight;
  }

  summary(): QueueSummary {
    const s: QueueSummary = {};
    for (const k of KINDS) {
      const q = this.queues[k];
      if (q.length > 0) s[k] = { count: q.length, oldestAt: q[0]!.createdAt };
    }
    return s;
  }

  /** Send if a batch is due and nothing holds the phone back. `force` sends whatever waits (the final drain). */
  tick(now: number, offline: boolean, force = false): void {
    // Called for every phone on every fleet tick: the common "nothing to do" answers allocate nothing.
    if (this.inFlight || offline || now < this.notBefore || this.queued() === 0) return;
    if (!force && !this.due(now)) return;
    void this.send(now);
  }

  /** sendDueAt(summary(), …) <= now, without building the summary. */
  private due(now: number): boolean {
    const q = this.queues;
    if (q.lead.length > 0 || this.queued() >= this.policy.sendAtCount) return true;
    const age = this.policy.maxAgeMs;
    return (q.knock.length > 0 && q.knock[0]!.createdAt + age.knock <= now)
      || (q.location.length > 0 && q.location[0]!.createdAt + age.location <= now)
      || (q.activity.length > 0 && q.activity[0]!.createdAt + age.activity <= now);
  }

  private async send(now: number): Promise<void> {
    this.inFlight = true;
    const others = [...this.queues.knock, ...this.queues.activity, ...this.queues.location].sort((a, b) => a.createdAt - b.createdAt);
    const batch = composeBatch(this.queues.lead, others, this.policy);
    const ids = batch.map((b) => b.id);
    this.hooks.onSend?.(this.userId, batch, now);
    this.stats.sending(batch.length);
    const { reply, ms } = await this.transport.post(this.path, this.token, `{"events":[${batch.map((b) => b.json).join(",")}]}`);
    const end = Date.now();
    const outcome = interpretReply(ids, reply, end, this.policy);
    this.stats.replied(reply, ms, outcome, end);
    if (outcome.accepted.length > 0) this.hooks.onAccepted?.(this.userId, outcome.accepted, end);
    const gone = new Set([...outcome.accepted, ...outcome.rejected]);
    if (gone.size > 0) for (const k of KINDS) this.queues[k] = this.queues[k].filter((e) => !gone.has(e.id));
    const next = outcome.next;
    let retryAfterMs: number | null = null;
    if (next.type === "continue") {
      this.failures = 0;
    } else if (next.type === "wait") {
      retryAfterMs = next.ms;
      this.notBefore = end + next.ms;
    } else {
      this.failures += 1;
      this.notBefore = end + backoffMs(this.failures, this.policy);
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
