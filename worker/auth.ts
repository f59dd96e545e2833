import { createMiddleware } from "hono/factory";
import { verify } from "hono/jwt";
import { maxTtl } from "../common/config.ts";
import { ANY_TEAM, teamId, ticketClaims, tokenClaims, type Role, type TicketClaims, type TokenClaims } from "../protocol/auth.ts";
import { ApiError } from "./errors.ts";

export type AuthVars = { claims: TokenClaims };

const BEARER = /^Bearer\s+(\S+)$/i;
/** Browsers cannot set headers on a WebSocket: the token rides in Sec-WebSocket-Protocol as `bearer.<jwt>`. */
const PROTOCOL_BEARER = /(?:^|,)\s*bearer\.([A-Za-z0-9_\-.]+)\s*(?:,|$)/;

export function tokenFrom(req: Request): string | undefined {
  const header = req.headers.get("Authorization");
  if (header) return BEARER.exec(header)?.[1];
  // Only a WebSocket upgrade may carry it there; a REST call sends the Authorization header.
  const protocols = req.headers.get("Upgrade")?.toLowerCase() === "websocket" ? req.headers.get("Sec-WebSocket-Protocol") : null;
  if (protocols) return PROTOCOL_BEARER.exec(protocols)?.[1];
  return undefined;
}

/** The longest lifetime (exp - iat) a token of each role may have (common/config.ts reads the vars). */
export { maxTtl };

async function verifiedPayload(raw: string, secret: string): Promise<unknown> {
  try {
    return await verify(raw, secret, "HS256");
  } catch (err) {
    const expired = err instanceof Error && err.name === "JwtTokenExpired";
    throw new ApiError(401, expired ? "token_expired" : "invalid_token", expired ? "the token has expired" : "the token is not valid");
  }
}

const hasAudience = (payload: unknown) => typeof payload === "object" && payload !== null && "aud" in payload;

/** A bearer token: signed, not a ticket, claims valid (identifiers included), lifetime within its role's maximum. */
export async function verifyToken(raw: string, env: Env): Promise<TokenClaims> {
  const payload = await verifiedPayload(raw, env.AUTH_SECRET);
  if (hasAudience(payload)) {
    throw new ApiError(401, "ticket_not_accepted", "a live-map ticket is accepted only by GET /v1/live?ticket=; send a token");
  }
  const claims = tokenClaims.safeParse(payload);
  if (!claims.success) throw new ApiError(401, "invalid_token", "the token's claims are not valid");
  const max = maxTtl(env)[claims.data.role];
  if (claims.data.exp - claims.data.iat > max) {
    throw new ApiError(401, "invalid_token", `the token lives longer than a ${claims.data.role} token may (${max} s)`);
  }
  return claims.data;
}

/** A live-map ticket, and nothing else: a token in `?ticket=` is refused (query strings end up in logs). */
export async function verifyTicket(raw: string, env: Env): Promise<TicketClaims> {
  const payload = await verifiedPayload(raw, env.AUTH_SECRET);
  const claims = ticketClaims.safeParse(payload);
  if (!claims.success) {
    throw new ApiError(401, "invalid_ticket", "?ticket= takes a ticket from POST /v1/live/ticket (a token goes in Sec-WebSocket-Protocol)");
  }
  return claims.data;
}

/** The team's TeamHub, which holds its revocations (durable-objects/access.ts) and sees all its traffic. */
export function hubAccess(env: Env, team: string) {
  return env.TEAM_HUB.get(env.TEAM_HUB.idFromName(team));
}

/** Refuse a revoked token with 401 (one RPC to the team's hub, which answers from memory). */
export async function assertNotRevoked(env: Env, team: string, token: { sub: string; jti: string; iat: number }): Promise<void> {
  if (!(await hubAccess(env, team).authorize(token))) {
    throw new ApiError(401, "token_revoked", "the token has been revoked; ask your admin for a new one");
  }
}

/**
 * Authenticate a bearer token and allow only the given roles. Team roles act on their own team; a
 * manager's or admin's token is also checked against its team's revocations here, an operator's against the
 * operators' list (hub "*"). A field token is checked by the hub inside ingest (no extra call per event batch).
 */
export function requireRole(...roles: Role[]) {
  return createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
    if (!c.env.AUTH_SECRET) throw new Error("AUTH_SECRET is not configured");
    const token = tokenFrom(c.req.raw);
    if (!token) {
      if (c.req.header("Authorization")) throw new ApiError(401, "invalid_token", "Authorization must be \"Bearer <token>\": one token, nothing else");
      throw new ApiError(401, "missing_token", "send Authorization: Bearer <token>");
    }
    const claims = await verifyToken(token, c.env);
    if (!roles.includes(claims.role)) {
      throw new ApiError(403, "forbidden", `role '${claims.role}' may not do this; needs ${roles.join(" or ")}`);
    }
    if (claims.role === "manager" || claims.role === "admin") await assertNotRevoked(c.env, claims.team, claims);
    // Operators' revocations live in the TeamHub named "*", which no team can be named (protocol/claims.ts).
    if (claims.role === "operator") await assertNotRevoked(c.env, ANY_TEAM, claims);
    c.set("claims", claims);
    await next();
  });
}

/**
 * The team a request acts on: a team role's own team (naming another is 403), or for an operator the
 * team it names (`undefined` when it names none: "every team", where the route allows it).
 */
export function scopedTeam(claims: TokenClaims, requested: string | undefined, opts: { operatorsList?: boolean } = {}): string | undefined {
  if (claims.role === "operator") {
    // Every name an operator sends becomes a Durable Object: only what can be a team id (or "*", where allowed).
    const ok = requested === undefined || teamId.safeParse(requested).success || (opts.operatorsList === true && requested === ANY_TEAM);
    if (!ok) throw new ApiError(400, "invalid_request", "team is not a team id", [{ path: "team", message: "must be 1 to 128 characters of [A-Za-z0-9._:-]" }]);
    return requested;
  }
  if (requested !== undefined && requested !== claims.team) {
    throw new ApiError(403, "forbidden", `${claims.role === "admin" ? "an" : "a"} ${claims.role} acts on its own team (${claims.team}) only`);
  }
  return claims.team;
}
