import { and, asc, eq, gte, lte } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { withDb } from "../db/client.ts";
import { activities, knocks, locations } from "../db/schema.ts";
import { KNOCK_OUTCOMES, toIssues } from "../protocol/events.ts";
import { HISTORY_MAX_RANGE_MS, type HistoryCollection, type HistoryKnock } from "../protocol/history.ts";
import { userId } from "../protocol/claims.ts";
import { requireRole, scopedTeam, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { buildRoute, type Fix } from "./history-route.ts";
import { queryTime } from "./query-time.ts";

export const history = new Hono<{ Bindings: Env; Variables: AuthVars }>();

const MAX_POINTS = 20_000;
/** An undo comes seconds after its knock; look this far past `to` for undos of knocks inside the range. */
const UNDO_LOOKAHEAD_MS = 3_600_000;
const historyQuery = z
  .object({ userId, from: queryTime, to: queryTime.optional(), format: z.enum(["points", "geojson"]).default("points") })
  .transform((q) => ({ ...q, to: q.to ?? Date.now() }))
  .refine((q) => q.to > q.from, { message: "must be after from", path: ["to"] })
  .refine((q) => q.to - q.from <= HISTORY_MAX_RANGE_MS, { message: "the range may span at most 7 days", path: ["to"] });

// Ids are one per lower-cased form (the edge lower-cases event ids; a knockId in meta is a client's text).
const undoMeta = z.object({ knockId: z.string().transform((id) => id.toLowerCase()) });

/**
 * GET /v1/history?userId&from&to[&format=geojson] — one canvasser's flushed path and knocks for a
 * manager of the same team. Times are epoch ms or ISO-8601; at most 7 days, 20,000 fixes. Knocks the
 * canvasser undid are left out. `format=geojson` answers what the map draws (protocol/history.ts).
 */
history.get("/v1/history", requireRole("manager", "admin"), async (c) => {
  const q = historyQuery.safeParse(c.req.query());
  if (!q.success) throw new ApiError(400, "invalid_query", "userId and from are required; to and format are optional", toIssues(q.error));
  const { userId, from, to, format } = q.data;
  const team = scopedTeam(c.get("claims"), c.req.query("team"))!;
  const [fixes, doors, undos] = await withDb(c.env, ({ db }) => {
    const range = (t: typeof locations | typeof knocks | typeof activities, until = to) =>
      and(eq(t.teamId, team), eq(t.userId, userId), gte(t.at, new Date(from)), lte(t.at, new Date(until)));
    return Promise.all([
      db.select({ lat: locations.lat, lng: locations.lng, at: locations.at, accuracy: locations.accuracy, speed: locations.speed })
        .from(locations).where(range(locations)).orderBy(asc(locations.at)).limit(MAX_POINTS + 1),
      db.select({ id: knocks.id, lat: knocks.lat, lng: knocks.lng, at: knocks.at, outcome: knocks.outcome, address: knocks.address })
        .from(knocks).where(range(knocks)).orderBy(asc(knocks.at)).limit(MAX_POINTS),
      db.select({ meta: activities.meta })
        .from(activities).where(and(range(activities, to + UNDO_LOOKAHEAD_MS), eq(activities.kind, "knock_undo"))),
    ]);
  });
  const undone = new Set(undos.flatMap((u) => {
    const meta = undoMeta.safeParse(u.meta);
    return meta.success ? [meta.data.knockId] : [];
  }));
  const kept = doors.filter((k) => !undone.has(k.id));
  const truncated = fixes.length > MAX_POINTS;
  const path = fixes.slice(0, MAX_POINTS);
  if (format === "points") {
    return c.json({
      userId,
      from,
      to,
      truncated,
      points: path.map((f) => [f.lng, f.lat, f.at.getTime(), f.accuracy, f.speed]),
      knocks: kept.map((k) => ({ ...k, at: k.at.getTime() })),
    });
  }
  const { segments, stops } = buildRoute(path.map((f): Fix => [f.lng, f.lat, f.at.getTime()]));
  const knockFeatures = kept.map((k): HistoryKnock => ({
    type: "Feature",
    id: k.id,
    // A knock by address only has no position.
    geometry: k.lat == null || k.lng == null ? null : { type: "Point", coordinates: [k.lng, k.lat] },
    properties: { kind: "knock", at: k.at.getTime(), outcome: knockOutcome(k.outcome), address: k.address },
  }));
  return c.json({ type: "FeatureCollection", features: [...segments, ...stops, ...knockFeatures], userId, from, to, truncated } satisfies HistoryCollection);
});

const outcome = z.enum(KNOCK_OUTCOMES);
/** Rows were validated on ingest; an outcome this build does not know reads as "other", not a 500. */
function knockOutcome(raw: string): HistoryKnock["properties"]["outcome"] {
  const parsed = outcome.safeParse(raw);
  return parsed.success ? parsed.data : "other";
}
