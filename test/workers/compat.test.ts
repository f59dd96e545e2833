import { describe, expect, it } from "vitest";
import { KMH_TO_MS, KNOTS_TO_MS } from "../../protocol/compat.ts";
import { liveMessage, type LiveMessage } from "../../protocol/live.ts";
import { fixId } from "../../protocol/uuidv5.ts";
import { call, hubFor, newTeam, sql, tokenFor, waitFor } from "./helpers.ts";

interface Registered {
  deviceId: string;
  secret: string;
  team: string;
  user: string;
  setup: { traccarClient: { serverUrl: string; deviceIdentifier: string }; owntracks: { url: string; username: string; password: string } };
}

async function register(team: string, user = `tracker-${crypto.randomUUID().slice(0, 6)}`, label?: string): Promise<Registered> {
  const res = await call("/v1/admin/devices", {
    method: "POST",
    token: await tokenFor(team, "admin"),
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user, ...(label ? { label } : {}) }),
  });
  expect(res.status).toBe(201);
  return res.json();
}

const osmandGet = (query: string) => call(`/v1/compat/osmand?${query}`);
const osmandPost = (body: string, contentType: string) => call("/v1/compat/osmand", { method: "POST", headers: { "Content-Type": contentType }, body });
const owntracks = (device: { deviceId: string; secret: string }, body: unknown) =>
  call("/v1/compat/owntracks", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Basic ${btoa(`${device.deviceId}:${device.secret}`)}` },
    body: body === undefined ? "" : JSON.stringify(body),
  });

interface Row {
  id: string;
  user_id: string;
  at_ms: number;
  lat: number;
  lng: number;
  accuracy: number | null;
  speed: number | null;
  heading: number | null;
  altitude: number | null;
  battery: number | null;
}

/** Flush the team's hub, then read its location rows as Postgres holds them. */
async function storedFixes(team: string): Promise<Row[]> {
  const report = await hubFor(team).flush();
  expect(report.ok).toBe(true);
  return sql<Row>(
    `SELECT id::text, user_id, (extract(epoch FROM at) * 1000)::float8 AS at_ms, lat, lng, accuracy, speed, heading, altitude, battery
       FROM locations WHERE team_id = $1 ORDER BY at, id`,
    [team],
  );
}

const nowS = () => Math.floor(Date.now() / 1000);

describe("device keys: POST/GET /v1/admin/devices, revoke", () => {
  it("registers a tracker for a person of the admin's team, with setup hints; lists it; refuses others", async () => {
    const team = newTeam();
    const d = await register(team, "ann", "Ann's phone");
    expect(d).toMatchObject({ team, user: "ann", label: "Ann's phone" });
    expect(d.setup.traccarClient).toEqual({ serverUrl: "http://fieldpulse.test/v1/compat/osmand", deviceIdentifier: d.deviceId });
    expect(d.setup.owntracks).toMatchObject({ url: "http://fieldpulse.test/v1/compat/owntracks", username: d.deviceId, password: d.secret });

    const list = await call("/v1/admin/devices", { token: await tokenFor(team, "admin") });
    expect(list.status).toBe(200);
    expect(await list.json()).toMatchObject({ team, devices: [{ deviceId: d.deviceId, user: "ann", label: "Ann's phone", revokedAt: null }] });
    expect(await sql("SELECT team_id, user_id FROM devices WHERE device_id = $1", [d.deviceId])).toEqual([{ team_id: team, user_id: "ann" }]);

    const post = (token: string, body: unknown) => call("/v1/admin/devices", { method: "POST", token, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    expect((await post(await tokenFor(team, "field"), { user: "ann" })).status).toBe(403);
    expect((await post(await tokenFor(team, "manager"), { user: "ann" })).status).toBe(403);
    expect((await post(await tokenFor(newTeam(), "admin"), { team, user: "ann" })).status).toBe(403);
    expect((await post(await tokenFor(team, "operator"), { user: "ann" })).status).toBe(400);
    expect((await post(await tokenFor(team, "operator"), { team, user: "bob" })).status).toBe(201);
    expect((await call(`/v1/admin/devices?team=${team}`, { token: await tokenFor(newTeam(), "admin") })).status).toBe(403);
  });
});

describe("/v1/compat/osmand", () => {
  it("takes the decoder's requests verbatim too, with their 2013–2016 clocks (history, not the live map)", async () => {
    const team = newTeam();
    const d = await register(team, "vera");
    expect((await osmandGet(`id=${d.deviceId}&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0`)).status).toBe(200);
    expect((await osmandGet(`id=${d.deviceId}&timestamp=1377177267&lat=60.0&lon=30.0`)).status).toBe(200);
    expect((await storedFixes(team)).map((r) => r.at_ms).sort()).toEqual([1377177267000, Date.UTC(2016, 0, 27, 18, 55, 47)]);
  });

  it("stores the OsmAnd decoder's query requests with the right units and times (GET and form POST)", async () => {
    const team = newTeam();
    const d = await register(team, "olga");
    const t = nowS() - 600;
    // Traccar's decoder requests with our device id; times moved into this service's window (see the 400 below).
    const requests = [
      `id=${d.deviceId}&lat=42.06288&lon=-88.23412&timestamp=${new Date((t + 1) * 1000).toISOString().replace(".000", "")}&hdop=6.0&altitude=224.0&speed=0.0`,
      `id=${d.deviceId}&lat=42.06288&lon=-88.23412&timestamp=${(t + 2) * 1000 + 579}&hdop=6.0&altitude=224.0&speed=0.0`,
      `lat=49.60688&lon=6.15788&timestamp=${encodeURIComponent(new Date((t + 3) * 1000).toISOString().slice(0, 19).replace("T", " ")).replace("%20", "+")}&altitude=384.7&speed=0.0&id=${d.deviceId}`,
      `id=${d.deviceId}&timestamp=${t + 4}&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0`,
      `id=${d.deviceId}&timestamp=${t + 5}&location=60.0,30.0`,
      `id=${d.deviceId}&timestamp=${t + 6}&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24`,
    ];
    for (const q of requests) expect((await osmandGet(q)).status, q).toBe(200);
    const form = await osmandPost(`id=${d.deviceId}&timestamp=${t + 7}&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87`, "application/x-www-form-urlencoded");
    expect(form.status).toBe(200);

    const rows = await storedFixes(team);
    expect(rows.map((r) => r.at_ms)).toEqual([(t + 1) * 1000, (t + 2) * 1000 + 579, (t + 3) * 1000, (t + 4) * 1000, (t + 5) * 1000, (t + 6) * 1000, (t + 7) * 1000]);
    expect(rows.every((r) => r.user_id === "olga")).toBe(true);
    expect(rows[1]).toMatchObject({ lat: 42.06288, lng: -88.23412, altitude: 224, speed: 0 });
    expect(rows[4]).toMatchObject({ lat: 60, lng: 30, speed: null, heading: null });
    expect(rows[5]!.speed).toBeCloseTo(40 * KNOTS_TO_MS, 9);
    expect(rows[5]).toMatchObject({ heading: 7.19889788244, lat: 40.7232948571 });
    expect(rows[6]).toMatchObject({ battery: 0.87, altitude: 350.059479 });
    expect(rows[3]!.id).toBe(await fixId(d.deviceId, { at: (t + 4) * 1000, lat: 60, lng: 30 }));
  });

  it("stores the Traccar Client JSON (application/json, and sent as form-urlencoded): m/s kept, heading -1 and battery -1 → none", async () => {
    const team = newTeam();
    const d = await register(team, "tc");
    // The decoder tests' Traccar Client bodies, device_id and the `_` copy pointing at our device.
    const android = `{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{},"_":"&id=${d.deviceId}&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"${d.deviceId}"}`;
    const ios = `{"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,"longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,"latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,"heading":-1},"is_moving":false,"age":188,"odometer":0,"uuid":"2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8","event":"motionchange","battery":{"level":-1,"is_charging":false},"activity":{"type":"unknown","confidence":100},"timestamp":"2025-05-09T04:11:30.579Z"},"device_id":"${d.deviceId}"}`;
    const moving = `{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"${d.deviceId}"}`;
    expect((await osmandPost(android, "application/json")).status).toBe(200);
    expect((await osmandPost(ios, "application/x-www-form-urlencoded")).status).toBe(200);
    expect((await osmandPost(moving, "application/json; charset=utf-8")).status).toBe(200);

    const rows = await storedFixes(team);
    expect(rows).toEqual([
      expect.objectContaining({ at_ms: Date.UTC(2021, 6, 21, 8, 6, 34, 444), lat: -6.1148096, lng: 106.6837015, accuracy: 3.8, speed: 18.67, heading: 63, altitude: 35.7, battery: 0.79 }),
      expect.objectContaining({ at_ms: Date.UTC(2025, 4, 9, 4, 11, 30, 579), lat: 37.785834, lng: -122.406417, accuracy: 5, speed: null, heading: null, altitude: 0, battery: null }),
      expect.objectContaining({ at_ms: Date.UTC(2025, 5, 15, 13, 45, 12, 862), lat: 37.4219983, lng: -122.084, accuracy: 5, speed: 0, heading: null, altitude: 5, battery: 1 }),
    ]);
  });

  it("refuses an invalid fix with a 400 naming the field: no position, lat 91, a 1999 clock", async () => {
    const d = await register(newTeam());
    const cases: [string, string][] = [
      [`id=${d.deviceId}&timestamp=${nowS()}&cell=257,02,16,2224`, "lat"],
      [`id=${d.deviceId}&lat=91&lon=30`, "lat"],
      // A clock before 2000 is broken (a phone's fix is held to the same rule).
      [`id=${d.deviceId}&timestamp=915148800&lat=60.0&lon=30.0`, "timestamp"],
    ];
    for (const [q, path] of cases) {
      const res = await osmandGet(q);
      expect(res.status, q).toBe(400);
      const body = await res.json<{ error: { code: string; message: string; issues: { path: string }[] } }>();
      expect(body.error.code).toBe("invalid_fix");
      expect(body.error.message).toContain(path);
      expect(body.error.issues.map((i) => i.path)).toContain(path);
    }
    const noId = await osmandGet(`lat=1&lon=2`);
    expect(noId.status).toBe(400);
    expect(await noId.json()).toMatchObject({ error: { issues: [{ path: "id" }] } });
  });

  it("lands an exact resend once, and a whole offline buffer re-uploaded (one by one, then as a batch) once", async () => {
    const team = newTeam();
    const d = await register(team, "resender");
    const t = nowS() - 3_600;
    const fix = `id=${d.deviceId}&timestamp=${t}&lat=52.1&lon=4.3&speed=3`;
    expect((await osmandGet(fix)).status).toBe(200);
    expect((await osmandGet(fix)).status).toBe(200);
    expect(await storedFixes(team)).toHaveLength(1);

    // The offline buffer: 8 fixes sent one per request, flushed, then the app uploads them all again as one batch.
    const buffer = Array.from({ length: 8 }, (_, i) => ({ t: t + 10 + i, lat: 52.1 + i / 1000, lon: 4.3 }));
    for (const b of buffer) expect((await osmandGet(`id=${d.deviceId}&timestamp=${b.t}&lat=${b.lat}&lon=${b.lon}`)).status).toBe(200);
    expect(await storedFixes(team)).toHaveLength(9);
    const batch = {
      device_id: d.deviceId,
      location: buffer.map((b) => ({ timestamp: new Date(b.t * 1000).toISOString(), coords: { latitude: b.lat, longitude: b.lon, accuracy: 5, speed: 0, heading: -1, altitude: 0 } })),
    };
    expect((await osmandPost(JSON.stringify(batch), "application/json")).status).toBe(200);
    const rows = await storedFixes(team);
    expect(rows).toHaveLength(9);
    expect(new Set(rows.map((r) => r.id)).size).toBe(9);
    expect((await hubFor(team).figures()).duplicatesTotal).toBeGreaterThanOrEqual(9);
  });

  it("stores every record of a batch without timestamps (each stamped on arrival, each its own fix)", async () => {
    const team = newTeam();
    const d = await register(team, "untimed");
    const before = Date.now();
    const body = { device_id: d.deviceId, location: [{ coords: { latitude: 52.6, longitude: 4.6 } }, { coords: { latitude: 1, longitude: 1 } }, { coords: { latitude: 2, longitude: 2 } }, { coords: { latitude: 2, longitude: 2 } }] };
    const res = await osmandPost(JSON.stringify(body), "application/json");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    const rows = await storedFixes(team);
    expect(rows.map((r) => [r.lat, r.lng]).sort()).toEqual([[1, 1], [2, 2], [2, 2], [52.6, 4.6]]);
    expect(new Set(rows.map((r) => r.at_ms)).size).toBe(1);
    expect(rows[0]!.at_ms).toBeGreaterThanOrEqual(before);
  });

  it("keeps two fixes of one time at two places; a resend of one timestamped fix (any app, any spelling) is still one row", async () => {
    const team = newTeam();
    const d = await register(team, "twoplaces");
    const t = nowS() - 300;
    expect((await osmandGet(`id=${d.deviceId}&timestamp=${t}&lat=52.1&lon=4.3`)).status).toBe(200);
    expect((await osmandGet(`id=${d.deviceId}&timestamp=${t}&lat=52.2&lon=4.3`)).status).toBe(200);
    // Resends: the same fix again, spelt `52.10`, with another speed, as Traccar JSON, and through OwnTracks.
    expect((await osmandGet(`id=${d.deviceId}&timestamp=${t}&lat=52.10&lon=4.30&speed=5`)).status).toBe(200);
    const json = { device_id: d.deviceId, location: { timestamp: new Date(t * 1000).toISOString(), coords: { latitude: 52.1, longitude: 4.3 } } };
    expect((await osmandPost(JSON.stringify(json), "application/json")).status).toBe(200);
    expect((await owntracks(d, { _type: "location", lat: 52.2, lon: 4.3, tst: t })).status).toBe(200);
    const rows = await storedFixes(team);
    expect(rows.map((r) => [r.at_ms, r.lat, r.lng]).sort((a, b) => a[1]! - b[1]!)).toEqual([[t * 1000, 52.1, 4.3], [t * 1000, 52.2, 4.3]]);
    expect(rows.map((r) => r.id).sort()).toEqual([await fixId(d.deviceId, { at: t * 1000, lat: 52.1, lng: 4.3 }), await fixId(d.deviceId, { at: t * 1000, lat: 52.2, lng: 4.3 })].sort());
  });

  it("stores the valid records of a batch with a bad one (200, the bad one named in the body), each exactly once on a resend; 400 when none is valid", async () => {
    const team = newTeam();
    const d = await register(team, "mixed");
    const t = nowS() - 120;
    const at = (s: number) => new Date((t + s) * 1000).toISOString();
    const batch = {
      device_id: d.deviceId,
      location: [
        { timestamp: at(0), coords: { latitude: 52, longitude: 4 } },
        { timestamp: at(1), coords: { latitude: 95, longitude: 4 } },
        { timestamp: at(2), coords: { latitude: 52.001, longitude: 4 } },
        { timestamp: "1999-12-31T23:59:59Z", coords: { latitude: 52, longitude: 4 } },
      ],
    };
    for (let send = 0; send < 2; send++) {
      const res = await osmandPost(JSON.stringify(batch), "application/json");
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        accepted: 2,
        refused: [
          { index: 1, issues: [{ path: "location.1.coords.latitude", message: "must be between -90 and 90 (degrees)" }] },
          { index: 3, issues: [{ path: "location.3.timestamp", message: "is before 2000-01-01" }] },
        ],
        dropped: [],
      });
    }
    const rows = await storedFixes(team);
    expect(rows.map((r) => [r.at_ms, r.lat])).toEqual([[t * 1000, 52], [(t + 2) * 1000, 52.001]]);

    const none = await osmandPost(JSON.stringify({ device_id: d.deviceId, location: [batch.location[1], batch.location[3]] }), "application/json");
    expect(none.status).toBe(400);
    const body = await none.json<{ error: { code: string; issues: { path: string }[] } }>();
    expect(body.error.code).toBe("invalid_fix");
    expect(body.error.issues.map((i) => i.path)).toEqual(["location.0.coords.latitude", "location.1.timestamp"]);
    expect(await storedFixes(team)).toHaveLength(2);
  });

  it("answers a batch of 501 records 400 'at most 500 records' (500 are taken)", async () => {
    const team = newTeam();
    const d = await register(team, "big");
    const t = nowS() - 3_000;
    const records = (n: number) => Array.from({ length: n }, (_, i) => ({ timestamp: new Date((t + i) * 1000).toISOString(), coords: { latitude: 1, longitude: 1 } }));
    const tooMany = await osmandPost(JSON.stringify({ device_id: d.deviceId, location: records(501) }), "application/json");
    expect(tooMany.status).toBe(400);
    const body = await tooMany.json<{ error: { message: string; issues: { path: string; message: string }[] } }>();
    expect(body.error.message).toContain("at most 500 records");
    expect(body.error.issues).toEqual([{ path: "location", message: expect.stringContaining("at most 500 records") }]);
    expect((await osmandPost(JSON.stringify({ device_id: d.deviceId, location: records(500) }), "application/json")).status).toBe(200);
    expect(await storedFixes(team)).toHaveLength(500);
  });

  it("stores a fix with batt=150 without its battery and says 'batt must be 0–100 (%)'; speed in knots the same", async () => {
    const team = newTeam();
    const d = await register(team, "battery");
    const t = nowS() - 30;
    const res = await osmandGet(`id=${d.deviceId}&lat=52&lon=4&timestamp=${t}&batt=150&speed=2500&accuracy=8`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      accepted: 1,
      refused: [],
      dropped: [
        { path: "speed", message: "must be 0–1943.8 (knots)" },
        { path: "batt", message: "must be 0–100 (%)" },
      ],
    });
    const [row] = await storedFixes(team);
    expect(row).toMatchObject({ at_ms: t * 1000, lat: 52, lng: 4, accuracy: 8, battery: null, speed: null });
    // A bad position still refuses the fix, and the 400 names every bad field.
    const bad = await osmandGet(`id=${d.deviceId}&lat=95&lon=4&timestamp=${t + 1}&batt=150`);
    expect(bad.status).toBe(400);
    expect((await bad.json<{ error: { message: string } }>()).error.message).toBe("the fix is not valid: lat must be between -90 and 90 (degrees); batt must be 0–100 (%)");
  });

  it("refuses numbers in hex or exponent form (lat=0x10, lat=1e1): 400 'must be a number', nothing stored", async () => {
    const team = newTeam();
    const d = await register(team, "hex");
    for (const q of [`lat=0x10&lon=4`, `lat=1e1&lon=4`, `lat=52&lon=0x4`, `location=0x10,4`]) {
      const res = await osmandGet(`id=${d.deviceId}&${q}&timestamp=${nowS()}`);
      expect(res.status, q).toBe(400);
      expect((await res.json<{ error: { message: string } }>()).error.message, q).toMatch(/(lat|lon) must be a number$/);
    }
    expect(await storedFixes(team)).toHaveLength(0);
  });

  it("refuses an unknown device with 404: a plain id, a forged key, another deployment's key", async () => {
    const d = await register(newTeam());
    expect((await osmandGet(`id=48241179&lat=1&lon=2`)).status).toBe(404);
    const [prefix, , mac] = d.deviceId.split(".");
    const forged = btoa(JSON.stringify(["team-x", "mallory", "AAAAAAAAAAAAAAAA"])).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    expect((await osmandGet(`id=${prefix}.${forged}.${mac}&lat=1&lon=2`)).status).toBe(404);
    const flipped = `${prefix}.${d.deviceId.split(".")[1]}.${mac![0] === "A" ? "B" : "A"}${mac!.slice(1)}`;
    expect((await osmandGet(`id=${flipped}&lat=1&lon=2`)).status).toBe(404);
  });

  it("writes a team B device's fixes into team B only: nothing in the request can point it at team A", async () => {
    const [teamA, teamB] = [newTeam(), newTeam()];
    await register(teamA, "ann");
    const b = await register(teamB, "ann");
    expect((await osmandGet(`id=${b.deviceId}&team=${teamA}&teamId=${teamA}&lat=1&lon=2&timestamp=${nowS() - 2}`)).status).toBe(200);
    // Another second and place: one device, fix time and position are one event, whichever app sent it.
    expect((await owntracks(b, { _type: "location", lat: 1.5, lon: 2.5, tst: nowS() - 1, topic: `owntracks/${teamA}/ann` })).status).toBe(200);
    expect(await storedFixes(teamB)).toHaveLength(2);
    expect(await storedFixes(teamA)).toHaveLength(0);
    expect(await sql("SELECT count(*)::int AS n FROM locations WHERE team_id = $1", [teamA])).toEqual([{ n: 0 }]);
  });

  it("refuses a revoked device (404 OsmAnd, 401 OwnTracks, even for an empty body) and the list shows when", async () => {
    const team = newTeam();
    const d = await register(team, "gone");
    expect((await osmandGet(`id=${d.deviceId}&lat=1&lon=2&timestamp=${nowS() - 5}`)).status).toBe(200);
    expect((await call(`/v1/admin/devices/${d.deviceId}/revoke`, { method: "POST", token: await tokenFor(newTeam(), "admin") })).status).toBe(403);
    expect((await call(`/v1/admin/devices/fpd1.nope.nope/revoke`, { method: "POST", token: await tokenFor(team, "admin") })).status).toBe(404);
    const revoke = await call(`/v1/admin/devices/${d.deviceId}/revoke`, { method: "POST", token: await tokenFor(team, "admin") });
    expect(revoke.status).toBe(200);
    const first = await revoke.json<{ revokedAt: string }>();
    expect(first).toMatchObject({ deviceId: d.deviceId, team, user: "gone", revokedAt: expect.any(String) });
    // Revoking again changes nothing and says so: the first time, the one Postgres keeps and the list shows.
    await new Promise((r) => setTimeout(r, 5));
    const again = await call(`/v1/admin/devices/${d.deviceId}/revoke`, { method: "POST", token: await tokenFor(team, "admin") });
    expect(again.status).toBe(200);
    expect((await again.json<{ revokedAt: string }>()).revokedAt).toBe(first.revokedAt);

    expect((await osmandGet(`id=${d.deviceId}&lat=1&lon=2&timestamp=${nowS()}`)).status).toBe(404);
    // Revoked comes first: a bad fix from a revoked device is told the device is gone, not that the fix is bad.
    expect((await osmandGet(`id=${d.deviceId}&lat=99&lon=2&timestamp=${nowS()}`)).status).toBe(404);
    expect((await owntracks(d, { _type: "location", lat: 99, lon: 2, tst: nowS() })).status).toBe(401);
    expect((await owntracks(d, { _type: "location", lat: 1, lon: 2, tst: nowS() })).status).toBe(401);
    expect((await owntracks(d, undefined)).status).toBe(401);
    expect(await storedFixes(team)).toHaveLength(1);
    const list = await (await call("/v1/admin/devices", { token: await tokenFor(team, "admin") })).json<{ devices: { revokedAt: string | null }[] }>();
    expect(list.devices[0]!.revokedAt).toBe(first.revokedAt);
    // Another device of the same person is not touched.
    const other = await register(team, "gone");
    expect((await osmandGet(`id=${other.deviceId}&lat=1&lon=2&timestamp=${nowS()}`)).status).toBe(200);
  });
});

