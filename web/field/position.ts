import { z } from "zod/mini";
import type { POSITION_SOURCES } from "../../protocol/events.ts";
import type { Position } from "./event-factory.ts";

/**
 * Where a knock goes when there is no fresh GPS fix: the typed address (no coordinates), or the last known
 * fix with an accuracy grown by how far a canvasser could have walked since — so the number tells the truth.
 */
export type PositionSource = (typeof POSITION_SOURCES)[number];

export type KnockPlace =
  | { source: "gps"; lat: number; lng: number; accuracy?: number }
  | { source: "last_known"; lat: number; lng: number; accuracy: number; fixAt: number }
  | { source: "address" };

/** A brisk walk between doors. */
export const WALK_M_PER_S = 1.5;
/** Accuracy assumed for a fix that did not report one. */
const UNKNOWN_ACCURACY_M = 50;
/** Older than this, a last known fix says little about where the door is. */
export const LAST_KNOWN_MAX_AGE_MS = 12 * 60 * 60 * 1000;
const MAX_ACCURACY_M = 100_000;

export function agedAccuracy(fix: Pick<Position, "accuracy" | "at">, now: number): number {
  const walked = (Math.max(0, now - fix.at) / 1000) * WALK_M_PER_S;
  return Math.min(MAX_ACCURACY_M, Math.round((fix.accuracy ?? UNKNOWN_ACCURACY_M) + walked));
}

/** Pure: the place for a knock made without a GPS fix, or null when the canvasser must type an address. */
export function placeWithoutFix(address: string, lastKnown: Position | null, now: number): KnockPlace | null {
  if (address.trim()) return { source: "address" };
  if (lastKnown && now - lastKnown.at <= LAST_KNOWN_MAX_AGE_MS) {
    return { source: "last_known", lat: lastKnown.lat, lng: lastKnown.lng, accuracy: agedAccuracy(lastKnown, now), fixAt: lastKnown.at };
  }
  return null;
}

export const gpsPlace = (p: Position): KnockPlace => ({ source: "gps", lat: p.lat, lng: p.lng, ...(p.accuracy !== undefined ? { accuracy: p.accuracy } : {}) });

/** The last fix the phone saw, across reloads and shifts (localStorage). */
const LAST_KNOWN_KEY = "fieldpulse.lastKnown";
const storedFix = z.object({ lat: z.number(), lng: z.number(), at: z.number(), accuracy: z.optional(z.number().check(z.nonnegative())) });

export function rememberFix(p: Position, storage: Pick<Storage, "setItem"> = localStorage): void {
  storage.setItem(LAST_KNOWN_KEY, JSON.stringify({ lat: p.lat, lng: p.lng, at: p.at, ...(p.accuracy !== undefined ? { accuracy: p.accuracy } : {}) }));
}

export function lastKnownFix(storage: Pick<Storage, "getItem"> = localStorage): Position | null {
  try {
    const parsed = storedFix.safeParse(JSON.parse(storage.getItem(LAST_KNOWN_KEY) ?? "null"));
    if (!parsed.success) return null;
    const { accuracy, ...rest } = parsed.data;
    return accuracy === undefined ? rest : { ...rest, accuracy };
  } catch {
    return null;
  }
}
