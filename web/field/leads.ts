import { getCountries } from "libphonenumber-js/min";
import { leadEvent, type LeadEvent } from "../../protocol/lead.ts";
import { normalisePhone, phoneRegion } from "../../protocol/phone.ts";
import { uuidv7 } from "../../protocol/uuidv7.ts";
import { issuesOf, strip, text, type Made, type Position } from "./event-factory.ts";
import { localeRegion } from "./i18n/format.ts";

/**
 * Everything that needs the phone-number metadata (libphonenumber, 30 kB gzipped: half the app's first load),
 * loaded on demand (`loadLeads` in lazy-leads.ts) — when the lead form or the settings open, and in the
 * background once the page has drawn — so the first screen never waits for it and a lead taken offline later
 * finds it loaded (the service worker precaches its chunk too).
 */

export interface LeadInput {
  name?: string;
  phone?: string;
  email?: string;
  address?: string;
  interest?: string;
  notes?: string;
}

/** The region national phone numbers are read in, from the setting ("auto": the phone's locale; "none"), or undefined: only +country numbers. */
export function resolvePhoneRegion(setting: string): string | undefined {
  if (setting === "none") return undefined;
  return phoneRegion(setting === "auto" ? localeRegion() : setting);
}

export { getCountries, normalisePhone };

/** A lead from the form; on failure the issues' paths are the form's field names. */
export function makeLead(input: LeadInput, where?: Pick<Position, "lat" | "lng">, at = Date.now()): Made<LeadEvent> {
  const parsed = leadEvent.safeParse(strip({
    id: uuidv7(),
    type: "lead",
    at,
    name: input.name?.trim() ?? "",
    phone: text(input.phone),
    email: text(input.email),
    address: text(input.address),
    interest: text(input.interest),
    notes: text(input.notes),
    lat: where?.lat,
    lng: where?.lng,
  }));
  return parsed.success ? { ok: true, event: parsed.data } : { ok: false, issues: issuesOf(parsed.error) };
}
