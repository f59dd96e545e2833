import { describe, expect, it } from "vitest";
import { readTunables } from "../../common/config.ts";
import { backoffMs, batchDueAt, flushDueAt, retryAfterSeconds, updateDrainRate } from "../../durable-objects/flush-policy.ts";

const t = readTunables({});
const now = 1_800_000_000_000;

describe("batchDueAt", () => {
  it("is the receive time plus the shortest max age over the batch's kinds", () => {
    expect(batchDueAt(["location"], now, t)).toBe(now + 30_000);
    expect(batchDueAt(["location", "knock", "activity"], now, t)).toBe(now + 5_000);
    expect(batchDueAt(["lead"], now, t)).toBe(now);
  });
});

describe("flushDueAt", () => {
  it("is null for an empty buffer", () => {
    expect(flushDueAt({ events: 0, dueAt: null }, t, now)).toBeNull();
  });

  it("is now once the threshold is reached", () => {
    expect(flushDueAt({ events: 1_000, dueAt: now + 20_000 }, t, now)).toBe(now);
    expect(flushDueAt({ events: 999, dueAt: now + 20_000 }, t, now)).toBe(now + 20_000);
  });

  it("honours the configured ages", () => {
    const fast = readTunables({ LOCATION_MAX_AGE_S: "2", FLUSH_THRESHOLD_ROWS: "10" });
    expect(flushDueAt({ events: 1, dueAt: batchDueAt(["location"], now, fast) }, fast, now)).toBe(now + 2_000);
    expect(flushDueAt({ events: 10, dueAt: now + 2_000 }, fast, now)).toBe(now);
  });
});

describe("backoffMs", () => {
  it("doubles from 1 s to the cap, jittered within the upper half", () => {
    expect([1, 2, 3, 4, 7, 8, 20].map((n) => backoffMs(n, 60, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000, 60_000, 60_000, 60_000]);
    expect([1, 2, 3].map((n) => backoffMs(n, 60, () => 0))).toEqual([500, 1_000, 2_000]);
  });
});

describe("retryAfterSeconds", () => {
  it("asks for the time the drain needs to get back under 90 % of the mark", () => {
    expect(retryAfterSeconds({ depth: 200_000, highWater: 200_000, drainRowsPerS: 1_000, retryInMs: null })).toBe(20);
  });
  it("falls back to the flush backoff when nothing drains", () => {
    expect(retryAfterSeconds({ depth: 250_000, highWater: 200_000, drainRowsPerS: null, retryInMs: 7_500 })).toBe(8);
    expect(retryAfterSeconds({ depth: 250_000, highWater: 200_000, drainRowsPerS: null, retryInMs: null })).toBe(5);
    expect(retryAfterSeconds({ depth: 250_000, highWater: 200_000, drainRowsPerS: null, retryInMs: 0 })).toBe(1);
  });
  it("stays within 1 s .. 5 min", () => {
    expect(retryAfterSeconds({ depth: 10, highWater: 10, drainRowsPerS: 1e9, retryInMs: null })).toBe(1);
    expect(retryAfterSeconds({ depth: 1e9, highWater: 10, drainRowsPerS: 1, retryInMs: null })).toBe(300);
  });
});

describe("updateDrainRate", () => {
  it("starts at the first measurement and then moves by its weight", () => {
    const first = updateDrainRate(null, 5_000, 100);
    expect(first).toBe(50_000);
    expect(updateDrainRate(first, 1_000, 100, 0.5)).toBe(30_000);
    expect(updateDrainRate(first, 0, 100)).toBe(first);
  });
});

describe("readTunables", () => {
  it("uses the documented defaults (docs/flush.md) and rejects nonsense", () => {
    expect(t).toMatchObject({ LOCATION_MAX_AGE_S: 30, KNOCK_MAX_AGE_S: 5, FLUSH_THRESHOLD_ROWS: 1_000, FLUSH_BATCH_ROWS: 5_000, BUFFER_HIGH_WATER: 200_000 });
    expect(() => readTunables({ FLUSH_BATCH_ROWS: "lots" })).toThrow(/FLUSH_BATCH_ROWS/);
  });
});
