/** What a simulated fleet did, as the phones saw it. */
import { ingestReply, type Reply } from "../../web/field/ingest-reply.ts";
import type { SendOutcome } from "../../web/field/send-policy.ts";
import { LatencyRecorder } from "./stats.ts";

export interface FleetCounts {
  generated: number;
  /** Events in requests, resends included. */
  sent: number;
  requests: number;
  /** Events the server confirmed (each id once), and what it called duplicates among them. */
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Buffered events refused under backpressure (they stayed queued and went again later). */
  refused: number;
  networkErrors: number;
  byStatus: Record<string, number>;
  /** 429/503 answers, and how many of them carried Retry-After. */
  throttled: number;
  throttledWithRetryAfter: number;
}

export class FleetStats {
  readonly latency = new LatencyRecorder();
  readonly counts: FleetCounts = {
    generated: 0, sent: 0, requests: 0, accepted: 0, duplicates: 0, rejected: 0, refused: 0, networkErrors: 0,
    byStatus: {}, throttled: 0, throttledWithRetryAfter: 0,
  };
  /** Kept only when asked for (drills, the seed check): every id made, and every id the server confirmed. */
  readonly generatedIds: Set<string> | null;
  readonly acceptedIds: Set<string> | null;
  /** The first few bodies of each unexpected answer, for reports and debugging. */
  readonly samples: Record<string, string[]> = {};
  private requestTimes: number[] = [];

  constructor(trackIds = false) {
    this.generatedIds = trackIds ? new Set() : null;
    this.acceptedIds = trackIds ? new Set() : null;
  }

  generated(id: string): void {
    this.counts.generated += 1;
    this.generatedIds?.add(id);
  }

  sending(events: number): void {
    this.counts.sent += events;
    this.counts.requests += 1;
  }

  replied(reply: Reply, ms: number, outcome: SendOutcome, now: number): void {
    this.requestTimes.push(now);
    const c = this.counts;
    if (reply.kind === "network") {
      const list = (this.samples.network ??= []);
      if (list.length < 3) list.push(reply.error);
      c.networkErrors += 1;
      c.byStatus.network = (c.byStatus.network ?? 0) + 1;
      return;
    }
    this.latency.add(ms, now);
    c.byStatus[reply.status] = (c.byStatus[reply.status] ?? 0) + 1;
    if (reply.status >= 300) {
      const list = (this.samples[reply.status] ??= []);
      if (list.length < 3) list.push(JSON.stringify(reply.body).slice(0, 300));
    }
    if (reply.status === 429 || reply.status === 503) {
      c.throttled += 1;
      if (reply.retryAfter !== null) c.throttledWithRetryAfter += 1;
    }
    c.accepted += outcome.accepted.length;
    c.rejected += outcome.rejected.length;
    // Counts the PWA does not act on, read from the body with the server's own schema.
    const body = ingestReply.safeParse(reply.body);
    if (body.success) {
      c.duplicates += body.data.duplicates;
      c.refused += body.data.refused ?? 0;
    }
    if (this.acceptedIds) for (const id of outcome.accepted) this.acceptedIds.add(id);
  }

  /** Answers per second over the last `windowMs`. */
  requestRate(now = Date.now(), windowMs = 5_000): number {
    const cut = now - windowMs;
    let i = 0;
    while (i < this.requestTimes.length && this.requestTimes[i]! < cut) i++;
    if (i > 0) this.requestTimes.splice(0, i);
    return this.requestTimes.length / (windowMs / 1000);
  }
}
