import { and, asc, eq, gte, lte } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { withDb } from "../db/client.ts";
import { knocks, locations } from "../db/schema.ts";
import { toIssues } from "../protocol/events.ts";
import { requireRole, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";

export const history = new Hono<{ Bindings: Env; Variables: AuthVars }>();

const MAX_RANGE_MS = 24 * 3_600_000;
const MAX_POINTS = 20_000;

const when = z.union([z.coerce.number().int().positive(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))]);
const historyQuery = z
  .object({ userId: z.string().min(1).max(128), from: when, to: when.optional() })
  .transform((q) => ({ ...q, to: q.to ?? Date.now() }))
  .refine((q) => q.to > q.from, { message: "must be after from", path: ["to"] })
  .refine((q) => q.to - q.from <= MAX_RANGE_MS, { message: "the range may span at most 24 hours", path: ["to"] });

/**
 * GET /v1/history?userId&from&to — one canvasser's path and knocks from Postgres (what was flushed),
 * for a manager of the same team. Times are epoch ms or ISO-8601; at most 24 hours, 20,000 fixes.
 */
history.get("/v1/history", requireRole("manager", "admin"), async (c) => {
  const q = historyQuery.safeParse(c.req.query());
  if (!q.success) throw new ApiError(400, "invalid_query", "userId and from are required; to is optional", toIssues(q.error));
  const { userId, from, to } = q.data;
  const team = c.get("claims").team;
  const [fixes, doors] = await withDb(c.env, ({ db }) => {
    const range = (t: typeof locations | typeof knocks) =>
      and(eq(t.teamId, team), eq(t.userId, userId), gte(t.at, new Date(from)), lte(t.at, new Date(to)));
    return Promise.all([
      db.select({ lat: locations.lat, lng: locations.lng, at: locations.at, accuracy: locations.accuracy, speed: locations.speed })
        .from(locations).where(range(locations)).orderBy(asc(locations.at)).limit(MAX_POINTS + 1),
      db.select({ id: knocks.id, lat: knocks.lat, lng: knocks.lng, at: knocks.at, outcome: knocks.outcome, address: knocks.address })
        .from(knocks).where(range(knocks)).orderBy(asc(knocks.at)).limit(MAX_POINTS),
    ]);
  });
  return c.json({
    userId,
    from,
    to,
    truncated: fixes.length > MAX_POINTS,
    points: fixes.slice(0, MAX_POINTS).map((f) => [f.lng, f.lat, f.at.getTime(), f.accuracy, f.speed]),
    knocks: doors.map((k) => ({ ...k, at: k.at.getTime() })),
  });
});
