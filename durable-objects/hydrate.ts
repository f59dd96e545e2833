import { z } from "zod";
import { withDb, type DbEnv } from "../db/client.ts";
import { liveKnock, liveLead, livePoint, MARKS_MS, TRAIL_MS } from "../protocol/live.ts";
import { withDeadline } from "./flush.ts";
import type { LiveHistory } from "./live.ts";
import { KNOCK_UNDO } from "./live.ts";

/** Upper bounds of the one read a starting object makes: enough for a big team's day, never unbounded. */
const MAX_PEOPLE = 20_000;
const MAX_TRAIL_POINTS = 100_000;
const MAX_MARKS = 100_000;

const ms = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

/**
 * The live picture Postgres holds for a team (what was flushed before this object started): last fix per
 * person in the marks window, 15-minute trails, the window's knocks and leads, undone knocks. One statement.
 */
const HISTORY_SQL = `
SELECT
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT DISTINCT ON (user_id) user_id AS "userId", lat, lng, ${ms("at")} AS at, accuracy, speed, heading, battery
     FROM locations WHERE team_id = $1 AND at > to_timestamp($2 / 1000.0)
     ORDER BY user_id, at DESC LIMIT ${MAX_PEOPLE}) x) AS latest,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT user_id AS "userId", lat, lng, ${ms("at")} AS at
     FROM locations WHERE team_id = $1 AND at > to_timestamp($3 / 1000.0)
     ORDER BY at DESC LIMIT ${MAX_TRAIL_POINTS}) x) AS trails,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT id::text AS id, user_id AS "userId", lat, lng, accuracy, ${ms("at")} AS at, outcome, address, notes
     FROM knocks WHERE team_id = $1 AND at > to_timestamp($2 / 1000.0)
     ORDER BY at DESC LIMIT ${MAX_MARKS}) x) AS knocks,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT id::text AS id, user_id AS "userId", name AS "leadName", lat, lng, ${ms("at")} AS at, interest, address, phone, email, notes
     FROM leads WHERE team_id = $1 AND at > to_timestamp($2 / 1000.0)
     ORDER BY at DESC LIMIT ${MAX_MARKS}) x) AS leads,
  (SELECT coalesce(json_agg(json_build_object('id', lower(meta->>'knockId'), 'userId', user_id)), '[]') FROM (
     SELECT meta, user_id FROM activities WHERE team_id = $1 AND kind = '${KNOCK_UNDO}' AND at > to_timestamp($2 / 1000.0)
     LIMIT ${MAX_MARKS}) x) AS undone
`;

const stripNulls = (v: unknown) =>
  typeof v === "object" && v !== null ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null)) : v;
const list = <T extends z.core.$ZodType>(item: T) => z.array(z.preprocess(stripNulls, item));

const historyRow = z.object({
  latest: list(livePoint),
  trails: list(z.object({ userId: z.string(), lat: z.number(), lng: z.number(), at: z.number() })),
  knocks: list(liveKnock),
  leads: list(liveLead),
  undone: z.array(z.object({ id: z.string().nullable(), userId: z.string() })).transform((rows) =>
    rows.flatMap((r) => (r.id === null ? [] : [{ id: r.id, userId: r.userId }]))),
});

export async function readLiveHistory(env: DbEnv, teamId: string, now: number, timeoutMs = 5_000): Promise<LiveHistory> {
  const rows = await withDeadline(4 * timeoutMs, "live history read", () =>
    withDb(env, ({ client }) => client.query(HISTORY_SQL, [teamId, now - MARKS_MS, now - TRAIL_MS]), { connectTimeoutMs: timeoutMs }));
  return historyRow.parse(rows.rows[0]);
}
