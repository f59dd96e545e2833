import { describe, expect, it } from "vitest";
import { distanceM, keepFix, type Fix } from "../../web/field/geo-filter.ts";

const filter = { minDistanceM: 10, minIntervalS: 30 };
const t0 = 1_800_000_000_000;
const at = (lat: number, lng: number, dtS: number): Fix => ({ lat, lng, at: t0 + dtS * 1000 });
// ~1.11 m per 0.00001° of latitude.
const north = (m: number) => 52.52 + m / 111_195;

describe("distanceM", () => {
  it("measures metres on the sphere", () => {
    expect(distanceM({ lat: 52.52, lng: 13.405 }, { lat: north(100), lng: 13.405 })).toBeCloseTo(100, 0);
    expect(distanceM({ lat: 0, lng: 0 }, { lat: 0, lng: 1 })).toBeCloseTo(111_195, -2);
    expect(distanceM({ lat: 10, lng: 10 }, { lat: 10, lng: 10 })).toBe(0);
  });
});

describe("keepFix", () => {
  it("keeps the first fix", () => {
    expect(keepFix(null, at(52.52, 13.405, 0), filter)).toBe(true);
  });

  it("drops a fix both close and soon", () => {
    expect(keepFix(at(52.52, 13.405, 0), at(north(3), 13.405, 5), filter)).toBe(false);
  });

  it("keeps a fix far enough, however soon", () => {
    expect(keepFix(at(52.52, 13.405, 0), at(north(12), 13.405, 1), filter)).toBe(true);
  });

  it("keeps a fix late enough, however close (a canvasser standing at a door)", () => {
    expect(keepFix(at(52.52, 13.405, 0), at(52.52, 13.405, 30), filter)).toBe(true);
    expect(keepFix(at(52.52, 13.405, 0), at(52.52, 13.405, 29.9), filter)).toBe(false);
  });

  it("never keeps a fix that is not newer than the last kept one", () => {
    expect(keepFix(at(52.52, 13.405, 10), at(north(500), 13.405, 10), filter)).toBe(false);
    expect(keepFix(at(52.52, 13.405, 10), at(north(500), 13.405, 5), filter)).toBe(false);
  });

  it("drops unusable numbers", () => {
    expect(keepFix(null, { lat: Number.NaN, lng: 0, at: t0 }, filter)).toBe(false);
  });

  it("with a zero filter keeps every newer fix", () => {
    expect(keepFix(at(52.52, 13.405, 0), at(52.52, 13.405, 0.001), { minDistanceM: 0, minIntervalS: 0 })).toBe(true);
  });

  it("thins a dense walk to about one fix per 10 m", () => {
    // 1 m per 100 ms for 60 m: 600 fixes in, about 6 kept.
    let last: Fix | null = null;
    let kept = 0;
    for (let i = 0; i <= 600; i++) {
      const fix = at(north(i * 0.1), 13.405, i * 0.1);
      if (keepFix(last, fix, filter)) {
        kept += 1;
        last = fix;
      }
    }
    expect(kept).toBeGreaterThanOrEqual(6);
    expect(kept).toBeLessThanOrEqual(7);
  });
});
