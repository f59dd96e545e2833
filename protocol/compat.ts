import { z } from "zod/mini";
import { eventTime, fixFields as field, issuePath, MAX_EVENTS_PER_BATCH, toIssues, type Issue, type LocationEvent } from "./events.ts";
import { fixId } from "./uuidv5.ts";

/**
 * Off-the-shelf tracker apps (issue 15): the OsmAnd protocol (Traccar Client, OsmAnd, many hardware
 * trackers) and OwnTracks' HTTP mode, decoded into the `location` events the PWA sends. Every value is
 * checked with the PWA's own limits (`fixFields`), and a bad one is named by the tracker's field in the
 * tracker's unit (`lat`, `location.1.coords.latitude`, `batt must be 0–100 (%)`) — the apps log the answer.
 */

export const KNOTS_TO_MS = 1852 / 3600;
export const KMH_TO_MS = 1000 / 3600;

/** A fix before it has its id (the id needs the device: `toLocationEvents`). */
export type Fix = Omit<LocationEvent, "id">;

/** One fix to store, and — when its record carried no time and was stamped on arrival — the record's index in the request. */
export interface DecodedFix {
  fix: Fix;
  arrivalIndex?: number;
}

/** A record that is not stored: no position, a position out of range, a bad time. `index`: its place in the request. */
export interface RefusedRecord {
  index: number;
  issues: Issue[];
}

/**
 * What one request decodes to. Records are judged one by one: a record with a bad position or time is refused
 * (`refused`), its neighbours are still stored. An optional measurement (battery, speed, heading, accuracy,
 * altitude) that is out of range or not a number costs only itself: the fix is stored without it and the
 * measurement is listed in `dropped`. Every message names the tracker's field in the tracker's unit.
 */
export interface Decoded {
  fixes: DecodedFix[];
  refused: RefusedRecord[];
  dropped: Issue[];
}

/** Plain decimal only (optional sign, digits, optional fraction): no hex, no exponent, no `Infinity` — trackers send none. */
const PLAIN_DECIMAL = /^[+-]?\d+(\.\d+)?$/;

/** A JSON number, or a string holding a plain decimal (query and form values are strings). */
const num = z.pipe(
  z.union([z.number(), z.pipe(z.string().check(z.trim(), z.regex(PLAIN_DECIMAL)), z.transform(Number))], {
    error: (issue) => (issue.input === undefined ? "is required" : "must be a number"),
  }),
  z.number({ error: "must be a number" }),
);

type Measured = "accuracy" | "speed" | "heading" | "altitude" | "battery";

/**
 * The PWA's limits (`fixFields`, the one source of truth: a value is checked against it) in its own units, for
 * the messages only; test/node/compat.test.ts holds the two together.
 */
export const FIX_LIMITS: Record<Measured | "lat" | "lng", readonly [number, number]> = {
  lat: [-90, 90],
  lng: [-180, 180],
  accuracy: [0, 100_000],
  speed: [0, 1_000],
  heading: [0, 360],
  altitude: [-1_000, 100_000],
  battery: [0, 1],
};

/** `0–100 (%)`, or `between -1000 and 100000 (m)` when the range starts below zero. */
function range(min: number, max: number, unit: string): string {
  const show = (v: number) => String(Math.round(v * 10) / 10);
  return min < 0 ? `must be between ${show(min)} and ${show(max)} (${unit})` : `must be ${show(min)}–${show(max)} (${unit})`;
}

/** How a tracker sends one measurement: its unit, the factor to the PWA's unit, and whether a negative value means "unknown". */
interface Unit {
  name: string;
  factor: number;
  /** Platforms send -1 for "unknown": that is no value, not a negative one. */
  negativeIsUnknown: boolean;
}

const unit = (name: string, factor = 1, negativeIsUnknown = true): Unit => ({ name, factor, negativeIsUnknown });
const METRES = unit("m");
const ALTITUDE = unit("m", 1, false);
const DEGREES = unit("degrees");

/** Collects what one record yields: its refusals and its dropped measurements, each under its tracker path. */
class RecordReader {
  readonly refused: Issue[] = [];
  readonly dropped: Issue[] = [];
  constructor(private readonly prefix: readonly (string | number)[]) {}

  path(...rest: (string | number)[]): string {
    return issuePath([...this.prefix, ...rest]);
  }

  refuse(path: string, message: string): undefined {
    this.refused.push({ path, message });
    return undefined;
  }

  /** A required coordinate: refused (the whole record) when it is missing, not a number or out of range. */
  coordinate(raw: unknown, path: string, which: "lat" | "lng", missing = "is required"): number | undefined {
    if (raw === undefined || raw === null) return this.refuse(path, missing);
    const n = num.safeParse(raw);
    if (!n.success) return this.refuse(path, "must be a number");
    if (!field[which].safeParse(n.data).success) return this.refuse(path, range(...FIX_LIMITS[which], "degrees"));
    return n.data;
  }

