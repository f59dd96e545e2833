import { z } from "zod";

// Kept apart from auth.ts (which signs with hono/jwt) so that pages can read claims without bundling a signer.
export const ROLES = ["field", "manager", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Claims of a fieldpulse token (HS256 JWT signed with AUTH_SECRET). */
export const tokenClaims = z.object({
  sub: z.string().min(1).max(128),
  team: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, { message: "has characters outside [A-Za-z0-9._:-]" }),
  role: z.enum(ROLES),
  name: z.string().max(200).optional(),
  exp: z.number().int(),
  iat: z.number().int().optional(),
});
export type TokenClaims = z.infer<typeof tokenClaims>;


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
