import { Hono } from "hono";
import { signTicket } from "../protocol/auth.ts";
import { LIVE_PROTOCOL } from "../protocol/live.ts";
import { assertNotRevoked, requireRole, scopedTeam, verifyTicket, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";

export const live = new Hono<{ Bindings: Env; Variables: AuthVars }>();

/**
 * Identity the Worker hands the TeamHub with a socket open. Values from a token are percent-encoded
 * (encodeURIComponent): a user id may hold any printable character, a header only Latin-1.
 */
export const LIVE_HEADERS = {
  /** The team (a hub may meet its team on a socket before any ingest). */
  team: "X-Fieldpulse-Team",
  user: "X-Fieldpulse-User",
  role: "X-Fieldpulse-Role",
  /** The jti and iat of the token behind the socket (for a ticket: of the token it was taken with). */
  tokenJti: "X-Fieldpulse-Token-Jti",
  tokenIat: "X-Fieldpulse-Token-Iat",
  /** A ticket's own jti and expiry (ms): the hub spends it once (AccessList.useTicket). */
  ticketJti: "X-Fieldpulse-Ticket-Jti",
  ticketExp: "X-Fieldpulse-Ticket-Exp",
} as const;

type SocketIdentity = { sub: string; role: string; jti: string; iat: number; ticket?: { jti: string; expMs: number } };

/**
 * GET /v1/live: the team's live map over a WebSocket, served by its TeamHub (hibernatable). Browsers
 * cannot set headers on a WebSocket: the token comes as `Sec-WebSocket-Protocol: fieldpulse.v1,
 * bearer.<token>`, or a one-minute, single-use ticket as `?ticket=` (a ticket only: query strings are
 * logged by proxies). Refused before the upgrade: 401 without a valid credential, 403 for other roles.
 */
live.get("/v1/live", async (c) => {
  const ticketParam = c.req.query("ticket");
  let identity: SocketIdentity;
  let team: string;
  if (ticketParam !== undefined) {
    const t = await verifyTicket(ticketParam, c.env);
    await assertNotRevoked(c.env, t.team, { sub: t.sub, jti: t.tok, iat: t.iat });
    identity = { sub: t.sub, role: t.role, jti: t.tok, iat: t.iat, ticket: { jti: t.jti, expMs: t.exp * 1000 } };
    team = t.team;
  } else {
    await requireRole("manager", "admin")(c, async () => {});
    const claims = c.get("claims");
    identity = { sub: claims.sub, role: claims.role, jti: claims.jti, iat: claims.iat };
    team = claims.team;
  }
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError(400, "websocket_required", "GET /v1/live upgrades to a WebSocket (Upgrade: websocket)");
  }
  const offered = (c.req.header("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
  if (!identity.ticket && !offered.includes(LIVE_PROTOCOL)) {
    throw new ApiError(400, "subprotocol_required", `offer the subprotocol ${LIVE_PROTOCOL}`);
  }
  const headers = new Headers(c.req.raw.headers);
  headers.set(LIVE_HEADERS.team, encodeURIComponent(team));
  headers.set(LIVE_HEADERS.user, encodeURIComponent(identity.sub));
  headers.set(LIVE_HEADERS.role, identity.role);
  headers.set(LIVE_HEADERS.tokenJti, identity.jti);
  headers.set(LIVE_HEADERS.tokenIat, String(identity.iat));
  // Never trust these from the client: set them, or remove what it sent.
  if (identity.ticket) {
    headers.set(LIVE_HEADERS.ticketJti, identity.ticket.jti);
    headers.set(LIVE_HEADERS.ticketExp, String(identity.ticket.expMs));
  } else {
    headers.delete(LIVE_HEADERS.ticketJti);
    headers.delete(LIVE_HEADERS.ticketExp);
  }
  const hub = c.env.TEAM_HUB.get(c.env.TEAM_HUB.idFromName(team));
  const res = await hub.fetch(new Request(c.req.url, { headers }));
  // A stub's response has immutable headers; the API's security headers are added on the way out.
  if (res.webSocket) return new Response(null, { status: 101, webSocket: res.webSocket, headers: res.headers });
  return new Response(res.body, res);
});

/** A ticket for `?ticket=`: for socket clients that cannot set a subprotocol. Only a token mints one. */
live.post("/v1/live/ticket", requireRole("manager", "admin"), async (c) => {
  const { sub, team, role, name, jti } = c.get("claims");
  if (role !== "manager" && role !== "admin") throw new ApiError(403, "forbidden", "only managers and admins watch the live map");
  const { ticket, exp } = await signTicket({ sub, team, role, ...(name ? { name } : {}), tok: jti }, c.env.AUTH_SECRET);
  return c.json({ ticket, expiresInS: exp - Math.floor(Date.now() / 1000) }, 201);
});

/** The same picture as the socket's snapshot, over REST: a first paint, or a polling fallback. */
live.get("/v1/positions/latest", requireRole("manager", "admin"), async (c) => {
  const team = scopedTeam(c.get("claims"), c.req.query("team"))!;
  return c.json(await c.env.TEAM_HUB.get(c.env.TEAM_HUB.idFromName(team)).snapshot(team));
});

/** The map page's configuration: public (the basemap is no secret), so the page can draw before sign-in. */
live.get("/v1/map/config", (c) => c.json({ styleUrl: c.env.MAP_STYLE_URL || null }));
