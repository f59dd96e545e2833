import { sign } from "hono/jwt";
import { z } from "zod";

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

/** Mint a token (the admin route, `npm run token`, the simulator and tests all sign the same way). */
export async function signToken(
  claims: Omit<TokenClaims, "exp" | "iat"> & { ttlSeconds?: number },
  secret: string,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { ttlSeconds = 12 * 3600, ...rest } = claims;
  return sign({ ...rest, iat: now, exp: now + ttlSeconds }, secret, "HS256");
}
