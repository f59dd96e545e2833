import { describe, expect, it } from "vitest";
import { decodeOsmAnd, decodeOwnTracks, FIX_LIMITS, KMH_TO_MS, KNOTS_TO_MS, osmandDeviceId, toLocationEvents, trackerTimeMs, type Decoded } from "../../protocol/compat.ts";
import { fixFields } from "../../protocol/events.ts";
import { deviceSecret, mintDeviceKey, verifyDeviceId, verifyDeviceLogin } from "../../protocol/device-key.ts";
import { fixId, uuidv5 } from "../../protocol/uuidv5.ts";

const NOW = Date.now();
const params = (query: string) => Object.fromEntries(new URLSearchParams(query));

/** The fixes of a request in which nothing was refused or dropped. */
function clean(d: Decoded) {
  expect(d.refused).toEqual([]);
  expect(d.dropped).toEqual([]);
  return d.fixes.map((f) => f.fix);
}
/** What a request refused, flattened: the 400's issues. */
const refusedIssues = (d: Decoded) => d.refused.flatMap((r) => r.issues);

// Traccar's OsmAnd decoder tests (src/test/java/org/traccar/protocol/OsmAndProtocolDecoderTest.java).
const TRACCAR_CLIENT_ANDROID = {
  location: { timestamp: "2025-06-15T13:45:12.862Z", coords: { latitude: 37.4219983, longitude: -122.084, accuracy: 5, speed: 0, heading: -1, altitude: 5 }, is_moving: false, odometer: 0, event: "motionchange", battery: { level: 1, is_charging: false }, activity: { type: "still" }, extras: {}, _: "&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&" },
  device_id: "48241179",
};
const TRACCAR_CLIENT_IOS_MOCK = {
  location: { extras: {}, mock: true, coords: { speed_accuracy: -1, speed: -1, longitude: -122.406417, ellipsoidal_altitude: 0, floor: null, heading_accuracy: -1, latitude: 37.785834000000001, accuracy: 5, altitude_accuracy: -1, altitude: 0, heading: -1 }, is_moving: false, age: 188, odometer: 0, uuid: "2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8", event: "motionchange", battery: { level: -1, is_charging: false }, activity: { type: "unknown", confidence: 100 }, timestamp: "2025-05-09T04:11:30.579Z" },
  device_id: "658765",
};
const TRACCAR_CLIENT_MOVING = {
  location: { event: "motionchange", is_moving: false, uuid: "0e9a2473-a9a7-4c00-997b-fb97d2154e75", timestamp: "2021-07-21T08:06:34.444Z", odometer: 0, coords: { latitude: -6.1148096, longitude: 106.6837015, accuracy: 3.8, speed: 18.67, speed_accuracy: 0.26, heading: 63, heading_accuracy: 0.28, altitude: 35.7, altitude_accuracy: 3.8 }, activity: { type: "still", confidence: 100 }, battery: { is_charging: false, level: 0.79 }, extras: {} },
  device_id: "8737767034",
};

