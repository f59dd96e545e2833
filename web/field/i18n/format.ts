/**
 * Numbers, times and units in the phone's own locale (navigator.language), whatever language the words
 * are in: en-US reads "6:08 PM" and mph, de-DE "18:08" and km/h.
 */
const locale = (): string => (typeof navigator === "undefined" ? "en" : navigator.language || "en");

/** Regions that drive in miles per hour; the US also measures short distances in feet. */
const MPH_REGIONS = new Set(["US", "GB", "LR", "MM"]);
const FEET_REGIONS = new Set(["US", "LR", "MM"]);

/** The region of the phone's locale ("en-US" → "US"; "es" → "ES" by likely subtags). */
export function localeRegion(tag = locale()): string | undefined {
  try {
    return new Intl.Locale(tag).maximize().region;
  } catch {
    return undefined;
  }
}

let cache: { tag: string; time: Intl.DateTimeFormat; timeS: Intl.DateTimeFormat; dateTime: Intl.DateTimeFormat; number: Intl.NumberFormat; ago: Intl.RelativeTimeFormat } | null = null;
function formats() {
  const tag = locale();
  if (cache?.tag !== tag) {
    cache = {
      tag,
      time: new Intl.DateTimeFormat(tag, { hour: "numeric", minute: "2-digit" }),
      timeS: new Intl.DateTimeFormat(tag, { hour: "numeric", minute: "2-digit", second: "2-digit" }),
      dateTime: new Intl.DateTimeFormat(tag, { dateStyle: "medium", timeStyle: "short" }),
      number: new Intl.NumberFormat(tag),
      ago: new Intl.RelativeTimeFormat(tag, { numeric: "always", style: "short" }),
    };
  }
  return cache;
}

/** Hours and minutes, 12 or 24 h as the locale has it. */
export const time = (ms: number) => formats().time.format(ms);
export const timeWithSeconds = (ms: number) => formats().timeS.format(ms);
export const dateTime = (ms: number) => formats().dateTime.format(ms);
export const count = (n: number) => formats().number.format(n);

/** "1 knock" / "2 knocks": the number in the phone's locale, the word by the catalogue language's plural rules. */
export function plural(lang: string, n: number, one: string, other: string): string {
  return `${count(n)} ${new Intl.PluralRules(lang).select(n) === "one" ? one : other}`;
}

/** "5 min ago" / "hace 5 min". */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  const f = formats().ago;
  if (s < 60) return f.format(-s, "second");
  if (s < 3600) return f.format(-Math.floor(s / 60), "minute");
  return f.format(-Math.floor(s / 3600), "hour");
}

/** A wait of `ms`, as "4 s" in the locale's units. */
export const seconds = (ms: number) =>
  new Intl.NumberFormat(locale(), { style: "unit", unit: "second", unitDisplay: "short" }).format(Math.max(1, Math.ceil(ms / 1000)));

export function speed(metresPerSecond: number): string {
  const mph = MPH_REGIONS.has(localeRegion() ?? "");
  const value = mph ? metresPerSecond * 2.236936 : metresPerSecond * 3.6;
  return new Intl.NumberFormat(locale(), { style: "unit", unit: mph ? "mile-per-hour" : "kilometer-per-hour", maximumFractionDigits: 0 }).format(value);
}

/** A short distance (GPS accuracy): feet where the locale uses them, metres elsewhere; km / mi when large. */
export function distance(metres: number): string {
  const feet = FEET_REGIONS.has(localeRegion() ?? "");
  const [value, unit] = feet
    ? metres >= 1609 ? [metres / 1609.344, "mile"] : [metres * 3.28084, "foot"]
    : metres >= 1000 ? [metres / 1000, "kilometer"] : [metres, "meter"];
  return new Intl.NumberFormat(locale(), { style: "unit", unit, maximumFractionDigits: value < 10 && (unit === "mile" || unit === "kilometer") ? 1 : 0 }).format(value);
}
