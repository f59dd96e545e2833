import { z } from "zod/mini";
import { base, lat, lng, positionPair, storable, text } from "./events.ts";
import { LEAD_INTEREST } from "./kinds.ts";
import { normalisePhone } from "./phone.ts";

/**
 * The lead event: apart from protocol/events.ts because its phone check needs the phone-number metadata
 * (libphonenumber), which the field app loads only for the lead form (web/field/leads.ts).
 */

/** Any international form ("+31 6 1234 5678"), stored as E.164 ("+31612345678"): what a dialer dials. */
const phone = z.pipe(
  text(40),
  z.transform((raw: string, ctx) => {
    const phone = normalisePhone(raw);
    if (phone.ok) return phone.e164;
    ctx.issues.push({ code: "custom", message: phone.message, input: raw });
    return z.NEVER;
  }),
);

export const leadEvent = z.object({
  ...base,
  type: z.literal("lead"),
  name: text(200, 1, "is required"),
  phone: z.optional(phone),
  // Trimmed first, like every other text field (a pasted address often ends in a space).
  email: z.optional(z.pipe(z.string().check(z.trim()), z.email({ error: "is not an email address" }).check(z.maxLength(320), storable))),
  address: z.optional(text(500)),
  lat: z.optional(lat),
  lng: z.optional(lng),
  notes: z.optional(text(2_000)),
  interest: z.optional(z.enum(LEAD_INTEREST)),
}).check(positionPair);

export type LeadEvent = z.infer<typeof leadEvent>;
