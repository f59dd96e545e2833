import { z } from "zod/mini";
import { eventTime, fixFields as field, MAX_EVENTS_PER_BATCH, toIssues, type Issue, type LocationEvent } from "./events.ts";
import { fixId } from "./uuidv5.ts";

/**
 * Off-the-shelf tracker apps (issue 15): the OsmAnd protocol (Traccar Client, OsmAnd, many hardware
 * trackers) and OwnTracks' HTTP mode, decoded into the `location` events the PWA sends. Every value is
 * checked with the PWA's own limits (`locationEvent`), and a bad one is named by the tracker's field
 * (`lat`, `location.coords.latitude`, `tst`) — the apps log the answer.
 */

export const KNOTS_TO_MS = 1852 / 3600;
export const KMH_TO_MS = 1000 / 3600;

/** A fix before it has its id (the id needs the device: `toLocationEvents`). */
export type Fix = Omit<LocationEvent, "id">;

export type Decoded = { ok: true; fixes: Fix[] } | { ok: false; issues: Issue[] };

// `field`: the PWA's limits, one source of truth — a tracker's fix is held to exactly what a phone's is.
type Measure = (typeof field)[keyof typeof field];

/** A number, or a string holding one (query and form values are strings). */
const numberText = (error?: string) => z.pipe(z.string().check(z.trim(), z.minLength(1, error ? { error } : undefined)), z.transform(Number));
const num = z.pipe(
  z.union([z.number(), numberText()], { error: (issue) => (issue.input === undefined ? "is required" : "must be a number") }),
  z.number({ error: "must be a number" }),
);

const numText = z.pipe(numberText("must be a number"), z.number({ error: "must be a number" }));

/** An optional number (or null), mapped, then held to the field's limits. */
const measured = (schema: Measure, map: (v: number | null | undefined) => number | undefined) =>
  z.pipe(z.pipe(z.optional(z.union([num, z.null()])), z.transform(map)), z.optional(schema));

/** Platforms send -1 (or null) for "unknown": that is no value, not a negative one. */
const unknownIfNegative = (schema: Measure) => measured(schema, (v) => (v === null || v === undefined || v < 0 ? undefined : v));

const scaled = (factor: number, schema: Measure) => measured(schema, (v) => (v === null || v === undefined || v < 0 ? undefined : v * factor));

const nullable = (schema: Measure) => measured(schema, (v) => (v === null ? undefined : v));