describe("a person's devices go with their tokens", () => {
  it("POST /v1/admin/tokens/revoke { user } revokes every tracker device of that person (for good); a device registered later works", async () => {
    const team = newTeam();
    const admin = await tokenFor(team, "admin");
    const [phone, watch, colleague] = [await register(team, "leaver"), await register(team, "leaver"), await register(team, "stays")];
    expect((await osmandGet(`id=${phone.deviceId}&lat=1&lon=2&timestamp=${nowS() - 5}`)).status).toBe(200);

    const res = await call("/v1/admin/tokens/revoke", { method: "POST", token: admin, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "leaver" }) });
    expect(res.status).toBe(200);
    const body = await res.json<{ revokedDevices: string[] }>();
    expect(body.revokedDevices.sort()).toEqual([phone.deviceId, watch.deviceId].sort());

    expect((await osmandGet(`id=${phone.deviceId}&lat=1&lon=2&timestamp=${nowS()}`)).status).toBe(404);
    expect((await owntracks(watch, { _type: "location", lat: 1, lon: 2, tst: nowS() })).status).toBe(401);
    expect((await osmandGet(`id=${colleague.deviceId}&lat=1&lon=2&timestamp=${nowS()}`)).status).toBe(200);
    const list = await (await call("/v1/admin/devices", { token: admin })).json<{ devices: { deviceId: string; revokedAt: string | null }[] }>();
    const revoked = new Map(list.devices.map((d) => [d.deviceId, d.revokedAt]));
    expect(revoked.get(phone.deviceId)).toEqual(expect.any(String));
    expect(revoked.get(watch.deviceId)).toEqual(expect.any(String));
    expect(revoked.get(colleague.deviceId)).toBeNull();

    // Nothing is left to revoke the second time; a device registered afterwards is a new credential and works.
    const again = await call("/v1/admin/tokens/revoke", { method: "POST", token: admin, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "leaver" }) });
    expect(await again.json()).toMatchObject({ revokedDevices: [] });
    const rejoined = await register(team, "leaver");
    expect((await osmandGet(`id=${rejoined.deviceId}&lat=1&lon=2&timestamp=${nowS()}`)).status).toBe(200);
    expect(await storedFixes(team)).toHaveLength(3);
  });
});