  /** The fix time: epoch s, epoch ms or ISO-8601, held to the PWA's rule for `at`. */
  time(raw: unknown, path: string): number | undefined {
    if (raw === undefined || raw === null) return this.refuse(path, "is required");
    const t = trackerTime.safeParse(raw);
    if (t.success) return t.data;
    for (const issue of toIssues(t.error)) this.refused.push({ path, message: issue.message });
    return undefined;
  }

  /** An optional measurement: absent, unknown (negative), or in range — else dropped from the fix and reported. */
  measure(raw: unknown, path: string, measured: Measured, u: Unit): number | undefined {
    if (raw === undefined || raw === null) return undefined;
    const n = num.safeParse(raw);
    if (!n.success) {
      this.dropped.push({ path, message: "must be a number" });
      return undefined;
    }
    if (u.negativeIsUnknown && n.data < 0) return undefined;
    const value = n.data * u.factor;
    if (field[measured].safeParse(value).success) return value;
    const [min, max] = FIX_LIMITS[measured];
    this.dropped.push({ path, message: range(min / u.factor, max / u.factor, u.name) });
    return undefined;
  }
}

/** Fold records into a Decoded: a record with a refusal is refused whole (its dropped measurements named with it). */
function collect(records: { record: RecordReader; fix: DecodedFix | undefined }[]): Decoded {
  const out: Decoded = { fixes: [], refused: [], dropped: [] };
  records.forEach(({ record, fix }, index) => {
    if (record.refused.length > 0 || !fix) out.refused.push({ index, issues: [...record.refused, ...record.dropped] });
    else {
      out.fixes.push(fix);
      out.dropped.push(...record.dropped);
    }
  });
  return out;
}

const refusedRequest = (path: string, message: string): Decoded => ({ fixes: [], refused: [{ index: 0, issues: [{ path, message }] }], dropped: [] });

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
function fix(at: number, lat: number, lng: number, measured: Partial<Record<Measured, number | undefined>>): Fix {
  const out: Fix = { type: "location", at, lat, lng };
  if (measured.accuracy !== undefined) out.accuracy = measured.accuracy;
  if (measured.speed !== undefined) out.speed = measured.speed;
  if (measured.heading !== undefined) out.heading = measured.heading;
  if (measured.altitude !== undefined) out.altitude = measured.altitude;
  if (measured.battery !== undefined) out.battery = measured.battery;
  return out;
}

