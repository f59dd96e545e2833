import { z } from "zod/mini";

// Kept apart from auth.ts (which signs with hono/jwt) so that pages can read claims without bundling a signer.

/** Team roles act on their own team only; `operator` is deployment-wide and minted only with the secret. */
export const TEAM_ROLES = ["field", "manager", "admin"] as const;
export const ROLES = [...TEAM_ROLES, "operator"] as const;
export type TeamRole = (typeof TEAM_ROLES)[number];
export type Role = (typeof ROLES)[number];

/** An operator token names no team: `team` holds this marker, which no team id can equal (see `teamId`). */
export const ANY_TEAM = "*";

/** Upper bounds on a token's lifetime (`exp - iat`), per role; the Worker may lower or raise them by env. */
export const DEFAULT_MAX_TTL_S = { field: 30 * 86_400, manager: 12 * 3_600, admin: 12 * 3_600, operator: 12 * 3_600 } as const satisfies Record<Role, number>;
/** A ticket is good for one socket open within this long. */
export const TICKET_TTL_S = 60;
export const TICKET_AUDIENCE = "live";

// Identifiers end up in logs, headers (encoded), Redis keys and the map: nothing invisible or line-breaking.
// \p{C}: control, format (bidi overrides, zero-width), private use, unassigned; \p{Z}: every kind of space.
const NO_CONTROL = /^[^\p{C}\p{Zl}\p{Zp}]*$/u;
const NO_SPACE_OR_CONTROL = /^[^\p{C}\p{Z}]*$/u;

const identifier = (max: number, pattern: RegExp, error: string) =>
  z.string().check(z.minLength(1), z.maxLength(max), z.regex(pattern, { error }));
export const teamId = identifier(128, /^[A-Za-z0-9._:-]+$/, "has characters outside [A-Za-z0-9._:-]");
export const userId = identifier(128, NO_SPACE_OR_CONTROL, "has spaces or control characters");
export const displayName = identifier(100, NO_CONTROL, "has control characters").check(
  z.refine((s) => s.trim() === s, { error: "has leading or trailing spaces" }),
);
export const tokenId = z.string().check(z.regex(/^[A-Za-z0-9_-]{8,64}$/, { error: "must be 8 to 64 characters of [A-Za-z0-9_-]" }));
const epochSeconds = z.int().check(z.positive());

const lifetime = { iat: epochSeconds, exp: epochSeconds, jti: tokenId };
const teamOf = (role: Role, team: string) => (role === "operator" ? team === ANY_TEAM : teamId.safeParse(team).success);

/** Claims of a fieldpulse token (HS256 JWT signed with AUTH_SECRET). A ticket (aud "live") is not one. */
export const tokenClaims = z
  .object({
    sub: userId,
    team: z.string(),
    role: z.enum(ROLES),
    name: z.optional(displayName),
    // Tickets carry an audience; a token must not, so a ticket can never pass for one.
    aud: z.optional(z.never({ error: "a token has no audience" })),
    ...lifetime,
  })
  .check(
    z.refine((c) => teamOf(c.role, c.team), { error: `must be a team id (or "${ANY_TEAM}" for an operator, only)`, path: ["team"] }),
    z.refine((c) => c.exp > c.iat, { error: "must be after iat", path: ["exp"] }),
  );
export type TokenClaims = z.infer<typeof tokenClaims>;

/** Claims of a live-map ticket: one socket open, within a minute, and nothing else. */
export const ticketClaims = z
  .object({
    aud: z.literal(TICKET_AUDIENCE),
    sub: userId,
    team: teamId,
    role: z.enum(["manager", "admin"]),
    name: z.optional(displayName),
    /** The jti of the token the ticket was taken with: revoking that token covers its tickets. */
    tok: tokenId,
    ...lifetime,
  })
  .check(z.refine((c) => c.exp > c.iat && c.exp - c.iat <= TICKET_TTL_S, { error: `must be after iat, by at most ${TICKET_TTL_S} s`, path: ["exp"] }));
export type TicketClaims = z.infer<typeof ticketClaims>;

export type ReadClaims =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: "malformed" | "unreadable" | "claims" | "expired"; expiredAt?: number };

/**
 * Read a token's claims without checking its signature — for pages that greet the user and spot an
 * expired or wrong-role token early. Only the server's check (on every request) grants anything.
 */
export function readClaims(raw: string, now = Date.now()): ReadClaims {
  const parts = raw.trim().split(".");
  if (parts.length !== 3 || !parts[1]) return { ok: false, reason: "malformed" };
  let payload: unknown;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(parts[1].length / 4) * 4, "=");
    payload = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))));
  } catch {
    return { ok: false, reason: "unreadable" };
  }
  const claims = tokenClaims.safeParse(payload);
  if (!claims.success) return { ok: false, reason: "claims" };
  if (claims.data.exp * 1000 <= now) return { ok: false, reason: "expired", expiredAt: claims.data.exp * 1000 };
  return { ok: true, claims: claims.data };
}