describe("OsmAnd query and form parameters", () => {
  it("converts the decoder's requests: knots to m/s, percent to 0..1, bearing or heading, location=lat,lon", () => {
    const r = decodeOsmAnd({ params: params(`id=123456789012345&timestamp=${Math.floor(NOW / 1000)}&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24`) }, NOW);
    expect(clean(r)).toEqual([{ type: "location", at: Math.floor(NOW / 1000) * 1000, lat: 40.7232948571, lng: -74.0061408571, heading: 7.19889788244, speed: 40 * KNOTS_TO_MS }]);
    expect(40 * KNOTS_TO_MS).toBeCloseTo(20.5778, 4);

    const batt = decodeOsmAnd({ params: params("id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87") }, NOW);
    expect(clean(batt)).toEqual([{ type: "location", at: NOW, lat: 41.666667, lng: -0.883333, altitude: 350.059479, speed: 0, battery: 0.87 }]);

    const heading = decodeOsmAnd({ params: params("lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456") }, NOW);
    expect(clean(heading)).toEqual([{ type: "location", at: NOW, lat: 60, lng: 30, speed: 0, heading: 0, altitude: 0 }]);

    const pair = decodeOsmAnd({ params: params(`id=123456&timestamp=${NOW}&location=60.0,30.0&accuracy=12&heading=-1`) }, NOW);
    expect(clean(pair)).toEqual([{ type: "location", at: NOW, lat: 60, lng: 30, accuracy: 12 }]);
  });

  it("reads every timestamp form the decoder takes: epoch s, epoch ms, ISO-8601, 'yyyy-MM-dd HH:mm:ss' (UTC)", () => {
    expect(trackerTimeMs("1377177267")).toBe(1377177267000);
    expect(trackerTimeMs("1442068686579")).toBe(1442068686579);
    expect(trackerTimeMs(1497476456)).toBe(1497476456000);
    expect(trackerTimeMs("2016-01-27T18:55:47Z")).toBe(Date.UTC(2016, 0, 27, 18, 55, 47));
    expect(params("timestamp=2014-06-04+09%3A10%3A11").timestamp).toBe("2014-06-04 09:10:11");
    expect(trackerTimeMs("2014-06-04 09:10:11")).toBe(Date.UTC(2014, 5, 4, 9, 10, 11));
    expect(trackerTimeMs("2025-06-15T13:45:12.862Z")).toBe(Date.UTC(2025, 5, 15, 13, 45, 12, 862));
    expect(trackerTimeMs("yesterday")).toBeNull();
  });

  it("holds fixes to the PWA's rules: the decoder's 2013 clock is stored as sent, a 1999 one is refused by name", () => {
    const old = decodeOsmAnd({ params: params("id=123456&timestamp=1377177267&lat=60.0&lon=30.0") }, NOW);
    expect(clean(old)).toMatchObject([{ type: "location", at: 1377177267000, lat: 60, lng: 30 }]);
    const broken = decodeOsmAnd({ params: params("id=123456&timestamp=915148800&lat=60.0&lon=30.0") }, NOW);
    expect(broken).toEqual({ fixes: [], refused: [{ index: 0, issues: [{ path: "timestamp", message: "is before 2000-01-01" }] }], dropped: [] });
    const garbage = decodeOsmAnd({ params: params("id=1&timestamp=soon&lat=1&lon=2") }, NOW);
    expect(garbage.fixes).toEqual([]);
    expect(refusedIssues(garbage)).toMatchObject([{ path: "timestamp" }]);
  });

  it("refuses a fix without a position or with lat 91, naming the field", () => {
    expect(refusedIssues(decodeOsmAnd({ params: params("id=123456&cell=257,02,16,2224&wifi=00-14-22-01-23-45,-80") }, NOW))).toEqual([
      { path: "lat", message: "is required (lat and lon, or location=lat,lon)" },
      { path: "lon", message: "is required (lat and lon, or location=lat,lon)" },
    ]);
    expect(decodeOsmAnd({ params: params("id=1&lat=91&lon=30") }, NOW)).toEqual({
      fixes: [],
      refused: [{ index: 0, issues: [{ path: "lat", message: "must be between -90 and 90 (degrees)" }] }],
      dropped: [],
    });
    expect(refusedIssues(decodeOsmAnd({ params: params("id=1&location=60") }, NOW))).toMatchObject([{ path: "location" }]);
    expect(refusedIssues(decodeOsmAnd({ params: params("id=1&location=60,200") }, NOW))).toEqual([{ path: "location.lon", message: "must be between -180 and 180 (degrees)" }]);
    expect(refusedIssues(decodeOsmAnd({ params: params("id=1&lat=abc&lon=3") }, NOW))).toEqual([{ path: "lat", message: "must be a number" }]);
  });

  it("takes plain decimals only (optional sign, digits, optional fraction): hex, exponents, Infinity are not numbers", () => {
    for (const lat of ["0x10", "1e1", "Infinity", "0b1", "1_0", "--1", ".5", "5.", ""]) {
      const d = decodeOsmAnd({ params: { id: "1", lat, lon: "3" } }, NOW);
      expect(d.fixes, lat).toEqual([]);
      expect(refusedIssues(d), lat).toEqual([{ path: "lat", message: "must be a number" }]);
    }
    expect(clean(decodeOsmAnd({ params: params("id=1&lat=-52.10&lon=%2B4&speed=010") }, NOW))).toEqual([{ type: "location", at: NOW, lat: -52.1, lng: 4, speed: 10 * KNOTS_TO_MS }]);
    // An optional measurement in hex is not a number either: dropped, the fix kept.
    expect(decodeOsmAnd({ params: params("id=1&lat=1&lon=2&batt=0x10") }, NOW)).toMatchObject({ fixes: [{ fix: { lat: 1, lng: 2 } }], dropped: [{ path: "batt", message: "must be a number" }] });
    expect(decodeOsmAnd({ params: params("id=1&lat=1&lon=2&batt=0x10") }, NOW).fixes[0]!.fix).not.toHaveProperty("battery");
  });

  it("drops an out-of-range optional measurement (named in the tracker's unit) and keeps the fix; lat/lon/time still refuse it", () => {
    const d = decodeOsmAnd({ params: params(`id=1&timestamp=${NOW}&lat=52&lon=4&batt=150&speed=2000&bearing=400&accuracy=200000&altitude=-5000`) }, NOW);
    expect(d.refused).toEqual([]);
    expect(d.fixes.map((f) => f.fix)).toEqual([{ type: "location", at: NOW, lat: 52, lng: 4 }]);
    expect(d.dropped).toEqual([
      { path: "speed", message: "must be 0–1943.8 (knots)" },
      { path: "bearing", message: "must be 0–360 (degrees)" },
      { path: "altitude", message: "must be between -1000 and 100000 (m)" },
      { path: "accuracy", message: "must be 0–100000 (m)" },
      { path: "batt", message: "must be 0–100 (%)" },
    ]);
    // The limits are the PWA's: 1943.8 knots is in, 1944 is out; batt 100 is in.
    expect(clean(decodeOsmAnd({ params: params("id=1&lat=1&lon=2&speed=1943.8&batt=100") }, NOW))).toEqual([{ type: "location", at: NOW, lat: 1, lng: 2, speed: 1943.8 * KNOTS_TO_MS, battery: 1 }]);
    expect(decodeOsmAnd({ params: params("id=1&lat=1&lon=2&speed=1944") }, NOW).dropped).toEqual([{ path: "speed", message: "must be 0–1943.8 (knots)" }]);
    // A bad position or time still refuses the fix, and names the bad measurements with it.
    expect(decodeOsmAnd({ params: params("id=1&lat=95&lon=2&batt=150") }, NOW)).toEqual({
      fixes: [],
      refused: [{ index: 0, issues: [{ path: "lat", message: "must be between -90 and 90 (degrees)" }, { path: "batt", message: "must be 0–100 (%)" }] }],
      dropped: [],
    });
  });

  it("declares the PWA's limits (fixFields) for its messages: each bound is in, just beyond is out", () => {
    for (const [name, [min, max]] of Object.entries(FIX_LIMITS)) {
      const schema = fixFields[name as keyof typeof fixFields];
      expect(schema.safeParse(min).success, `${name} ${min}`).toBe(true);
      expect(schema.safeParse(max).success, `${name} ${max}`).toBe(true);
      expect(schema.safeParse(min - 1e-9).success, `${name} < ${min}`).toBe(false);
      expect(schema.safeParse(max + 1e-9).success, `${name} > ${max}`).toBe(false);
    }
    expect(Object.keys(FIX_LIMITS).sort()).toEqual(Object.keys(fixFields).sort());
  });

  it("names the device from id, deviceid or the JSON device_id", () => {
    expect(osmandDeviceId({ params: params("id=abc&lat=1") })).toBe("abc");
    expect(osmandDeviceId({ params: params("deviceid=xyz") })).toBe("xyz");
    expect(osmandDeviceId({ params: {}, json: TRACCAR_CLIENT_ANDROID })).toBe("48241179");
    expect(osmandDeviceId({ params: {} })).toBeUndefined();
  });
});

