import { Hono } from "hono";
import { z } from "zod";
import { ANY_TEAM, displayName, signToken, teamId, TEAM_ROLES, tokenId, userId } from "../protocol/auth.ts";
import { toIssues } from "../protocol/events.ts";
import { hubAccess, maxTtl, requireRole, scopedTeam, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { jsonBody, readJson } from "./ingest.ts";
import { withDb } from "../db/client.ts";
import { errorMessage, log } from "../common/log.ts";
import { revokeDevicesOf } from "./devices.ts";

export const admin = new Hono<{ Bindings: Env; Variables: AuthVars }>();

// An operator is never minted here: only with the secret (`npm run token`).
const mintRequest = z.object({
  team: teamId,
  user: userId,
  role: z.enum(TEAM_ROLES),
  name: z.optional(displayName),
  ttlSeconds: z.number().int().positive().optional(),
});

/**
 * Admins mint tokens for their own team's canvassers and managers (shared as a link or QR code);
 * operators for any team. The lifetime is at most the role's maximum: longer is a 400, not a quiet cut.
 */
admin.post("/v1/admin/tokens", requireRole("admin", "operator"), ...jsonBody, async (c) => {
  const req = mintRequest.safeParse(await readJson(c.req.raw));
  if (!req.success) throw new ApiError(400, "invalid_request", "the token request is not valid", toIssues(req.error));
  const { team, user, role, name, ttlSeconds } = req.data;
  scopedTeam(c.get("claims"), team);
  const limits = maxTtl(c.env);
  if (ttlSeconds !== undefined && ttlSeconds > limits[role]) {
    throw new ApiError(400, "invalid_request", "the token request is not valid", [{ path: "ttlSeconds", message: `a ${role} token lives at most ${limits[role]} s` }]);
  }
  const token = await signToken({ team, sub: user, role, ...(name ? { name } : {}), ...(ttlSeconds ? { ttlSeconds } : {}) }, c.env.AUTH_SECRET, limits);
  return c.json({ token }, 201);
});

/** `team: "*"` (an operator only) names the operators' own list: an operator token is revoked like any other. */
const revokeTeam = z.optional(z.union([teamId, z.literal(ANY_TEAM)], { error: `must be a team id, or "${ANY_TEAM}" for operator tokens` }));
const revokeRequest = z.union([
  z.strictObject({ team: revokeTeam, jti: tokenId }),
  z.strictObject({ team: revokeTeam, user: userId }),
]);

/**
 * Revoke one token (`{ jti }`) or everything issued to a user until now (`{ user }`), in the admin's own
 * team (an operator names `team`, or `"*"` for operator tokens). Refused on every route from then on; open
 * sockets close at once.
 */
admin.post("/v1/admin/tokens/revoke", requireRole("admin", "operator"), ...jsonBody, async (c) => {
  const req = revokeRequest.safeParse(await readJson(c.req.raw));
  if (!req.success) throw new ApiError(400, "invalid_request", "send { \"jti\": … } or { \"user\": … } (and \"team\" as an operator)", toIssues(req.error));
  const team = scopedTeam(c.get("claims"), req.data.team, { operatorsList: true });
  if (!team) throw new ApiError(400, "invalid_request", "an operator names the team", [{ path: "team", message: "required for an operator" }]);
  const what = "jti" in req.data ? { jti: req.data.jti } : { user: req.data.user };
  const done = await hubAccess(c.env, team).revoke(what);
  if (what.user === undefined || team === ANY_TEAM) return c.json({ team, ...what, revokedAt: done.at, closedSockets: done.closedSockets }, 200);
  // A person's tracker keys go with their tokens (a device key has no expiry, so it is revoked for good).
  let revokedDevices: string[];
  try {
    revokedDevices = await revokeDevicesOf(c.env, team, what.user);
  } catch (err) {
    log({ event: "revoke_devices_failed", team, error: errorMessage(err) });
    throw new ApiError(503, "database_unavailable", "the tokens are revoked, the person's tracker devices not yet: retry (revoking is idempotent)", undefined, {
      headers: { "Retry-After": "5" },
    });
  }
  return c.json({ team, ...what, revokedAt: done.at, closedSockets: done.closedSockets, revokedDevices }, 200);
});

/**
 * Re-queue one lead for the dialer (e.g. a dead one, once the dialer is fixed). An admin acts on its own
 * team's outbox; an operator names `?team=`, or the lead's team comes from Postgres.
 */
admin.post("/v1/admin/leads/:id/redeliver", requireRole("admin", "operator"), async (c) => {
  const id = c.req.param("id");
  if (!z.uuid().safeParse(id).success) throw new ApiError(400, "invalid_request", "the lead id must be a UUID", [{ path: "id", message: "must be a UUID" }]);
  let team = scopedTeam(c.get("claims"), c.req.query("team"));
  if (!team) {
    const rows = await withDb(c.env, ({ client }) => client.query<{ team_id: string }>("SELECT team_id FROM leads WHERE id = $1", [id]));
    team = rows.rows[0]?.team_id;
  }
  if (!team) throw new ApiError(404, "not_found", `no lead ${id} (if it is still buffered, pass ?team=)`);
  const found = await c.env.TEAM_HUB.get(c.env.TEAM_HUB.idFromName(team)).redeliver(id);
  if (!found) throw new ApiError(404, "not_found", `team ${team} has no lead ${id} in its dialer outbox`);
  return c.json({ id, team, status: "pending" }, 202);
});
