import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/min";

/**
 * Phone numbers as the dialer needs them: parsed and normalised to E.164 (`+14155550123`). One function for
 * the server's schema and the PWA's form, so both refuse the same input. The "min" metadata keeps the PWA
 * bundle small; it checks a number's length per country, not every numbering-plan pattern.
 */
/** E.164: a country code and number of at most 15 digits. */
const E164_MAX_DIGITS = 15;
const TOO_LONG = `is longer than ${E164_MAX_DIGITS} digits (E.164)`;
/** The start of the message for a national number that is not valid in the region it was read in; the region follows. */
export const NOT_VALID_FOR = "is not a valid number for";

export type PhoneResult = { ok: true; e164: string } | { ok: false; message: string };

/** An ISO 3166-1 alpha-2 region the metadata knows ("US", "ES"), upper-cased; otherwise undefined. */
export function phoneRegion(input: string | null | undefined): CountryCode | undefined {
  const code = input?.trim().toUpperCase();
  return code && /^[A-Z]{2}$/.test(code) && isSupportedCountry(code) ? code : undefined;
}

/**
 * `defaultRegion` reads a national number ("(202) 555-0143" with "US"); without one, only international
 * numbers ("+…", "00…" is not assumed) are accepted. Messages complete "Phone …".
 */
export function normalisePhone(input: string, defaultRegion?: string): PhoneResult {
  const text = input.trim();
  if (!/\d/.test(text)) return { ok: false, message: "is not a phone number" };
  const region = phoneRegion(defaultRegion);
  if (defaultRegion !== undefined && defaultRegion.trim() !== "" && !region) {
    return { ok: false, message: `cannot be read: unknown region "${defaultRegion}"` };
  }
  if (!text.startsWith("+") && !region) return { ok: false, message: "must start with + and the country code" };
  const parsed = parsePhoneNumberFromString(text, region);
  // Too long first: such a number is never valid, and "not valid" would not say why.
  const digits = parsed ? parsed.number.length - 1 : text.startsWith("+") ? text.replace(/\D/g, "").length : 0;
  if (digits > E164_MAX_DIGITS) return { ok: false, message: TOO_LONG };
  if (!parsed || !parsed.isValid()) {
    // A national number is read in the region's plan: say which, and how to give another country's number.
    if (!text.startsWith("+") && region) return { ok: false, message: `${NOT_VALID_FOR} ${region}: add + and the country code, or change the region in Settings` };
    return { ok: false, message: "is not a valid phone number" };
  }
  // E.164 has no extensions: dropping one silently would send the dialer to the switchboard.
  if (parsed.ext) return { ok: false, message: `has an extension (${parsed.ext}): give the number alone and the extension in the notes` };
  return { ok: true, e164: parsed.number };
}
