import { z } from "zod/mini";

/** The body POSTed to the dialer (Standard Webhooks; `webhook-id` is the lead id, stable across retries). */
export const leadWebhook = z.object({
  type: z.literal("lead.created"),
  timestamp: z.string(),
  data: z.object({
    id: z.uuid(),
    teamId: z.string(),
    userId: z.string(),
    name: z.string(),
    phone: z.optional(z.string()),
    email: z.optional(z.string()),
    address: z.optional(z.string()),
    lat: z.optional(z.number()),
    lng: z.optional(z.number()),
    notes: z.optional(z.string()),
    interest: z.optional(z.enum(["hot", "warm", "cold"])),
    /** When the canvasser took the lead (device time, ISO-8601). */
    at: z.string(),
    receivedAt: z.string(),
  }),
});
export type LeadWebhook = z.infer<typeof leadWebhook>;