/** Numbers below this are epoch seconds (Traccar's own rule: Integer.MAX_VALUE), above it milliseconds. */
const SECONDS_BELOW = 2_147_483_647;
const DATE_TIME_NO_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** epoch s, epoch ms or ISO-8601 (a date-time without a zone is UTC, as `yyyy-MM-dd HH:mm:ss` in Traccar) → epoch ms. */
export function trackerTimeMs(raw: number | string): number | null {
  const text = typeof raw === "string" ? raw.trim() : "";
  const n = typeof raw === "number" ? raw : /^\d+(\.\d+)?$/.test(text) ? Number(text) : null;
  if (n !== null) return Number.isFinite(n) ? Math.round(n < SECONDS_BELOW ? n * 1000 : n) : null;
  const iso = DATE_TIME_NO_ZONE.test(text) ? `${text.replace(" ", "T")}Z` : text;
  if (!/^\d{4}-\d{2}-\d{2}T/.test(iso)) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

const TIME_FORMS = "must be epoch seconds, epoch milliseconds or an ISO-8601 date-time";

/** A tracker's time, held to the PWA's rule for `at` (not before 2000, not a day ahead). */
const trackerTime = z.pipe(
  z.union([z.number(), z.string()], { error: TIME_FORMS }),
  z.transform((raw: number | string, ctx) => {
    const ms = trackerTimeMs(raw);
    if (ms === null) {
      ctx.issues.push({ code: "custom", message: TIME_FORMS, input: raw });
      return z.NEVER;
    }
    const checked = eventTime.safeParse(ms);
    if (checked.success) return checked.data;
    for (const issue of checked.error.issues) ctx.issues.push({ code: "custom", message: issue.message, input: raw });
    return z.NEVER;
  }),
);

/** Drop absent optional values: a fix carries only what the tracker measured. */
function fix(at: number, lat: number, lng: number, measured: Partial<Record<"accuracy" | "speed" | "heading" | "altitude" | "battery", number | undefined>>): Fix {
  const out: Fix = { type: "location", at, lat, lng };
  if (measured.accuracy !== undefined) out.accuracy = measured.accuracy;
  if (measured.speed !== undefined) out.speed = measured.speed;
  if (measured.heading !== undefined) out.heading = measured.heading;
  if (measured.altitude !== undefined) out.altitude = measured.altitude;
  if (measured.battery !== undefined) out.battery = measured.battery;
  return out;
}

// ---- OsmAnd: query or form parameters -------------------------------------------------------------

/** `location=lat,lon`: one parameter for the position, each half checked as lat and lon are. */
const latLonPair = z.pipe(
  z.pipe(
    z.string().check(z.regex(/^[^,]*,[^,]*$/, { error: "must be lat,lon" })),
    z.transform((s: string) => {
      const [lat = "", lon = ""] = s.split(",");
      return { lat, lon };
    }),
  ),
  z.object({ lat: z.pipe(numText, field.lat), lon: z.pipe(numText, field.lng) }),
);

const osmandParams = z
  .object({
    lat: z.optional(z.pipe(num, field.lat)),
    lon: z.optional(z.pipe(num, field.lng)),
    location: z.optional(latLonPair),
    timestamp: z.optional(trackerTime),
    speed: scaled(KNOTS_TO_MS, field.speed),
    bearing: unknownIfNegative(field.heading),
    heading: unknownIfNegative(field.heading),
    altitude: nullable(field.altitude),
    accuracy: unknownIfNegative(field.accuracy),
    batt: scaled(1 / 100, field.battery),
  })
  .check(
    z.superRefine((p, ctx) => {
      if (p.location) return;
      if (p.lat === undefined) ctx.addIssue({ code: "custom", path: ["lat"], message: "is required (lat and lon, or location=lat,lon)" });
      if (p.lon === undefined) ctx.addIssue({ code: "custom", path: ["lon"], message: "is required (lat and lon, or location=lat,lon)" });
    }),
  );

// ---- OsmAnd: the Traccar Client 9+ JSON body (its background-location SDK's native record) -------

const sdkLocation = z.object({
  timestamp: z.optional(trackerTime),
  coords: z.object({
    latitude: z.pipe(num, field.lat),
    longitude: z.pipe(num, field.lng),
    accuracy: unknownIfNegative(field.accuracy),
    speed: unknownIfNegative(field.speed),
    heading: unknownIfNegative(field.heading),
    altitude: nullable(field.altitude),
  }, { error: "is required (latitude and longitude)" }),
  battery: z.optional(z.object({ level: unknownIfNegative(field.battery) })),
});

/** One record, or (the SDK's batch sync) up to a batch's worth of them. */
const traccarJson = z.object({
  device_id: z.optional(z.union([z.string(), z.number()])),
  location: z.union([sdkLocation, z.array(sdkLocation).check(z.minLength(1), z.maxLength(MAX_EVENTS_PER_BATCH))], { error: "is required: the location record" }),
});

/** What an OsmAnd request carries: its parameters (query and form, first value of each) and a JSON body if it had one. */
export interface OsmAndRequest {
  params: Record<string, string>;
  json?: unknown;
}

const jsonDeviceId = z.object({ device_id: z.union([z.string(), z.pipe(z.number(), z.transform(String))]) });

/** The device the request names: the JSON `device_id`, else `id` or `deviceid`. */
export function osmandDeviceId(req: OsmAndRequest): string | undefined {
  const fromJson = jsonDeviceId.safeParse(req.json);
  const id = fromJson.success ? fromJson.data.device_id : req.params.id ?? req.params.deviceid;
  return id?.trim() || undefined;
}

/** Decode one OsmAnd request into fixes; a fix without a time is taken at `receivedAt` (as Traccar does). */
export function decodeOsmAnd(req: OsmAndRequest, receivedAt: number): Decoded {
  if (req.json !== undefined) {
    const body = traccarJson.safeParse(req.json);
    if (!body.success) return { ok: false, issues: toIssues(body.error) };
    const records = Array.isArray(body.data.location) ? body.data.location : [body.data.location];
    return {
      ok: true,
      fixes: records.map((r) =>
        fix(r.timestamp ?? receivedAt, r.coords.latitude, r.coords.longitude, {
          accuracy: r.coords.accuracy,
          speed: r.coords.speed,
          heading: r.coords.heading,
          altitude: r.coords.altitude,
          battery: r.battery?.level,
        }),
      ),
    };
  }
  const p = osmandParams.safeParse(req.params);
  if (!p.success) return { ok: false, issues: toIssues(p.error) };
  const { lat, lon: lng } = p.data.location ?? p.data;
  // superRefine saw to it that a position is there; the narrowing is for the compiler.
  if (lat === undefined || lng === undefined) return { ok: false, issues: [{ path: "lat", message: "is required" }] };
  return {
    ok: true,
    fixes: [
      fix(p.data.timestamp ?? receivedAt, lat, lng, {
        accuracy: p.data.accuracy,
        speed: p.data.speed,
        heading: p.data.bearing ?? p.data.heading,
        altitude: p.data.altitude,
        battery: p.data.batt,
      }),
    ],
  };
}

// ---- OwnTracks: HTTP mode ------------------------------------------------------------------------

const owntracksLocation = z.object({
  _type: z.literal("location"),
  lat: z.pipe(num, field.lat),
  lon: z.pipe(num, field.lng),
  tst: trackerTime,
  acc: unknownIfNegative(field.accuracy),
  alt: nullable(field.altitude),
  batt: scaled(1 / 100, field.battery),
  vel: scaled(KMH_TO_MS, field.speed),
  cog: unknownIfNegative(field.heading),
});

const owntracksMessage = z.object({ _type: z.string() }, { error: "must be an OwnTracks message: a JSON object with _type" });

/**
 * Decode one OwnTracks HTTP post. Only `_type: location` is a fix; every other type (and an empty body,
 * which the apps send when a friend is deleted) is accepted and ignored.
 */
export function decodeOwnTracks(body: unknown): Decoded {
  if (body === undefined) return { ok: true, fixes: [] };
  const message = owntracksMessage.safeParse(body);
  if (!message.success) return { ok: false, issues: toIssues(message.error) };
  if (message.data._type !== "location") return { ok: true, fixes: [] };
  const l = owntracksLocation.safeParse(body);
  if (!l.success) return { ok: false, issues: toIssues(l.error) };
  return { ok: true, fixes: [fix(l.data.tst, l.data.lat, l.data.lon, { accuracy: l.data.acc, speed: l.data.vel, heading: l.data.cog, altitude: l.data.alt, battery: l.data.batt })] };
}

/** Fixes of one device become events whose id is the device and the fix time: a resend is the same event. */
export async function toLocationEvents(deviceId: string, fixes: readonly Fix[]): Promise<LocationEvent[]> {
  return Promise.all(fixes.map(async (f) => ({ id: await fixId(deviceId, f.at), ...f })));
}
