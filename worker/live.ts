import { Hono } from "hono";
import { signToken } from "../protocol/auth.ts";
import { LIVE_PROTOCOL } from "../protocol/live.ts";
import { requireRole, verifyToken, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";

export const live = new Hono<{ Bindings: Env; Variables: AuthVars }>();

/** A ticket is a one-minute token for `?ticket=`, for WebSocket clients that cannot set a subprotocol. */
const TICKET_TTL_S = 60;

/**
 * GET /v1/live: the team's live map over a WebSocket, served by its TeamHub (hibernatable). Browsers
 * cannot set headers on a WebSocket: the token comes as `Sec-WebSocket-Protocol: fieldpulse.v1,
 * bearer.<token>` or `?ticket=`. Refused before the upgrade: 401 without a valid token, 403 for a field role.
 */
live.get("/v1/live", async (c, next) => {
  const ticket = c.req.query("ticket");
  if (ticket) {
    const claims = await verifyToken(ticket, c.env.AUTH_SECRET);
    if (claims.role === "field") throw new ApiError(403, "forbidden", "role 'field' may not watch the live map");
    c.set("claims", claims);
    return next();
  }
  return requireRole("manager", "admin")(c, next);
}, async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError(400, "websocket_required", "GET /v1/live upgrades to a WebSocket (Upgrade: websocket)");
  }
  const offered = (c.req.header("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
  if (!c.req.query("ticket") && !offered.includes(LIVE_PROTOCOL)) {
    throw new ApiError(400, "subprotocol_required", `offer the subprotocol ${LIVE_PROTOCOL}`);
  }
  const claims = c.get("claims");
  const headers = new Headers(c.req.raw.headers);
  headers.set("X-Fieldpulse-User", claims.sub);
  headers.set("X-Fieldpulse-Role", claims.role);
  const hub = c.env.TEAM_HUB.get(c.env.TEAM_HUB.idFromName(claims.team));
  return hub.fetch(new Request(c.req.url, { headers }));
});

live.post("/v1/live/ticket", requireRole("manager", "admin"), async (c) => {
  const { sub, team, role, name } = c.get("claims");
  const ticket = await signToken({ sub, team, role, ...(name ? { name } : {}), ttlSeconds: TICKET_TTL_S }, c.env.AUTH_SECRET);
  return c.json({ ticket, expiresInS: TICKET_TTL_S }, 201);
});

/** The same picture as the socket's snapshot, over REST: a first paint, or a polling fallback. */
live.get("/v1/positions/latest", requireRole("manager", "admin"), async (c) => {
  const team = c.get("claims").team;
  return c.json(await c.env.TEAM_HUB.get(c.env.TEAM_HUB.idFromName(team)).snapshot());
});

/** The map page's configuration: public (the basemap is no secret), so the page can draw before sign-in. */
live.get("/v1/map/config", (c) => c.json({ styleUrl: c.env.MAP_STYLE_URL || null }));
