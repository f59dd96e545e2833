import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { log } from "../common/log.ts";
import { decodeOsmAnd, decodeOwnTracks, osmandDeviceId, toLocationEvents, type Decoded, type DecodedFix, type OsmAndRequest } from "../protocol/compat.ts";
import { verifyDeviceId, verifyDeviceLogin, type DeviceIdentity } from "../protocol/device-key.ts";
import { MAX_BODY_BYTES } from "../protocol/events.ts";
import { ApiError } from "./errors.ts";
import { readUtf8 } from "./ingest.ts";
import { deviceKey, RATE_LIMIT_PERIOD_S } from "./rate-limit.ts";

/**
 * Tracker apps (issue 15): Traccar Client / OsmAnd and OwnTracks post here with a device key
 * (protocol/device-key.ts), verified without a lookup. Each fix becomes a `location` event with an id
 * made of the device, the fix time and the position, and goes through the team's TeamHub exactly as a PWA
 * batch does: batching, backpressure, the live map, exactly once.
 *
 * Records are judged one by one (a Traccar Client batch holds up to 500): the valid ones are stored and the
 * answer is 200 — Traccar Client treats anything else as a failure and resends its whole buffer — with the
 * refused records and dropped measurements in the body; 400 only when no record is valid.
 */
export const compat = new Hono<{ Bindings: Env }>();

const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError(413, "payload_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`);
  },
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
}

/**
 * Query and form parameters (the query wins on a repeated name, first value of each), or the JSON body.
 * A body that opens like JSON is JSON whatever its Content-Type: some Traccar Client versions send it as
 * application/x-www-form-urlencoded.
 */
async function readOsmAnd(req: Request): Promise<OsmAndRequest> {
  const params = new Map<string, string>();
  const add = (from: URLSearchParams) => {
    for (const [k, v] of from) if (!params.has(k)) params.set(k, v);
  };
  add(new URL(req.url).searchParams);
  const text = req.method === "POST" ? (await readUtf8(req, "invalid_fix")).trim() : "";
  // Object.fromEntries defines own properties: a parameter named __proto__ stays a parameter.
  if (text.startsWith("{") || text.startsWith("[")) return { params: Object.fromEntries(params), json: parseJson(text) };
  if (text) add(new URLSearchParams(text));
  return { params: Object.fromEntries(params) };
}

/** The Workers rate-limit binding, per device as /v1/events is per phone. Fails open: losing the limiter must not lose fixes. */
async function limitDevice(env: Env, device: DeviceIdentity): Promise<void> {
  let allowed = true;
  try {
    allowed = (await env.DEVICE_LIMIT.limit({ key: deviceKey(device.team, `device:${device.deviceId}`) })).success;
  } catch {
    // fail open
  }
  if (!allowed) {
    throw new ApiError(429, "rate_limited", `too many requests from this device; retry in ${RATE_LIMIT_PERIOD_S} s`, undefined, {
      headers: { "Retry-After": String(RATE_LIMIT_PERIOD_S) },
    });
  }
}

function hubOf(env: Env, device: DeviceIdentity) {
  // A device writes only into the team its key was signed for: the team comes from the key, never the request.
  return env.TEAM_HUB.get(env.TEAM_HUB.idFromName(device.team));
}

/** What the hub checks revocation against: the device id as the jti (revoked forever), a subject of its own. */
const tokenOf = (device: DeviceIdentity) => ({ sub: `device:${device.deviceId}`, jti: device.deviceId, iat: 0 });

/** The tracker protocol a request came in by, for the log. */
type Route = "osmand" | "owntracks";

/**
 * Refused records and dropped measurements are logged (one line per request, counts first: what Workers Logs
 * sums) — never the device id, which is the credential. 400 when nothing is left to store.
 */
function fixesOrRefuse(route: Route, device: DeviceIdentity, decoded: Decoded): DecodedFix[] {
  const refusedIssues = decoded.refused.flatMap((r) => r.issues);
  if (refusedIssues.length > 0 || decoded.dropped.length > 0) {
    log({
      event: "compat_fix_issues",
      route,
      team: device.team,
      user: device.user,
      fixes: decoded.fixes.length,
      refused: decoded.refused.length,
      dropped: decoded.dropped.length,
      issues: [...refusedIssues, ...decoded.dropped].slice(0, 20),
    });
  }
  if (decoded.fixes.length === 0 && refusedIssues.length > 0) {
    throw new ApiError(400, "invalid_fix", `the fix is not valid: ${refusedIssues.map((i) => `${i.path} ${i.message}`).join("; ")}`, refusedIssues);
  }
  return decoded.fixes;
}