describe("tracker bodies are UTF-8, as every body", () => {
  it("a form or an OwnTracks body with bytes that are not UTF-8 is a 400, nothing stored", async () => {
    const team = newTeam();
    const d = await register(team, "utf");
    const form = new Uint8Array([...new TextEncoder().encode(`id=${d.deviceId}&lat=1&lon=2&timestamp=${nowS()}&note=`), 0xff, 0xfe]);
    const res = await call("/v1/compat/osmand", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_fix", message: expect.stringMatching(/UTF-8/) } });
    const own = new Uint8Array([...new TextEncoder().encode(`{"_type":"location","lat":1,"lon":2,"tst":${nowS()},"tid":"`), 0xc3, 0x28, ...new TextEncoder().encode('"}')]);
    const res2 = await call("/v1/compat/owntracks", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Basic ${btoa(`${d.deviceId}:${d.secret}`)}` },
      body: own,
    });
    expect(res2.status).toBe(400);
    expect(await storedFixes(team)).toEqual([]);
  });
});

describe("limits like /v1/events", () => {
  it("caps the body (413) and rate-limits per device (429 + Retry-After), another device unaffected", async () => {
    const team = newTeam();
    const [d, other] = [await register(team), await register(team)];
    const huge = await osmandPost(JSON.stringify({ device_id: d.deviceId, location: { coords: { latitude: 1, longitude: 2 }, pad: "x".repeat(600 * 1024) } }), "application/json");
    expect(huge.status).toBe(413);
    const t = nowS() - 1_000;
    const statuses: number[] = [];
    for (let i = 0; i < 25 && !statuses.includes(429); i++) statuses.push((await osmandGet(`id=${d.deviceId}&lat=1&lon=2&timestamp=${t + i}`)).status);
    expect(statuses).toContain(429);
    const limited = await osmandGet(`id=${d.deviceId}&lat=1&lon=2&timestamp=${t + 100}`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Retry-After")).toBe("10");
    expect((await osmandGet(`id=${other.deviceId}&lat=1&lon=2&timestamp=${t}`)).status).toBe(200);
  });
});

describe("/v1/compat/owntracks", () => {
  it("stores the booklet's location with the right units (tst s, vel km/h, batt %) and answers []", async () => {
    const team = newTeam();
    const d = await register(team, "otto");
    const tst = nowS() - 60;
    // The booklet's _type=location example (tech/json), its 2013 tst moved into this service's window.
    const res = await owntracks(d, { _type: "location", acc: 75, alt: 13, batt: 60, cog: 270, lat: 48.85833, lon: 2.29513, rad: 10, t: "u", tid: "YY", tst, vac: 10, vel: 54, p: 100, conn: "w" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
    const [row] = await storedFixes(team);
    expect(row).toMatchObject({ user_id: "otto", at_ms: tst * 1000, lat: 48.85833, lng: 2.29513, accuracy: 75, altitude: 13, battery: 0.6, heading: 270 });
    expect(row!.speed).toBeCloseTo(54 * KMH_TO_MS, 9);

    // The booklet's HTTP example verbatim, its 2017 clock and all: stored as the fix it is (history, not the live map).
    const old = await owntracks(d, { lon: 2.29513, lat: 48.85833, _type: "location", tst: 1497476456, tid: "JJ" });
    expect(old.status).toBe(200);
    await hubFor(team).flush();
    expect((await storedFixes(team)).map((r) => r.at_ms)).toContain(1497476456 * 1000);
    // A clock before 2000 is broken: refused by name.
    const broken = await owntracks(d, { lon: 2.29513, lat: 48.85833, _type: "location", tst: 915148800 });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: { code: "invalid_fix", issues: [{ path: "tst" }] } });
    const bad = await owntracks(d, { _type: "location", lat: 91, lon: 2, tst });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { issues: [{ path: "lat" }] } });
  });

  it("stores a location with batt 150 or vel 4000 km/h without them (200 [], named in Fieldpulse-Dropped); a bad lat still 400", async () => {
    const team = newTeam();
    const d = await register(team, "otto-batt");
    const tst = nowS() - 20;
    const res = await owntracks(d, { _type: "location", lat: 48.85, lon: 2.29, tst, batt: 150, vel: 4000, acc: 12 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
    expect(res.headers.get("Fieldpulse-Dropped")).toBe("batt, vel");
    const [row] = await storedFixes(team);
    expect(row).toMatchObject({ at_ms: tst * 1000, lat: 48.85, lng: 2.29, accuracy: 12, battery: null, speed: null });
    const bad = await owntracks(d, { _type: "location", lat: 48.85, lon: 200, tst, batt: 150 });
    expect(bad.status).toBe(400);
    expect((await bad.json<{ error: { message: string } }>()).error.message).toBe("the fix is not valid: lon must be between -180 and 180 (degrees); batt must be 0–100 (%)");
  });

  it("accepts and ignores other _types and empty bodies; Bearer id:secret works; a wrong password is 401", async () => {
    const team = newTeam();
    const d = await register(team);
    for (const body of [undefined, { _type: "transition", event: "enter", lat: 1, lon: 2, tst: nowS(), wtst: 1, desc: "home" }, { _type: "lwt", tst: nowS() }, { _type: "encrypted", data: "abc" }]) {
      const res = await owntracks(d, body);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual([]);
    }
    expect(await storedFixes(team)).toHaveLength(0);
    const bearer = await call("/v1/compat/owntracks", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${d.deviceId}:${d.secret}` },
      body: JSON.stringify({ _type: "location", lat: 3, lon: 4, tst: nowS() }),
    });
    expect(bearer.status).toBe(200);
    expect(await storedFixes(team)).toHaveLength(1);
    const wrong = await owntracks({ deviceId: d.deviceId, secret: "not-it" }, { _type: "location", lat: 3, lon: 4, tst: nowS() });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("WWW-Authenticate")).toMatch(/^Basic/);
    expect((await call("/v1/compat/owntracks", { method: "POST", body: "{}" })).status).toBe(401);
  });
});

describe("live map", () => {
  it("shows a tracker's fix on the manager's socket like a PWA fix", async () => {
    const team = newTeam();
    const d = await register(team, "tracker-tina");
    const token = await tokenFor(team, "manager");
    const res = await call("/v1/live", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `fieldpulse.v1, bearer.${token}` } });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const frames: LiveMessage[] = [];
    ws.addEventListener("message", (e) => frames.push(liveMessage.parse(JSON.parse(String(e.data)))));
    ws.accept();
    await waitFor(() => frames.find((f) => f.type === "snapshot"), { what: "snapshot" });
    const at = (nowS() - 1) * 1000;
    expect((await osmandGet(`id=${d.deviceId}&lat=51.5&lon=-0.12&timestamp=${at}&speed=10`)).status).toBe(200);
    const frame = await waitFor(() => frames.find((f): f is Extract<LiveMessage, { type: "positions" }> => f.type === "positions"), { what: "positions frame" });
    expect(frame.points).toEqual([expect.objectContaining({ userId: "tracker-tina", lat: 51.5, lng: -0.12, at })]);
    ws.close(1000, "done");
  });
});
