import { z } from "zod";

/** The body POSTed to the dialer (Standard Webhooks; `webhook-id` is the lead id, stable across retries). */
export const leadWebhook = z.object({
  type: z.literal("lead.created"),
  timestamp: z.string(),
  data: z.object({
    id: z.uuid(),
    teamId: z.string(),
    userId: z.string(),
    name: z.string(),
    phone: z.string().optional(),
    email: z.string().optional(),
    address: z.string().optional(),
    lat: z.number().optional(),
    lng: z.number().optional(),
    notes: z.string().optional(),
    interest: z.enum(["hot", "warm", "cold"]).optional(),
    /** When the canvasser took the lead (device time, ISO-8601). */
    at: z.string(),
    receivedAt: z.string(),
  }),
});
export type LeadWebhook = z.infer<typeof leadWebhook>;
