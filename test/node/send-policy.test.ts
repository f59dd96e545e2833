import { describe, expect, it } from "vitest";
import type { Reply } from "../../web/field/ingest-reply.ts";
import {
  backoffCeilingMs, backoffMs, composeBatch, DEFAULT_SEND_POLICY, interpretReply, MAX_RETRY_AFTER_MS,
  parseRetryAfter, sendDueAt, type BatchItem, type SendPolicy,
} from "../../web/field/send-policy.ts";

const now = 1_800_000_000_000;
const policy: SendPolicy = { sendAtCount: 50, maxAgeS: { location: 15, knock: 3, activity: 15 } };

describe("sendDueAt", () => {
  it("is null when nothing waits", () => {
    expect(sendDueAt({}, policy, now)).toBeNull();
    expect(sendDueAt({ location: { count: 0, oldestCreatedAt: now } }, policy, now)).toBeNull();
  });

  it("is the earliest per-kind deadline while below the count", () => {
    expect(sendDueAt({ location: { count: 10, oldestCreatedAt: now - 5_000 } }, policy, now)).toBe(now + 10_000);
    expect(sendDueAt({
      location: { count: 10, oldestCreatedAt: now - 5_000 }, // due at +10 s
      knock: { count: 1, oldestCreatedAt: now - 1_000 }, // due at +2 s
      activity: { count: 1, oldestCreatedAt: now }, // due at +15 s
    }, policy, now)).toBe(now + 2_000);
  });

  it("is now for a lead, whatever else waits", () => {
    expect(sendDueAt({ lead: { count: 1, oldestCreatedAt: now }, location: { count: 1, oldestCreatedAt: now } }, policy, now)).toBe(now);
  });

  it("is now once the count is reached", () => {
    expect(sendDueAt({ location: { count: 49, oldestCreatedAt: now }, knock: { count: 1, oldestCreatedAt: now } }, policy, now)).toBe(now);
    expect(sendDueAt({ location: { count: 49, oldestCreatedAt: now } }, policy, now)).toBe(now + 15_000);
  });

  it("defaults to ~15 s for fixes and activities, ~3 s for knocks", () => {
    expect(DEFAULT_SEND_POLICY.maxAgeS).toEqual({ location: 15, knock: 3, activity: 15 });
  });
});

describe("composeBatch", () => {
  const item = (id: string, bytes = 100) => ({ id, bytes });

  it("puts leads first, then the rest in their order", () => {
    const batch = composeBatch([item("L1"), item("L2")], [item("a"), item("b")], { events: 500, bytes: 1e6 });
    expect(batch.map((b) => b.id)).toEqual(["L1", "L2", "a", "b"]);
  });

  it("stops at the event limit (500 on the wire)", () => {
    const others = Array.from({ length: 700 }, (_, i) => item(`e${i}`));
    const batch = composeBatch([], others, { events: 500, bytes: 1e9 });
    expect(batch).toHaveLength(500);
    expect(batch.at(-1)!.id).toBe("e499");
  });

  it("stops before the byte limit, but always takes the first event", () => {
    expect(composeBatch([], [item("a", 60), item("b", 60), item("c", 10)], { events: 500, bytes: 100 }).map((b) => b.id)).toEqual(["a"]);
    expect(composeBatch([], [item("huge", 5_000)], { events: 500, bytes: 100 }).map((b) => b.id)).toEqual(["huge"]);
  });
});

describe("backoff with full jitter", () => {
  it("has a ceiling that doubles from 1 s and is capped at 5 min", () => {
    expect([1, 2, 3, 4, 5, 9, 10, 30].map((n) => backoffCeilingMs(n))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 256_000, 300_000, 300_000]);
  });

  it("draws uniformly from [0, ceiling)", () => {
    expect(backoffMs(3, undefined, () => 0)).toBe(0);
    expect(backoffMs(3, undefined, () => 0.5)).toBe(2_000);
    expect(backoffMs(3, undefined, () => 0.999_999)).toBe(3_999);
    for (let failures = 1; failures <= 20; failures++) {
      for (let i = 0; i < 200; i++) {
        const ms = backoffMs(failures);
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThan(backoffCeilingMs(failures));
      }
    }
  });

  it("spreads a fleet's retries over the window", () => {
    const draws = Array.from({ length: 2_000 }, () => backoffMs(6)); // ceiling 32 s
    const buckets = [0, 0, 0, 0];
    for (const d of draws) buckets[Math.floor(d / 8_000)]! += 1;
    for (const b of buckets) expect(b).toBeGreaterThan(350);
  });

  it("honours a custom base and cap", () => {
    expect(backoffCeilingMs(4, { baseMs: 250, capMs: 1_500 })).toBe(1_500);
    expect(backoffCeilingMs(2, { baseMs: 250, capMs: 1_500 })).toBe(500);
  });
});

