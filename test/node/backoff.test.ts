import { describe, expect, it } from "vitest";
import { backoffCeilingMs, backoffDelayMs, type BackoffSchedule } from "../../protocol/backoff.ts";

const s = (jitter: BackoffSchedule["jitter"]): BackoffSchedule => ({ baseMs: 1_000, capMs: 10_000, jitter });

describe("backoff", () => {
  it("doubles the ceiling from the base per failure, up to the cap", () => {
    expect([0, 1, 2, 3, 4, 5, 50].map((n) => backoffCeilingMs(n, s("none")))).toEqual([1_000, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect([1, 4, 50].map((n) => backoffDelayMs(n, s("none"), () => 0))).toEqual([1_000, 8_000, 10_000]);
  });

  it("full jitter: uniform in [0, ceiling), whole milliseconds", () => {
    expect(backoffDelayMs(3, s("full"), () => 0)).toBe(0);
    expect(backoffDelayMs(3, s("full"), () => 0.5)).toBe(2_000);
    expect(backoffDelayMs(3, s("full"), () => 0.999_999)).toBe(3_999);
  });

  it("equal jitter: half the ceiling fixed, half random", () => {
    expect(backoffDelayMs(3, s("equal"), () => 0)).toBe(2_000);
    expect(backoffDelayMs(3, s("equal"), () => 1)).toBe(4_000);
    expect(backoffDelayMs(2, s("equal"), () => 0.3333)).toBe(1_333);
  });

  it("spreads real draws over the window", () => {
    const draws = Array.from({ length: 1_000 }, () => backoffDelayMs(4, s("full")));
    expect(Math.min(...draws)).toBeLessThan(1_000);
    expect(Math.max(...draws)).toBeGreaterThan(7_000);
    for (const d of draws) expect(Number.isInteger(d) && d >= 0 && d < 8_000).toBe(true);
  });
});
