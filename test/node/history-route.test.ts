import { describe, expect, it } from "vitest";
import { buildRoute, findStops, simplify, splitAtGaps, type Fix } from "../../worker/history-route.ts";

const MIN = 60_000;
const t0 = Date.UTC(2026, 11, 1, 9);
/** A straight walk east, one fix a minute, ~34 m apart at 52°N. */
const walk = (n: number, start = t0, lng0 = 13.4): Fix[] => Array.from({ length: n }, (_, i) => [lng0 + i * 0.0005, 52.5, start + i * MIN] as const);

describe("history route", () => {
  it("splits at silences longer than 5 minutes, not at 5 minutes exactly", () => {
    const fixes = [...walk(3), [13.5, 52.5, t0 + 2 * MIN + 5 * MIN] as const, [13.6, 52.5, t0 + 13 * MIN] as const];
    expect(splitAtGaps(fixes).map((r) => r.length)).toEqual([4, 1]);
  });

  it("simplifies a straight line to its ends and keeps a corner", () => {
    expect(simplify(walk(10))).toEqual([walk(10)[0], walk(10)[9]]);
    const corner: Fix[] = [...walk(5), [13.4 + 4 * 0.0005, 52.501, t0 + 5 * MIN], [13.4 + 4 * 0.0005, 52.502, t0 + 6 * MIN]];
    expect(simplify(corner).map((f) => f[2])).toEqual([t0, t0 + 4 * MIN, t0 + 6 * MIN]);
  });

  it("marks a stay of 5 minutes within 50 m as a stop, and a 4-minute one not", () => {
    const stay = (minutes: number): Fix[] => Array.from({ length: minutes + 1 }, (_, i) => [13.41 + (i % 2) * 0.0001, 52.5, t0 + 20 * MIN + i * MIN]);
    expect(findStops([...walk(3), ...stay(5)])).toMatchObject([{ from: t0 + 20 * MIN, to: t0 + 25 * MIN }]);
    expect(findStops([...walk(3), ...stay(4)])).toEqual([]);
  });

  it("builds one segment per run with times aligned to the kept points", () => {
    const { segments, stops } = buildRoute([...walk(4), ...walk(4, t0 + 30 * MIN, 13.5)]);
    expect(segments.map((s) => [s.properties.from, s.properties.to, s.properties.times.length, s.geometry.coordinates.length])).toEqual([
      [t0, t0 + 3 * MIN, 2, 2],
      [t0 + 30 * MIN, t0 + 33 * MIN, 2, 2],
    ]);
    expect(stops).toEqual([]);
  });
});
