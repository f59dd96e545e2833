import { DEFAULT_SEND_POLICY, type SendPolicy } from "./send-policy.ts";
import type { FixFilter } from "./geo-filter.ts";

/**
 * The phone's tunables. Saved in localStorage under `fieldpulse.settings` as partial JSON (the Settings
 * panel writes it; tests set it before the page loads), merged over the defaults.
 */
export interface Settings {
  fix: FixFilter;
  send: SendPolicy;
  /** How long the Undo button stays after a knock. */
  undoS: number;
  /** Region for phone numbers typed without +country: "auto" (the phone's locale), "none", or "US", "ES", … */
  phoneRegion: string;
}

export const SETTINGS_KEY = "fieldpulse.settings";

export const DEFAULT_SETTINGS: Settings = {
  fix: { minDistanceM: 10, minIntervalS: 30 },
  send: DEFAULT_SEND_POLICY,
  undoS: 5,
  phoneRegion: "auto",
};

const num = (v: unknown, fallback: number, min = 0) => (typeof v === "number" && Number.isFinite(v) && v >= min ? v : fallback);
const obj = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {});

/** Anything unreadable falls back to the default, field by field. */
export function mergeSettings(raw: unknown): Settings {
  const r = obj(raw);
  const fix = obj(r.fix);
  const send = obj(r.send);
  const age = obj(send.maxAgeS);
  const d = DEFAULT_SETTINGS;
  return {
    fix: { minDistanceM: num(fix.minDistanceM, d.fix.minDistanceM), minIntervalS: num(fix.minIntervalS, d.fix.minIntervalS) },
    send: {
      sendAtCount: Math.floor(num(send.sendAtCount, d.send.sendAtCount, 1)),
      maxAgeS: {
        location: num(age.location, d.send.maxAgeS.location),
        knock: num(age.knock, d.send.maxAgeS.knock),
        activity: num(age.activity, d.send.maxAgeS.activity),
      },
    },
    undoS: num(r.undoS, d.undoS),
    phoneRegion: typeof r.phoneRegion === "string" && /^(auto|none|[A-Z]{2})$/.test(r.phoneRegion) ? r.phoneRegion : d.phoneRegion,
  };
}

export function loadSettings(storage: Pick<Storage, "getItem"> = localStorage): Settings {
  try {
    return mergeSettings(JSON.parse(storage.getItem(SETTINGS_KEY) ?? "{}"));
  } catch {
    return mergeSettings({});
  }
}

export function saveSettings(settings: Settings, storage: Pick<Storage, "setItem"> = localStorage): void {
  storage.setItem(SETTINGS_KEY, JSON.stringify(settings));
}
