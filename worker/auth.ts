import { createMiddleware } from "hono/factory";
import { verify } from "hono/jwt";
import { tokenClaims, type Role, type TokenClaims } from "../protocol/auth.ts";
import { ApiError } from "./errors.ts";

export type AuthVars = { claims: TokenClaims };

const BEARER = /^Bearer\s+(\S+)$/i;
/** Browsers cannot set headers on a WebSocket: the token rides in Sec-WebSocket-Protocol as `bearer.<jwt>`. */
const PROTOCOL_BEARER = /(?:^|,)\s*bearer\.([A-Za-z0-9_\-.]+)\s*(?:,|$)/;

export function tokenFrom(req: Request): string | undefined {
  const header = req.headers.get("Authorization");
  if (header) return BEARER.exec(header)?.[1];
  const protocols = req.headers.get("Sec-WebSocket-Protocol");
  if (protocols) return PROTOCOL_BEARER.exec(protocols)?.[1];
  return undefined;
}

export async function verifyToken(token: string, secret: string): Promise<TokenClaims> {
  let payload: unknown;
  try {
    payload = await verify(token, secret, "HS256");
  } catch (err) {
    const expired = err instanceof Error && err.name === "JwtTokenExpired";
    throw new ApiError(401, expired ? "token_expired" : "invalid_token", expired ? "the token has expired" : "the token is not valid");
  }
  const claims = tokenClaims.safeParse(payload);
  if (!claims.success) throw new ApiError(401, "invalid_token", "the token's claims are not valid");
  return claims.data;
}

/** Authenticate, then allow only the given roles (admin may do anything a manager may). */
export function requireRole(...roles: Role[]) {
  return createMiddleware<{ Bindings: Env; Variables: AuthVars }>(async (c, next) => {
    if (!c.env.AUTH_SECRET) throw new Error("AUTH_SECRET is not configured");
    const token = tokenFrom(c.req.raw);
    if (!token) throw new ApiError(401, "missing_token", "send Authorization: Bearer <token>");
    const claims = await verifyToken(token, c.env.AUTH_SECRET);
    if (!roles.includes(claims.role)) {
      throw new ApiError(403, "forbidden", `role '${claims.role}' may not do this; needs ${roles.join(" or ")}`);
    }
    c.set("claims", claims);
    await next();
  });
}