describe("parseRetryAfter", () => {
  it("reads delta-seconds", () => {
    expect(parseRetryAfter("7", now)).toBe(7_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
  });

  it("reads an HTTP-date relative to now, never negative", () => {
    expect(parseRetryAfter(new Date(now + 42_000).toUTCString(), now)).toBe(42_000);
    expect(parseRetryAfter(new Date(now - 42_000).toUTCString(), now)).toBe(0);
  });

  it("ignores what it cannot read", () => {
    for (const v of [null, undefined, "", "soon", "-5", "1.5", "12abc"]) expect(parseRetryAfter(v, now)).toBeNull();
  });

  it("caps absurd waits", () => {
    expect(parseRetryAfter("99999999", now)).toBe(MAX_RETRY_AFTER_MS);
  });
});

describe("interpretReply", () => {
  const batch: BatchItem[] = [
    { id: "lead-1", kind: "lead" },
    { id: "knock-1", kind: "knock" },
    { id: "loc-1", kind: "location" },
    { id: "loc-2", kind: "location" },
  ];
  const http = (status: number, body: unknown, retryAfter: string | null = null): Reply => ({ kind: "http", status, retryAfter, body });
  const ok = { accepted: 3, duplicates: 0, rejected: [], leads: [{ id: "lead-1", status: "stored" }] };
  const issues = [{ path: "events.2.lat", message: "Too big: expected number to be <=90" }];

  it("202: every event leaves the outbox; all but the rejected are ✓", () => {
    const out = interpretReply(batch, http(202, { ...ok, accepted: 3, rejected: [{ index: 2, id: "loc-1", issues }] }), now);
    expect(out.next).toEqual({ type: "continue" });
    expect(out.remove).toEqual(["lead-1", "knock-1", "loc-1", "loc-2"]);
    expect(out.accepted).toEqual(["lead-1", "knock-1", "loc-2"]);
    expect(out.rejected).toEqual([{ id: "loc-1", kind: "location", issues }]);
  });

  it("202 with duplicates: the server has them, so they are ✓ too", () => {
    const out = interpretReply(batch, http(202, { ...ok, accepted: 1, duplicates: 3 }), now);
    expect(out.accepted).toEqual(batch.map((b) => b.id));
    expect(out.rejected).toEqual([]);
  });

  it("finds a rejected event by id when its index does not match", () => {
    const out = interpretReply(batch, http(202, { ...ok, rejected: [{ index: 9, id: "knock-1", issues }] }), now);
    expect(out.rejected.map((r) => r.id)).toEqual(["knock-1"]);
  });

  it("503 backpressure: the listed leads were taken, the rest stay and wait Retry-After", () => {
    const out = interpretReply(batch, http(503, {
      accepted: 1, duplicates: 0, rejected: [], leads: [{ id: "lead-1", status: "queued" }], refused: 3,
      error: { code: "backpressure", message: "…" },
    }, "12"), now);
    expect(out.remove).toEqual(["lead-1"]);
    expect(out.accepted).toEqual(["lead-1"]);
    expect(out.next).toEqual({ type: "wait", ms: 12_000, reason: "backpressure" });
  });

  it("503 backpressure drops rejected events as well, and waits 30 s without a Retry-After", () => {
    const out = interpretReply(batch, http(503, { accepted: 0, duplicates: 0, rejected: [{ index: 3, id: "loc-2", issues }], leads: [], refused: 3 }), now);
    expect(out.remove).toEqual(["loc-2"]);
    expect(out.accepted).toEqual([]);
    expect(out.next).toEqual({ type: "wait", ms: 30_000, reason: "backpressure" });
  });

  it("503 without the backpressure body (an outage): keeps everything", () => {
    expect(interpretReply(batch, http(503, null, "5"), now)).toMatchObject({ remove: [], next: { type: "wait", ms: 5_000, reason: "unavailable" } });
    expect(interpretReply(batch, http(503, null), now)).toMatchObject({ remove: [], next: { type: "backoff" } });
  });

  it("429: keeps everything and waits Retry-After (60 s if absent)", () => {
    expect(interpretReply(batch, http(429, { error: {} }, "3"), now)).toMatchObject({ remove: [], next: { type: "wait", ms: 3_000, reason: "rate-limited" } });
    expect(interpretReply(batch, http(429, null), now).next).toEqual({ type: "wait", ms: 60_000, reason: "rate-limited" });
  });

  it("network errors and 5xx: keep everything, back off", () => {
    expect(interpretReply(batch, { kind: "network", error: "Failed to fetch" }, now)).toMatchObject({ remove: [], accepted: [], next: { type: "backoff" } });
    for (const status of [500, 502, 504]) expect(interpretReply(batch, http(status, null), now)).toMatchObject({ remove: [], next: { type: "backoff" } });
  });

  it("401 and 403: keep everything and ask to sign in again", () => {
    expect(interpretReply(batch, http(401, { error: {} }), now)).toEqual({ remove: [], accepted: [], rejected: [], next: { type: "sign-in", status: 401 } });
    expect(interpretReply(batch, http(403, { error: {} }), now).next).toEqual({ type: "sign-in", status: 403 });
  });

  it("400 naming every event: all are dropped for good", () => {
    const rejected = batch.map((b, index) => ({ index, id: b.id, issues }));
    const out = interpretReply(batch, http(400, { accepted: 0, duplicates: 0, rejected, leads: [], error: { code: "no_valid_events" } }), now);
    expect(out.remove).toEqual(batch.map((b) => b.id));
    expect(out.accepted).toEqual([]);
    expect(out.next).toEqual({ type: "continue" });
  });

  it("400 without per-event detail (an envelope bug): keeps everything, backs off, reports", () => {
    const out = interpretReply(batch, http(400, { error: { code: "invalid_envelope" } }), now);
    expect(out.remove).toEqual([]);
    expect(out.next.type).toBe("backoff");
    expect(out.problem).toBeTruthy();
  });

  it("413: halve the batch; a single event that is too large is dropped", () => {
    expect(interpretReply(batch, http(413, null), now).next).toEqual({ type: "shrink" });
    const one = interpretReply([batch[1]!], http(413, null), now);
    expect(one.remove).toEqual(["knock-1"]);
    expect(one.rejected).toHaveLength(1);
  });

  it("anything else (404, 415): keeps everything and backs off", () => {
    for (const status of [404, 415]) {
      const out = interpretReply(batch, http(status, null), now);
      expect(out.remove).toEqual([]);
      expect(out.next.type).toBe("backoff");
    }
  });
});