describe("Traccar Client 9+ JSON", () => {
  it("decodes the decoder's JSON requests: ISO time, m/s kept, heading/speed/battery -1 → none", () => {
    expect(clean(decodeOsmAnd({ params: {}, json: TRACCAR_CLIENT_ANDROID }, NOW))).toEqual([
      { type: "location", at: Date.UTC(2025, 5, 15, 13, 45, 12, 862), lat: 37.4219983, lng: -122.084, accuracy: 5, speed: 0, altitude: 5, battery: 1 },
    ]);
    expect(clean(decodeOsmAnd({ params: {}, json: TRACCAR_CLIENT_IOS_MOCK }, NOW))).toEqual([
      { type: "location", at: Date.UTC(2025, 4, 9, 4, 11, 30, 579), lat: 37.785834000000001, lng: -122.406417, accuracy: 5, altitude: 0 },
    ]);
    expect(clean(decodeOsmAnd({ params: {}, json: TRACCAR_CLIENT_MOVING }, NOW))).toEqual([
      { type: "location", at: Date.UTC(2021, 6, 21, 8, 6, 34, 444), lat: -6.1148096, lng: 106.6837015, accuracy: 3.8, speed: 18.67, heading: 63, altitude: 35.7, battery: 0.79 },
    ]);
  });

  it("takes a batch of records (the SDK's batch sync) and names the bad one's field", () => {
    const ok = decodeOsmAnd({ params: {}, json: { device_id: "1", location: [TRACCAR_CLIENT_ANDROID.location, TRACCAR_CLIENT_MOVING.location] } }, NOW);
    expect(clean(ok)).toHaveLength(2);
    const bad = { ...TRACCAR_CLIENT_MOVING.location, coords: { ...TRACCAR_CLIENT_MOVING.location.coords, latitude: 91 } };
    // The bad record is refused on its own; its neighbours are kept.
    const mixed = decodeOsmAnd({ params: {}, json: { device_id: "1", location: [TRACCAR_CLIENT_ANDROID.location, bad, TRACCAR_CLIENT_IOS_MOCK.location] } }, NOW);
    expect(mixed.fixes.map((f) => f.fix.at)).toEqual([Date.UTC(2025, 5, 15, 13, 45, 12, 862), Date.UTC(2025, 4, 9, 4, 11, 30, 579)]);
    expect(mixed.refused).toEqual([{ index: 1, issues: [{ path: "location.1.coords.latitude", message: "must be between -90 and 90 (degrees)" }] }]);
    // A bad battery level (the SDK's 0..1) costs only the battery.
    const flat = { ...TRACCAR_CLIENT_MOVING.location, battery: { level: 79 } };
    const kept = decodeOsmAnd({ params: {}, json: { location: [flat] } }, NOW);
    expect(kept.fixes.map((f) => f.fix)).toEqual([expect.not.objectContaining({ battery: expect.anything() })]);
    expect(kept.dropped).toEqual([{ path: "location.0.battery.level", message: "must be 0–1 (1 = full)" }]);
    expect(refusedIssues(decodeOsmAnd({ params: {}, json: { device_id: "1" } }, NOW))).toMatchObject([{ path: "location" }]);
    expect(refusedIssues(decodeOsmAnd({ params: {}, json: { location: [] } }, NOW))).toMatchObject([{ path: "location" }]);
    expect(refusedIssues(decodeOsmAnd({ params: {}, json: { location: [1, { coords: null }] } }, NOW))).toEqual([
      { path: "location.0", message: "must be a location record: an object with coords" },
      { path: "location.1.coords", message: "is required (latitude and longitude)" },
    ]);
  });

  it("says 'at most 500 records' for a batch of 501, not that location is missing", () => {
    const record = { timestamp: new Date(NOW).toISOString(), coords: { latitude: 1, longitude: 1 } };
    expect(clean(decodeOsmAnd({ params: {}, json: { location: Array(500).fill(record) } }, NOW))).toHaveLength(500);
    expect(decodeOsmAnd({ params: {}, json: { location: Array(501).fill(record) } }, NOW)).toEqual({
      fixes: [],
      refused: [{ index: 0, issues: [{ path: "location", message: "must hold at most 500 records (this batch has 501)" }] }],
      dropped: [],
    });
  });

  it("marks records without a timestamp with their index in the request (stamped on arrival); timed ones not", () => {
    const d = decodeOsmAnd({ params: {}, json: { location: [{ coords: { latitude: 1, longitude: 1 } }, { timestamp: NOW - 5, coords: { latitude: 1, longitude: 1 } }, { coords: { latitude: 1, longitude: 1 } }] } }, NOW);
    expect(d.fixes.map((f) => [f.fix.at, f.arrivalIndex])).toEqual([[NOW, 0], [NOW - 5, undefined], [NOW, 2]]);
  });
});

