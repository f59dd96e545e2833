import {
  activityEvent, knockEvent, locationEvent,
  type ActivityEvent, type Issue, type KnockEvent, type KnockOutcome, type LocationEvent,
} from "../../protocol/events.ts";
import { uuidv7 } from "../../protocol/uuidv7.ts";
import type { KnockPlace } from "./position.ts";

/**
 * Every event the phone makes, built and checked against the same zod schemas the server uses, with its
 * UUIDv7 id given here, at creation.
 */
export type Made<T> = { ok: true; event: T } | { ok: false; issues: Issue[] };

export const issuesOf = (error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): Issue[] =>
  error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));

/** Optional numbers: GPS reports null or NaN for what it does not know; the wire omits them. */
const opt = (v: number | null | undefined, ok: (n: number) => boolean = () => true) =>
  typeof v === "number" && Number.isFinite(v) && ok(v) ? v : undefined;

/** Optional text: blank is absent. */
export const text = (v: string | null | undefined) => (v && v.trim() ? v.trim() : undefined);

export function strip<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

export interface Position {
  lat: number;
  lng: number;
  at: number;
  accuracy?: number;
  speed?: number;
  heading?: number;
  altitude?: number;
}

export function positionFrom(p: GeolocationPosition): Position {
  const c = p.coords;
  return strip({
    lat: c.latitude,
    lng: c.longitude,
    at: Math.round(p.timestamp),
    accuracy: opt(c.accuracy, (n) => n >= 0 && n <= 100_000),
    speed: opt(c.speed, (n) => n >= 0 && n <= 1_000),
    heading: opt(c.heading, (n) => n >= 0 && n <= 360),
    altitude: opt(c.altitude, (n) => n >= -1_000 && n <= 100_000),
  });
}

export function makeLocation(p: Position, battery?: number): Made<LocationEvent> {
  const parsed = locationEvent.safeParse(strip({ id: uuidv7(), type: "location", ...p, battery: opt(battery, (n) => n >= 0 && n <= 1) }));
  return parsed.success ? { ok: true, event: parsed.data } : { ok: false, issues: issuesOf(parsed.error) };
}

/** A knock at a place: GPS, the last known fix (with its grown accuracy), or an address alone. */
export function makeKnock(place: KnockPlace, outcome: KnockOutcome, extra: { address?: string; notes?: string } = {}, at = Date.now()): Made<KnockEvent> {
  const where = place.source === "address" ? {} : { lat: place.lat, lng: place.lng, accuracy: opt(place.accuracy, (n) => n >= 0 && n <= 100_000) };
  const parsed = knockEvent.safeParse(strip({
    id: uuidv7(), type: "knock", at, ...where, positionSource: place.source, outcome, address: text(extra.address), notes: text(extra.notes),
  }));
  return parsed.success ? { ok: true, event: parsed.data } : { ok: false, issues: issuesOf(parsed.error) };
}

export function makeActivity(kind: string, extra: { description?: string; meta?: Record<string, string | number | boolean> } = {}, at = Date.now()): Made<ActivityEvent> {
  const parsed = activityEvent.safeParse(strip({ id: uuidv7(), type: "activity", at, kind, description: text(extra.description), meta: extra.meta }));
  return parsed.success ? { ok: true, event: parsed.data } : { ok: false, issues: issuesOf(parsed.error) };
}