/** A record's fix once its required parts are there; a record with a refusal yields none. */
function fixOf(
  record: RecordReader,
  parts: { at: number | undefined; lat: number | undefined; lng: number | undefined; arrivalIndex?: number },
  measured: Partial<Record<Measured, number | undefined>>,
): DecodedFix | undefined {
  const { at, lat, lng, arrivalIndex } = parts;
  if (record.refused.length > 0 || at === undefined || lat === undefined || lng === undefined) return undefined;
  return { fix: fix(at, lat, lng, measured), ...(arrivalIndex === undefined ? {} : { arrivalIndex }) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** An own property only: a record's `constructor` or `__proto__` is no measurement. */
const own = (o: Record<string, unknown>, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

// ---- OsmAnd: query or form parameters -------------------------------------------------------------

const KNOTS = unit("knots", KNOTS_TO_MS);
const PERCENT = unit("%", 1 / 100);
const NEEDS_POSITION = "is required (lat and lon, or location=lat,lon)";

function decodeParams(p: Record<string, string>, receivedAt: number): Decoded {
  const r = new RecordReader([]);
  let lat: number | undefined;
  let lng: number | undefined;
  const pair = own(p, "location");
  if (pair !== undefined) {
    // `location=lat,lon`: one parameter for the position, each half checked as lat and lon are.
    const halves = /^([^,]*),([^,]*)$/.exec(String(pair));
    if (!halves) r.refuse("location", "must be lat,lon");
    else {
      lat = r.coordinate(halves[1], "location.lat", "lat");
      lng = r.coordinate(halves[2], "location.lon", "lng");
    }
  } else {
    lat = r.coordinate(own(p, "lat"), "lat", "lat", NEEDS_POSITION);
    lng = r.coordinate(own(p, "lon"), "lon", "lng", NEEDS_POSITION);
  }
  const stamped = own(p, "timestamp");
  const at = stamped === undefined ? receivedAt : r.time(stamped, "timestamp");
  const measured = {
    speed: r.measure(own(p, "speed"), "speed", "speed", KNOTS),
    heading: r.measure(own(p, "bearing"), "bearing", "heading", DEGREES) ?? r.measure(own(p, "heading"), "heading", "heading", DEGREES),
    altitude: r.measure(own(p, "altitude"), "altitude", "altitude", ALTITUDE),
    accuracy: r.measure(own(p, "accuracy"), "accuracy", "accuracy", METRES),
    battery: r.measure(own(p, "batt"), "batt", "battery", PERCENT),
  };
  return collect([{ record: r, fix: fixOf(r, { at, lat, lng, ...(stamped === undefined ? { arrivalIndex: 0 } : {}) }, measured) }]);
}

// ---- OsmAnd: the Traccar Client 9+ JSON body (its background-location SDK's native record) -------

const METRES_PER_SECOND = unit("m/s");
const FRACTION = unit("1 = full");

/** One SDK record at `location` or `location.<index>`. Without a timestamp it is stamped on arrival. */
function decodeSdkRecord(raw: unknown, prefix: readonly (string | number)[], index: number, receivedAt: number): { record: RecordReader; fix: DecodedFix | undefined } {
  const r = new RecordReader(prefix);
  if (!isObject(raw)) {
    r.refuse(r.path(), "must be a location record: an object with coords");
    return { record: r, fix: undefined };
  }
  const coords = own(raw, "coords");
  if (!isObject(coords)) {
    r.refuse(r.path("coords"), "is required (latitude and longitude)");
    return { record: r, fix: undefined };
  }
  const lat = r.coordinate(own(coords, "latitude"), r.path("coords", "latitude"), "lat");
  const lng = r.coordinate(own(coords, "longitude"), r.path("coords", "longitude"), "lng");
  const stamped = own(raw, "timestamp");
  const untimed = stamped === undefined || stamped === null;
  const at = untimed ? receivedAt : r.time(stamped, r.path("timestamp"));
  const battery = own(raw, "battery");
  let level: number | undefined;
  if (isObject(battery)) level = r.measure(own(battery, "level"), r.path("battery", "level"), "battery", FRACTION);
  else if (battery !== undefined && battery !== null) r.dropped.push({ path: r.path("battery"), message: "must be an object with level" });
  const measured = {
    accuracy: r.measure(own(coords, "accuracy"), r.path("coords", "accuracy"), "accuracy", METRES),
    speed: r.measure(own(coords, "speed"), r.path("coords", "speed"), "speed", METRES_PER_SECOND),
    heading: r.measure(own(coords, "heading"), r.path("coords", "heading"), "heading", DEGREES),
    altitude: r.measure(own(coords, "altitude"), r.path("coords", "altitude"), "altitude", ALTITUDE),
    battery: level,
  };
  return { record: r, fix: fixOf(r, { at, lat, lng, ...(untimed ? { arrivalIndex: index } : {}) }, measured) };
}

/** One record, or (the SDK's batch sync) up to a batch's worth of them, each judged on its own. */
function decodeTraccarJson(json: unknown, receivedAt: number): Decoded {
  if (!isObject(json)) return refusedRequest("", "must be a JSON object with location");
  const location = own(json, "location");
  if (Array.isArray(location)) {
    if (location.length === 0) return refusedRequest("location", "must hold at least 1 record");
    if (location.length > MAX_EVENTS_PER_BATCH) {
      return refusedRequest("location", `must hold at most ${MAX_EVENTS_PER_BATCH} records (this batch has ${location.length})`);
    }
    return collect(location.map((raw, i) => decodeSdkRecord(raw, ["location", i], i, receivedAt)));
  }
  if (isObject(location)) return collect([decodeSdkRecord(location, ["location"], 0, receivedAt)]);
  return refusedRequest("location", `is required: a location record, or an array of at most ${MAX_EVENTS_PER_BATCH}`);
}

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
  return req.json !== undefined ? decodeTraccarJson(req.json, receivedAt) : decodeParams(req.params, receivedAt);
}

// ---- OwnTracks: HTTP mode ------------------------------------------------------------------------

const KMH = unit("km/h", KMH_TO_MS);

const owntracksMessage = z.object({ _type: z.string() }, { error: "must be an OwnTracks message: a JSON object with _type" });

/**
 * Decode one OwnTracks HTTP post. Only `_type: location` is a fix; every other type (and an empty body,
 * which the apps send when a friend is deleted) is accepted and ignored.
 */
export function decodeOwnTracks(body: unknown): Decoded {
  if (body === undefined) return { fixes: [], refused: [], dropped: [] };
  const message = owntracksMessage.safeParse(body);
  if (!message.success) return { fixes: [], refused: [{ index: 0, issues: toIssues(message.error) }], dropped: [] };
  if (message.data._type !== "location" || !isObject(body)) return { fixes: [], refused: [], dropped: [] };
  const r = new RecordReader([]);
  const lat = r.coordinate(own(body, "lat"), "lat", "lat");
  const lng = r.coordinate(own(body, "lon"), "lon", "lng");
  const at = r.time(own(body, "tst"), "tst");
  const measured = {
    accuracy: r.measure(own(body, "acc"), "acc", "accuracy", METRES),
    altitude: r.measure(own(body, "alt"), "alt", "altitude", ALTITUDE),
    battery: r.measure(own(body, "batt"), "batt", "battery", PERCENT),
    speed: r.measure(own(body, "vel"), "vel", "speed", KMH),
    heading: r.measure(own(body, "cog"), "cog", "heading", DEGREES),
  };
  return collect([{ record: r, fix: fixOf(r, { at, lat, lng }, measured) }]);
}

/**
 * Fixes of one device become events whose id is the device, the fix time and the position (plus, for a record
 * stamped on arrival, its index in the request): a resend is the same event, two different fixes are two.
 */
export async function toLocationEvents(deviceId: string, fixes: readonly DecodedFix[]): Promise<LocationEvent[]> {
  return Promise.all(fixes.map(async ({ fix: f, arrivalIndex }) => ({ id: await fixId(deviceId, f, arrivalIndex), ...f })));
}
