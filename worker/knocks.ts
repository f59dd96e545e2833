import { Hono } from "hono";
import { z } from "zod";
import { MARKS_MS, SNAPSHOT_KNOCKS } from "../protocol/live.ts";
import { toIssues } from "../protocol/events.ts";
import { requireRole, scopedTeam, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { queryTime } from "./query-time.ts";

export const knocks = new Hono<{ Bindings: Env; Variables: AuthVars }>();

const pageQuery = z.object({
  before: queryTime.optional(),
  limit: z.coerce.number().int().min(1).max(SNAPSHOT_KNOCKS).default(SNAPSHOT_KNOCKS),
});

/**
 * GET /v1/knocks?before=<epoch ms>&limit=<n>: the team's knocks of the last 24 h older than `before`,
 * newest first — the pages a map fetches when the snapshot holds only the newest SNAPSHOT_KNOCKS.
 */
knocks.get("/v1/knocks", requireRole("manager", "admin"), async (c) => {
  const q = pageQuery.safeParse({ before: c.req.query("before"), limit: c.req.query("limit") });
  if (!q.success) throw new ApiError(400, "invalid_request", "the page query is not valid", toIssues(q.error));
  const team = scopedTeam(c.get("claims"), c.req.query("team"))!;
  const hub = c.env.TEAM_HUB.get(c.env.TEAM_HUB.idFromName(team));
  const page = await hub.knocksPage(team, q.data.before ?? Date.now() + MARKS_MS, q.data.limit);
  return c.json(page);
});
