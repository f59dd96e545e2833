import { Hono } from "hono";
import { z } from "zod";
import { ROLES, signToken } from "../protocol/auth.ts";
import { toIssues } from "../protocol/events.ts";
import { requireRole, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { jsonBody, readJson } from "./ingest.ts";
import { withDb } from "../db/client.ts";

export const admin = new Hono<{ Bindings: Env; Variables: AuthVars }>();

const mintRequest = z.object({
  team: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/),
  user: z.string().min(1).max(128),
  role: z.enum(ROLES),
  name: z.string().max(200).optional(),
  ttlSeconds: z.number().int().positive().max(90 * 24 * 3600).optional(),
});

/** Admins mint tokens for canvassers and managers (shared as a link or QR code). */
admin.post("/v1/admin/tokens", requireRole("admin"), ...jsonBody, async (c) => {
  const req = mintRequest.safeParse(await readJson(c.req.raw));
  if (!req.success) throw new ApiError(400, "invalid_request", "the token request is not valid", toIssues(req.error));
  const { team, user, role, name, ttlSeconds } = req.data;
  const token = await signToken({ team, sub: user, role, ...(name ? { name } : {}), ...(ttlSeconds ? { ttlSeconds } : {}) }, c.env.AUTH_SECRET);
  return c.json({ token }, 201);
});

/**
 * Re-queue one lead for the dialer (e.g. a dead one, once the dialer is fixed). The lead's team comes
 * from Postgres, or from `?team=` for a lead still waiting in its team's buffer.
 */
admin.post("/v1/admin/leads/:id/redeliver", requireRole("admin"), async (c) => {
  const id = c.req.param("id");
  if (!z.uuid().safeParse(id).success) throw new ApiError(400, "invalid_request", "the lead id must be a UUID", [{ path: "id", message: "must be a UUID" }]);
  let team = c.req.query("team");
  if (!team) {
    const rows = await withDb(c.env, ({ client }) => client.query<{ team_id: string }>("SELECT team_id FROM leads WHERE id = $1", [id]));
    team = rows.rows[0]?.team_id;
  }
  if (!team) throw new ApiError(404, "not_found", `no lead ${id} (if it is still buffered, pass ?team=)`);
  const found = await c.env.TEAM_HUB.get(c.env.TEAM_HUB.idFromName(team)).redeliver(id);
  if (!found) throw new ApiError(404, "not_found", `team ${team} has no lead ${id} in its dialer outbox`);
  return c.json({ id, team, status: "pending" }, 202);
});
