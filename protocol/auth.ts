import { sign } from "hono/jwt";
import { DEFAULT_MAX_TTL_S, TICKET_AUDIENCE, TICKET_TTL_S, type Role, type TicketClaims, type TokenClaims } from "./claims.ts";

export {
  ANY_TEAM,
  DEFAULT_MAX_TTL_S,
  ROLES,
  TEAM_ROLES,
  TICKET_TTL_S,
  displayName,
  teamId,
  ticketClaims,
  tokenClaims,
  tokenId,
  userId,
  type Role,
  type TeamRole,
  type TicketClaims,
  type TokenClaims,
} from "./claims.ts";

export type MaxTtl = Readonly<Record<Role, number>>;

const DEFAULT_TTL_S = 12 * 3_600;

/** A fresh token id: random, so a revocation by jti names exactly one token. */
export function newTokenId(): string {
  return crypto.randomUUID();
}

/**
 * Mint a token (the admin route, `npm run token`, the simulator and tests all sign the same way). The
 * lifetime is capped at the role's maximum (`maxTtl`), so a token this signs is one the Worker accepts;
 * callers that must refuse a longer request (the admin route) check before calling. A negative
 * `ttlSeconds` mints an already expired token (tests).
 */
export async function signToken(
  claims: Omit<TokenClaims, "exp" | "iat" | "jti" | "aud"> & { ttlSeconds?: number; jti?: string },
  secret: string,
  maxTtl: MaxTtl = DEFAULT_MAX_TTL_S,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { ttlSeconds = Math.min(DEFAULT_TTL_S, maxTtl[claims.role]), jti = newTokenId(), ...rest } = claims;
  const ttl = Math.min(ttlSeconds, maxTtl[claims.role]);
  // An expired token (negative ttl) keeps exp after iat, as the claims require: it was issued in the past.
  const iat = ttl > 0 ? now : now + ttl - 60;
  return sign({ ...rest, jti, iat, exp: now + ttl }, secret, "HS256");
}

/** Mint a live-map ticket for a manager's or admin's token: aud "live", one minute, its own jti. */
export async function signTicket(
  from: Pick<TicketClaims, "sub" | "team" | "role" | "name"> & { tok: string },
  secret: string,
): Promise<{ ticket: string; jti: string; exp: number }> {
  const iat = Math.floor(Date.now() / 1000);
  const jti = newTokenId();
  const exp = iat + TICKET_TTL_S;
  const claims: TicketClaims = { aud: TICKET_AUDIENCE, sub: from.sub, team: from.team, role: from.role, ...(from.name ? { name: from.name } : {}), tok: from.tok, jti, iat, exp };
  return { ticket: await sign(claims, secret, "HS256"), jti, exp };
}
