import { sign } from "hono/jwt";
import type { TokenClaims } from "./claims.ts";

export { ROLES, tokenClaims, type Role, type TokenClaims } from "./claims.ts";

/** Mint a token (the admin route, `npm run token`, the simulator and tests all sign the same way). */
export async function signToken(
  claims: Omit<TokenClaims, "exp" | "iat"> & { ttlSeconds?: number },
  secret: string,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { ttlSeconds = 12 * 3600, ...rest } = claims;
  return sign({ ...rest, iat: now, exp: now + ttlSeconds }, secret, "HS256");
}