// OwnTracks booklet: features/traccar (HTTP payload) and tech/json (_type=location).
const BOOKLET_HTTP = { lon: 2.29513, lat: 48.85833, _type: "location", tst: 1497476456, tid: "JJ" };
const BOOKLET_JSON = { _type: "location", acc: 75, alt: 13, batt: 60, cog: 270, lat: 48.85833, lon: 2.29513, rad: 10, t: "u", tid: "YY", tst: 1376715317, vac: 10, vel: 54, p: 100, conn: "w" };

describe("OwnTracks HTTP mode", () => {
  it("converts a location: tst epoch s, vel km/h → m/s, batt percent → 0..1, cog", () => {
    const tst = Math.floor(NOW / 1000);
    expect(clean(decodeOwnTracks({ ...BOOKLET_JSON, tst }))).toEqual([
      { type: "location", at: tst * 1000, lat: 48.85833, lng: 2.29513, accuracy: 75, altitude: 13, battery: 0.6, heading: 270, speed: 54 * KMH_TO_MS },
    ]);
    expect(54 * KMH_TO_MS).toBeCloseTo(15, 10);
    expect(clean(decodeOwnTracks({ ...BOOKLET_HTTP, tst }))).toEqual([{ type: "location", at: tst * 1000, lat: 48.85833, lng: 2.29513 }]);
  });

  it("takes the booklet's locations verbatim (2013 and 2017 clocks); refuses a clock before 2000 by name (tst)", () => {
    expect(clean(decodeOwnTracks(BOOKLET_HTTP))).toEqual([{ type: "location", at: BOOKLET_HTTP.tst * 1000, lat: 48.85833, lng: 2.29513 }]);
    expect(clean(decodeOwnTracks(BOOKLET_JSON))).toMatchObject([{ at: BOOKLET_JSON.tst * 1000, accuracy: 75, battery: 0.6 }]);
    expect(decodeOwnTracks({ ...BOOKLET_HTTP, tst: 915148800 })).toEqual({ fixes: [], refused: [{ index: 0, issues: [{ path: "tst", message: "is before 2000-01-01" }] }], dropped: [] });
  });

  it("ignores other types and empty bodies; refuses a location without a position or a non-object", () => {
    expect(clean(decodeOwnTracks(undefined))).toEqual([]);
    expect(clean(decodeOwnTracks({ _type: "transition", event: "enter", lat: 1, lon: 2, tst: 1 }))).toEqual([]);
    expect(clean(decodeOwnTracks({ _type: "lwt", tst: 1 }))).toEqual([]);
    expect(refusedIssues(decodeOwnTracks({ _type: "location", lon: 2, tst: Math.floor(NOW / 1000) }))).toEqual([{ path: "lat", message: "is required" }]);
    expect(refusedIssues(decodeOwnTracks({ _type: "location", lat: 91, lon: 2, tst: Math.floor(NOW / 1000) }))).toMatchObject([{ path: "lat" }]);
    expect(refusedIssues(decodeOwnTracks({ _type: "location", lat: 1, lon: 2 }))).toEqual([{ path: "tst", message: "is required" }]);
    expect(refusedIssues(decodeOwnTracks([1, 2]))).not.toEqual([]);
  });

  it("drops an out-of-range batt, vel, cog, acc or alt (named in %, km/h, degrees, m) and keeps the fix", () => {
    const tst = Math.floor(NOW / 1000);
    const d = decodeOwnTracks({ _type: "location", lat: 48.85833, lon: 2.29513, tst, batt: 150, vel: 4000, cog: 361, acc: 100001, alt: 200000 });
    expect(d.fixes.map((f) => f.fix)).toEqual([{ type: "location", at: tst * 1000, lat: 48.85833, lng: 2.29513 }]);
    expect(d.dropped).toEqual([
      { path: "acc", message: "must be 0–100000 (m)" },
      { path: "alt", message: "must be between -1000 and 100000 (m)" },
      { path: "batt", message: "must be 0–100 (%)" },
      { path: "vel", message: "must be 0–3600 (km/h)" },
      { path: "cog", message: "must be 0–360 (degrees)" },
    ]);
    expect(clean(decodeOwnTracks({ _type: "location", lat: 1, lon: 2, tst, vel: 3600, batt: 100 }))).toEqual([{ type: "location", at: tst * 1000, lat: 1, lng: 2, speed: 1000, battery: 1 }]);
  });
});

