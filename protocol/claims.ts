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