/** What a partly taken request is told (200): how many fixes were taken, the records refused, the measurements dropped. */
function partialReport(decoded: Decoded): Record<string, unknown> | null {
  if (decoded.refused.length === 0 && decoded.dropped.length === 0) return null;
  return { accepted: decoded.fixes.length, refused: decoded.refused, dropped: decoded.dropped };
}

/** Through the TeamHub like a PWA batch. Returns false when the device is revoked; throws 503 under backpressure. */
async function ingestFixes(env: Env, device: DeviceIdentity, fixes: readonly DecodedFix[], receivedAt: number): Promise<boolean> {
  const events = await toLocationEvents(device.deviceId, fixes);
  const result = await hubOf(env, device).ingest({ teamId: device.team, userId: device.user, token: tokenOf(device), events, receivedAt });
  if (result.revoked) return false;
  if (result.refused > 0) {
    throw new ApiError(503, "backpressure", "the team's buffer is full; retry later", undefined, { headers: { "Retry-After": String(result.retryAfterS ?? 30) } });
  }
  return true;
}

const unknownOsmAnd = () => new ApiError(404, "unknown_device", "no such device: register it with POST /v1/admin/devices and use the deviceId it answers");

compat.on(["GET", "POST"], "/v1/compat/osmand", limitBody, async (c) => {
  const req = await readOsmAnd(c.req.raw);
  const rawId = osmandDeviceId(req);
  if (!rawId) throw new ApiError(400, "invalid_fix", "the request names no device: send id (or deviceid, or device_id in JSON)", [{ path: "id", message: "is required" }]);
  // Unknown → 404, as Traccar answers: the app shows it and the user fixes the identifier.
  const device = await verifyDeviceId(rawId, c.env.AUTH_SECRET);
  if (!device) throw unknownOsmAnd();
  await limitDevice(c.env, device);
  const receivedAt = Date.now();
  const decoded = decodeOsmAnd(req, receivedAt);
  // A revoked device hears 404 whatever it sends (a bad fix too): the answer that makes its user act.
  if (decoded.fixes.length === 0 && !(await hubOf(c.env, device).authorize(tokenOf(device)))) throw unknownOsmAnd();
  const fixes = fixesOrRefuse("osmand", device, decoded);
  if (!(await ingestFixes(c.env, device, fixes, receivedAt))) throw unknownOsmAnd();
  // Empty, as Traccar answers, unless something was refused or dropped: then the apps' log shows what.
  const report = partialReport(decoded);
  return report ? c.json(report, 200) : c.body(null, 200);
});

/** OwnTracks offers HTTP Basic (user = device id, password = its secret); `Bearer <deviceId>:<secret>` also works. */
function ownTracksLogin(header: string | undefined): { id: string; password: string } | null {
  const m = /^(Basic|Bearer)\s+(\S+)$/i.exec(header ?? "");
  if (!m) return null;
  let pair = m[2]!;
  if (m[1]!.toLowerCase() === "basic") {
    try {
      pair = atob(pair);
    } catch {
      return null;
    }
  }
  const colon = pair.indexOf(":");
  return colon < 0 ? null : { id: pair.slice(0, colon), password: pair.slice(colon + 1) };
}

const unauthorizedOwnTracks = () =>
  new ApiError(401, "unknown_device", "unknown or revoked device: set the app's user to the deviceId and its password to the secret", undefined, {
    headers: { "WWW-Authenticate": 'Basic realm="fieldpulse", charset="UTF-8"' },
  });

compat.post("/v1/compat/owntracks", limitBody, async (c) => {
  const login = ownTracksLogin(c.req.header("Authorization"));
  const device = login && (await verifyDeviceLogin(login.id, login.password, c.env.AUTH_SECRET));
  if (!device) throw unauthorizedOwnTracks();
  await limitDevice(c.env, device);
  const text = (await readUtf8(c.req.raw, "invalid_fix")).trim();
  const decoded = decodeOwnTracks(text === "" ? undefined : parseJson(text));
  // Nothing to store (another _type, an empty body, a bad fix), but a revoked device still hears 401 first.
  if (decoded.fixes.length === 0 && !(await hubOf(c.env, device).authorize(tokenOf(device)))) throw unauthorizedOwnTracks();
  const fixes = fixesOrRefuse("owntracks", device, decoded);
  if (fixes.length > 0 && !(await ingestFixes(c.env, device, fixes, Date.now()))) {
    throw unauthorizedOwnTracks();
  }
  // HTTP mode answers with messages for the app (friends, cards): none. The body must stay an array of
  // messages (OwnTracks Android resends a message whose answer it cannot parse), so a dropped measurement
  // is named in a header (the tracker's field names only: ASCII) and in the log.
  if (decoded.dropped.length > 0) c.header("Fieldpulse-Dropped", [...new Set(decoded.dropped.map((i) => i.path))].join(", "));
  return c.json([], 200);
});