describe("deterministic ids", () => {
  it("is RFC 9562 UUIDv5 (the DNS example) and lower-case", async () => {
    expect(await uuidv5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2");
  });

  it("pins the id scheme: a change of it makes every fix resent across the upgrade land twice, so it must be deliberate", async () => {
    // Python's uuid.uuid5(FIX_NAMESPACE, "fpd1.example\n1765000000000\n52.1\n4.3") gives the same.
    expect(await fixId("fpd1.example", { at: 1_765_000_000_000, lat: 52.1, lng: 4.3 })).toBe("acefeb68-29fa-5538-95db-b016ca5bdb48");
    expect(await fixId("fpd1.example", { at: 1_765_000_000_000, lat: 52.1, lng: 4.3 }, 2)).toBe("506c2d35-dbb2-5383-a182-d6056ae62c1e");
  });

  it("gives the same id for the same device, time and position; another for another device, time or position", async () => {
    const at = 1_700_000_000_000;
    const a = await fixId("dev-a", { at, lat: 1, lng: 2 });
    expect(await fixId("dev-a", { at, lat: 1, lng: 2 })).toBe(a);
    expect(await fixId("dev-b", { at, lat: 1, lng: 2 })).not.toBe(a);
    expect(await fixId("dev-a", { at: at + 1, lat: 1, lng: 2 })).not.toBe(a);
    expect(await fixId("dev-a", { at, lat: 1.000001, lng: 2 })).not.toBe(a);
    expect(await fixId("dev-a", { at, lat: 1, lng: 2.000001 })).not.toBe(a);
    // Swapped coordinates are another position.
    expect(await fixId("dev-a", { at, lat: 2, lng: 1 })).not.toBe(a);
    // Stamped on arrival: the record's index in the request tells apart records that share the arrival time.
    expect(await fixId("dev-a", { at, lat: 1, lng: 2 }, 0)).not.toBe(a);
    expect(await fixId("dev-a", { at, lat: 1, lng: 2 }, 1)).not.toBe(await fixId("dev-a", { at, lat: 1, lng: 2 }, 0));
    const [e] = await toLocationEvents("dev-a", [{ fix: { type: "location", at, lat: 1, lng: 2 } }]);
    expect(e).toEqual({ id: a, type: "location", at, lat: 1, lng: 2 });
  });

  it("a resend decodes to the same ids ('52.10' is 52.1; measurements do not name the fix); untimed records of one batch get distinct ids", async () => {
    const once = decodeOsmAnd({ params: params(`id=d&timestamp=${NOW}&lat=52.10&lon=4&speed=3`) }, NOW);
    const again = decodeOsmAnd({ params: params(`id=d&timestamp=${NOW}&lat=52.1&lon=4.0&speed=4`) }, NOW + 60_000);
    const [[first], [second]] = [await toLocationEvents("d", once.fixes), await toLocationEvents("d", again.fixes)];
    expect(second!.id).toBe(first!.id);
    const untimed = decodeOsmAnd({ params: {}, json: { location: [{ coords: { latitude: 1, longitude: 1 } }, { coords: { latitude: 1, longitude: 1 } }, { coords: { latitude: 2, longitude: 2 } }] } }, NOW);
    expect(new Set((await toLocationEvents("d", untimed.fixes)).map((e) => e.id)).size).toBe(3);
    const samePlaceSameTime = decodeOsmAnd({ params: {}, json: { location: [{ timestamp: NOW, coords: { latitude: 1, longitude: 1 } }, { timestamp: NOW, coords: { latitude: 1, longitude: 2 } }] } }, NOW);
    expect(new Set((await toLocationEvents("d", samePlaceSameTime.fixes)).map((e) => e.id)).size).toBe(2);
  });
});

describe("device keys", () => {
  const SECRET = "test-secret-0123456789";

  it("carries team and person under an HMAC: verified without a lookup, refused when altered or signed elsewhere", async () => {
    const key = await mintDeviceKey("team-a", "ann@example.com", SECRET);
    expect(await verifyDeviceId(key.deviceId, SECRET)).toEqual({ deviceId: key.deviceId, team: "team-a", user: "ann@example.com" });
    expect(key.deviceId).toMatch(/^fpd1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(await verifyDeviceId(key.deviceId, "another-secret")).toBeNull();
    const [prefix, body, mac] = key.deviceId.split(".");
    const forged = Buffer.from(JSON.stringify(["team-b", "ann@example.com", "AAAAAAAAAAAAAAAA"])).toString("base64url");
    expect(await verifyDeviceId(`${prefix}.${forged}.${mac}`, SECRET)).toBeNull();
    const flip = (c: string) => (c === "A" ? "B" : "A");
    expect(await verifyDeviceId(`${prefix}.${body}.${flip(mac![0]!)}${mac!.slice(1)}`, SECRET)).toBeNull();
    // Another spelling of the same MAC bytes (the last character's spare bits) is another id: refused,
    // or a revoked device could come back under a new jti.
    const last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".indexOf(mac!.at(-1)!);
    const respelled = `${prefix}.${body}.${mac!.slice(0, -1)}${"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last ^ 1]}`;
    expect(Buffer.from(respelled.split(".")[2]!, "base64url")).toEqual(Buffer.from(mac!, "base64url"));
    expect(await verifyDeviceId(respelled, SECRET)).toBeNull();
    expect(await verifyDeviceId("48241179", SECRET)).toBeNull();
    expect(await verifyDeviceId("x".repeat(10_000), SECRET)).toBeNull();
    // Two devices of one person are two credentials.
    expect((await mintDeviceKey("team-a", "ann@example.com", SECRET)).deviceId).not.toBe(key.deviceId);
  });

  it("checks the OwnTracks password, derived from the id", async () => {
    const key = await mintDeviceKey("team-a", "ann", SECRET);
    expect(key.secret).toBe(await deviceSecret(key.deviceId, SECRET));
    expect(await verifyDeviceLogin(key.deviceId, key.secret, SECRET)).toMatchObject({ team: "team-a", user: "ann" });
    expect(await verifyDeviceLogin(key.deviceId, `${key.secret}x`, SECRET)).toBeNull();
    expect(await verifyDeviceLogin(key.deviceId, key.deviceId, SECRET)).toBeNull();
  });
});
