import { z } from "zod/mini";
import { KNOCK_OUTCOMES } from "./kinds.ts";

/**
 * GET /v1/history?userId&from&to&format=geojson — one person's day as the map draws it. The server
 * splits, simplifies and finds stops, so the page only draws; the page safeParses this same schema.
 */

/** A silence longer than this between two fixes splits the route (the phone was off, or no signal). */
export const HISTORY_GAP_MS = 5 * 60_000;
/** Staying within STOP_RADIUS_M for at least this long is a stop. */
export const HISTORY_STOP_MS = 5 * 60_000;
export const HISTORY_STOP_RADIUS_M = 50;
/** Douglas–Peucker tolerance: GPS noise below this is not a turn. */
export const HISTORY_SIMPLIFY_M = 5;
/** One request may span at most this much time. */
export const HISTORY_MAX_RANGE_MS = 7 * 86_400_000;

const position = z.tuple([z.number(), z.number()]);

export const routeSegment = z.object({
  type: z.literal("Feature"),
  id: z.string(),
  geometry: z.object({ type: z.literal("LineString"), coordinates: z.array(position) }),
  /** `times[i]` is when the person was at `coordinates[i]` (epoch ms): the replay slider walks it. */
  properties: z.object({ kind: z.literal("route"), from: z.number(), to: z.number(), times: z.array(z.number()), fixes: z.number() }),
});

export const stopFeature = z.object({
  type: z.literal("Feature"),
  id: z.string(),
  geometry: z.object({ type: z.literal("Point"), coordinates: position }),
  properties: z.object({ kind: z.literal("stop"), from: z.number(), to: z.number(), minutes: z.number() }),
});

export const historyKnock = z.object({
  type: z.literal("Feature"),
  id: z.string(),
  /** null: knocked by address only. */
  geometry: z.nullable(z.object({ type: z.literal("Point"), coordinates: position })),
  properties: z.object({ kind: z.literal("knock"), at: z.number(), outcome: z.enum(KNOCK_OUTCOMES), address: z.nullable(z.string()) }),
});

export const historyCollection = z.object({
  type: z.literal("FeatureCollection"),
  features: z.array(z.union([routeSegment, stopFeature, historyKnock])),
  userId: z.string(),
  from: z.number(),
  to: z.number(),
  /** More fixes than one reply carries: the route stops early. */
  truncated: z.boolean(),
});
export type HistoryCollection = z.infer<typeof historyCollection>;
export type RouteSegment = z.infer<typeof routeSegment>;
export type StopFeature = z.infer<typeof stopFeature>;
export type HistoryKnock = z.infer<typeof historyKnock>;
