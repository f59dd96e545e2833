import {
  HISTORY_GAP_MS,
  HISTORY_SIMPLIFY_M,
  HISTORY_STOP_MS,
  HISTORY_STOP_RADIUS_M,
  type RouteSegment,
  type StopFeature,
} from "../protocol/history.ts";

/** A fix as history reads it: [lng, lat, atMs]. */
export type Fix = readonly [number, number, number];

const EARTH_M = 6_371_008.8;
const RAD = Math.PI / 180;

/** Metres between two fixes; equirectangular is exact enough at a street's scale. */
export function metres(a: Fix | readonly [number, number], b: Fix | readonly [number, number]): number {
  const x = (b[0] - a[0]) * RAD * Math.cos(((a[1] + b[1]) / 2) * RAD);
  const y = (b[1] - a[1]) * RAD;
  return Math.hypot(x, y) * EARTH_M;
}

/** Runs of fixes with no silence longer than `gapMs` between neighbours (fixes in time order). */
export function splitAtGaps(fixes: readonly Fix[], gapMs = HISTORY_GAP_MS): Fix[][] {
  const runs: Fix[][] = [];
  let run: Fix[] = [];
  for (const f of fixes) {
    const last = run[run.length - 1];
    if (last && f[2] - last[2] > gapMs) {
      runs.push(run);
      run = [];
    }
    run.push(f);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** Distance from p to the segment a–b, in metres (local flat projection around a). */
function offLine(p: Fix, a: Fix, b: Fix): number {
  const k = Math.cos(a[1] * RAD);
  const [bx, by] = [(b[0] - a[0]) * k, b[1] - a[1]];
  const [px, py] = [(p[0] - a[0]) * k, p[1] - a[1]];
  const len2 = bx * bx + by * by;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, (px * bx + py * by) / len2));
  return Math.hypot(px - t * bx, py - t * by) * RAD * EARTH_M;
}

/** Douglas–Peucker, iterative (a day of fixes would overflow a recursive stack); keeps the ends. */
export function simplify(run: readonly Fix[], toleranceM = HISTORY_SIMPLIFY_M): Fix[] {
  if (run.length <= 2) return [...run];
  const keep = new Uint8Array(run.length);
  keep[0] = keep[run.length - 1] = 1;
  const stack: [number, number][] = [[0, run.length - 1]];
  while (stack.length > 0) {
    const [first, last] = stack.pop()!;
    let worst = 0;
    let at = -1;
    for (let i = first + 1; i < last; i++) {
      const d = offLine(run[i]!, run[first]!, run[last]!);
      if (d > worst) [worst, at] = [d, i];
    }
    if (at !== -1 && worst > toleranceM) {
      keep[at] = 1;
      stack.push([first, at], [at, last]);
    }
  }
  return run.filter((_, i) => keep[i] === 1);
}

/**
 * Stops: a stretch of fixes all within `radiusM` of its first fix lasting at least `minMs`. The gap
 * between two runs is not a stop (no one knows where the person was), so stops are found per run.
 */
export function findStops(run: readonly Fix[], minMs = HISTORY_STOP_MS, radiusM = HISTORY_STOP_RADIUS_M): { at: [number, number]; from: number; to: number }[] {
  const stops: { at: [number, number]; from: number; to: number }[] = [];
  let i = 0;
  while (i < run.length) {
    const anchor = run[i]!;
    let j = i + 1;
    while (j < run.length && metres(anchor, run[j]!) <= radiusM) j++;
    const end = run[j - 1]!;
    if (end[2] - anchor[2] >= minMs) {
      let [lng, lat] = [0, 0];
      for (let k = i; k < j; k++) [lng, lat] = [lng + run[k]![0], lat + run[k]![1]];
      stops.push({ at: [lng / (j - i), lat / (j - i)], from: anchor[2], to: end[2] });
      i = j;
    } else {
      i++;
    }
  }
  return stops;
}

/** The drawable day: simplified route segments (one per run of two fixes or more) and stops. */
export function buildRoute(fixes: readonly Fix[]): { segments: RouteSegment[]; stops: StopFeature[] } {
  const segments: RouteSegment[] = [];
  const stops: StopFeature[] = [];
  for (const run of splitAtGaps(fixes)) {
    for (const s of findStops(run)) {
      stops.push({
        type: "Feature",
        id: `stop-${s.from}`,
        geometry: { type: "Point", coordinates: s.at },
        properties: { kind: "stop", from: s.from, to: s.to, minutes: Math.round((s.to - s.from) / 60_000) },
      });
    }
    if (run.length < 2) continue;
    const kept = simplify(run);
    segments.push({
      type: "Feature",
      id: `route-${run[0]![2]}`,
      geometry: { type: "LineString", coordinates: kept.map((f) => [f[0], f[1]]) },
      properties: { kind: "route", from: run[0]![2], to: run[run.length - 1]![2], times: kept.map((f) => f[2]), fixes: run.length },
    });
  }
  return { segments, stops };
}
