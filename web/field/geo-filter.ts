/** Which GPS fixes are worth sending: the rest add nothing to a trail (pure). */

export interface Fix {
  lat: number;
  lng: number;
  /** Epoch ms of the fix (the device's GPS time). */
  at: number;
}

export interface FixFilter {
  /** A fix this close to the last kept one … */
  minDistanceM: number;
  /** … and this soon after it is dropped. */
  minIntervalS: number;
}

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance in metres (haversine). */
export function distanceM(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Keep a fix unless it is both closer than `minDistanceM` and sooner than `minIntervalS` after the last
 * kept one. A fix not newer than the last kept one (a replay, a clock step) is never kept.
 */
export function keepFix(lastKept: Fix | null, next: Fix, filter: FixFilter): boolean {
  if (!Number.isFinite(next.lat) || !Number.isFinite(next.lng) || !Number.isFinite(next.at)) return false;
  if (!lastKept) return true;
  const elapsedMs = next.at - lastKept.at;
  if (elapsedMs <= 0) return false;
  if (elapsedMs >= filter.minIntervalS * 1000) return true;
  return distanceM(lastKept, next) >= filter.minDistanceM;
}
