import { Hono } from "hono";
import { z } from "zod";
import { ROLES, signToken } from "../protocol/auth.ts";
import { toIssues } from "../protocol/events.ts";
import { requireRole, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { jsonBody, readJson } from "./ingest.ts";

export const admin = new Hono<{ Bindings: Env; Variables: AuthVars }>();

const mintRequest = z.object({
  team: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/),
  user: z.string().min(1).max(128),
  role: z.enum(ROLES),
  name: z.string().max(200).optional(),
  ttlSeconds: z.number().int().positive().max(90 * 24 * 3600).optional(),
});

/** Admins mint tokens for canvassers and managers (shared as a link or QR code). */
admin.post("/v1/admin/tokens", requireRole("admin"), ...jsonBody, async (c) => {
  const req = mintRequest.safeParse(await readJson(c.req.raw));
  if (!req.success) throw new ApiError(400, "invalid_request", "the token request is not valid", toIssues(req.error));
  const { team, user, role, name, ttlSeconds } = req.data;
  const token = await signToken({ team, sub: user, role, ...(name ? { name } : {}), ...(ttlSeconds ? { ttlSeconds } : {}) }, c.env.AUTH_SECRET);
  return c.json({ token }, 201);
});
