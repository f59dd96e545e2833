import { and, desc, eq, inArray, isNull } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { withDb } from "../db/client.ts";
import { devices } from "../db/schema.ts";
import { displayName, teamId, userId } from "../protocol/auth.ts";
import { mintDeviceKey, verifyDeviceId } from "../protocol/device-key.ts";
import { toIssues } from "../protocol/events.ts";
import { requireRole, scopedTeam, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { jsonBody, readJson } from "./ingest.ts";

/**
 * Device keys for tracker apps (issue 15). An admin registers a tracker for a person of its own team (an
 * operator names the team); the key is its own credential, so Postgres serves only this list, never the
 * ingest path. Revocation goes to the team's TeamHub, which every fix of the team passes.
 */
export const deviceAdmin = new Hono<{ Bindings: Env; Variables: AuthVars }>();

const MAX_LISTED = 1_000;

const registerRequest = z.strictObject({
  team: z.optional(teamId),
  user: userId,
  /** What the admin calls the tracker ("Ann's phone"); shown in the list only. */
  label: z.optional(displayName),
});

function teamOrRefuse(team: string | undefined): string {
  if (!team) throw new ApiError(400, "invalid_request", "an operator names the team", [{ path: "team", message: "required for an operator" }]);
  return team;
}

deviceAdmin.post("/v1/admin/devices", requireRole("admin", "operator"), ...jsonBody, async (c) => {
  const req = registerRequest.safeParse(await readJson(c.req.raw));
  if (!req.success) throw new ApiError(400, "invalid_request", "send { \"user\": …, \"label\"?: … } (and \"team\" as an operator)", toIssues(req.error));
  const claims = c.get("claims");
  const team = teamOrRefuse(scopedTeam(claims, req.data.team));
  const key = await mintDeviceKey(team, req.data.user, c.env.AUTH_SECRET);
  const createdAt = new Date();
  await withDb(c.env, ({ db }) =>
    db.insert(devices).values({ deviceId: key.deviceId, teamId: team, userId: req.data.user, label: req.data.label ?? null, createdBy: claims.sub, createdAt }),
  );
  const origin = new URL(c.req.url).origin;
  return c.json(
    {
      deviceId: key.deviceId,
      secret: key.secret,
      team,
      user: req.data.user,
      ...(req.data.label ? { label: req.data.label } : {}),
      createdAt: createdAt.toISOString(),
      setup: {
        traccarClient: { serverUrl: `${origin}/v1/compat/osmand`, deviceIdentifier: key.deviceId },
        owntracks: { mode: "HTTP", url: `${origin}/v1/compat/owntracks`, username: key.deviceId, password: key.secret },
      },
    },
    201,
  );
});

deviceAdmin.get("/v1/admin/devices", requireRole("admin", "operator"), async (c) => {
  const team = teamOrRefuse(scopedTeam(c.get("claims"), c.req.query("team")));
  const rows = await withDb(c.env, ({ db }) =>
    db.select().from(devices).where(eq(devices.teamId, team)).orderBy(desc(devices.createdAt)).limit(MAX_LISTED),
  );
  return c.json({
    team,
    devices: rows.map((r) => ({
      deviceId: r.deviceId,
      user: r.userId,
      label: r.label,
      createdBy: r.createdBy,
      createdAt: r.createdAt.toISOString(),
      revokedAt: r.revokedAt?.toISOString() ?? null,
    })),
  });
});

/**
 * Revoke one device: the hub first (it is what refuses the device), then Postgres mirrors it for the list.
 * Answers the time Postgres keeps — the first revocation's: revoking again changes nothing, so it tells the same
 * time the list shows (the hub's time only if Postgres has no row for the device).
 */
async function revokeDevice(env: Env, team: string, deviceId: string): Promise<Date> {
  const done = await env.TEAM_HUB.get(env.TEAM_HUB.idFromName(team)).revoke({ jti: deviceId, forever: true });
  const now = new Date(done.at);
  return withDb(env, async ({ db }) => {
    const [updated] = await db
      .update(devices)
      .set({ revokedAt: now })
      .where(and(eq(devices.deviceId, deviceId), isNull(devices.revokedAt)))
      .returning({ revokedAt: devices.revokedAt });
    if (updated?.revokedAt) return updated.revokedAt;
    const [kept] = await db.select({ revokedAt: devices.revokedAt }).from(devices).where(eq(devices.deviceId, deviceId)).limit(1);
    return kept?.revokedAt ?? now;
  });
}

/**
 * A person's tracker devices that are still live, revoked one by one (POST /v1/admin/tokens/revoke with `user`:
 * someone who leaves loses their phone's token and their Traccar/OwnTracks keys together). A device registered
 * afterwards works. Idempotent, so a retry after a failure finishes the job.
 */
export async function revokeDevicesOf(env: Env, team: string, user: string): Promise<string[]> {
  // One connection for the lot: the list, then (after the hub refuses each) one UPDATE.
  return withDb(env, async ({ db }) => {
    const live = await db
      .select({ deviceId: devices.deviceId })
      .from(devices)
      .where(and(eq(devices.teamId, team), eq(devices.userId, user), isNull(devices.revokedAt)));
    const ids = live.map((d) => d.deviceId);
    if (ids.length === 0) return ids;
    const hub = env.TEAM_HUB.get(env.TEAM_HUB.idFromName(team));
    let at = Date.now();
    for (const id of ids) at = (await hub.revoke({ jti: id, forever: true })).at;
    await db.update(devices).set({ revokedAt: new Date(at) }).where(and(inArray(devices.deviceId, ids), isNull(devices.revokedAt)));
    return ids;
  });
}

deviceAdmin.post("/v1/admin/devices/:id/revoke", requireRole("admin", "operator"), async (c) => {
  // The key names its team; an admin of another team gets 403, as for any other team's resource.
  const device = await verifyDeviceId(c.req.param("id"), c.env.AUTH_SECRET);
  if (!device) throw new ApiError(404, "not_found", "no such device");
  scopedTeam(c.get("claims"), device.team);
  // A retry fixes a lost Postgres update: the hub's refusal is what counts.
  const revokedAt = await revokeDevice(c.env, device.team, device.deviceId);
  return c.json({ deviceId: device.deviceId, team: device.team, user: device.user, revokedAt: revokedAt.toISOString() }, 200);
});
