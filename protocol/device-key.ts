import { z } from "zod/mini";
import { teamId, userId } from "./claims.ts";

/**
 * A tracker's credential, verifiable without a lookup (issue 15): the device id carries its team, its
 * person and an HMAC with AUTH_SECRET, so the ingest path learns who is sending from the id alone and never
 * reads Postgres per fix. OsmAnd has no password, so the id itself must be unguessable (the MAC makes it
 * so). The OwnTracks password is a second HMAC of the id. Revocation lives in the team's TeamHub.
 *
 *   fpd1.<base64url JSON [team, user, nonce]>.<base64url HMAC-SHA256 (first 16 bytes)>
 */
export const DEVICE_KEY_PREFIX = "fpd1";
/** Longer input is refused before any HMAC is computed. */
export const MAX_DEVICE_ID_LENGTH = 600;
const MAC_BYTES = 16;
const SECRET_BYTES = 18;

const payload = z.tuple([teamId, userId, z.string().check(z.regex(/^[A-Za-z0-9_-]{16}$/))]);

export interface DeviceIdentity {
  deviceId: string;
  team: string;
  user: string;
}

const keys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(secret, key);
  }
  return key;
}

// Domain labels keep the id's MAC and the password apart: one can never stand in for the other.
async function mac(secret: string, label: string, message: string, bytes: number): Promise<Uint8Array> {
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(`fieldpulse/${label}\n${message}`));
  return new Uint8Array(sig).slice(0, bytes);
}

function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
  try {
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "="));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Constant time over equal lengths: a MAC compared byte by byte with an early exit leaks its prefix. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A new device of `team` for `user`: its id (the tracker's identifier) and its password (OwnTracks). */
export async function mintDeviceKey(team: string, user: string, secret: string): Promise<DeviceIdentity & { secret: string }> {
  const nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(12)));
  const body = toBase64Url(new TextEncoder().encode(JSON.stringify([team, user, nonce])));
  const unsigned = `${DEVICE_KEY_PREFIX}.${body}`;
  const deviceId = `${unsigned}.${toBase64Url(await mac(secret, "device-id", unsigned, MAC_BYTES))}`;
  return { deviceId, team, user, secret: await deviceSecret(deviceId, secret) };
}

/** The OwnTracks password of a device: derived, never stored. */
export async function deviceSecret(deviceId: string, secret: string): Promise<string> {
  return toBase64Url(await mac(secret, "device-secret", deviceId, SECRET_BYTES));
}

/** The team and person of a device id, or null when it is not one this deployment signed. */
export async function verifyDeviceId(raw: string, secret: string): Promise<DeviceIdentity | null> {
  if (raw.length > MAX_DEVICE_ID_LENGTH) return null;
  const parts = raw.split(".");
  if (parts.length !== 3 || parts[0] !== DEVICE_KEY_PREFIX) return null;
  // Compared as text, not decoded bytes: base64url has several spellings of the same bytes (the last
  // character's spare bits), and a second spelling of a revoked id would be a different jti at the hub.
  const expected = toBase64Url(await mac(secret, "device-id", `${parts[0]}.${parts[1]}`, MAC_BYTES));
  if (!sameBytes(new TextEncoder().encode(parts[2]!), new TextEncoder().encode(expected))) return null;
  const bytes = fromBase64Url(parts[1]!);
  if (!bytes) return null;
  const decoded = payload.safeParse(safeJson(new TextDecoder().decode(bytes)));
  if (!decoded.success) return null;
  return { deviceId: raw, team: decoded.data[0], user: decoded.data[1] };
}

/** A device id and its password together (OwnTracks Basic auth, or `Bearer <id>:<password>`). */
export async function verifyDeviceLogin(deviceIdRaw: string, password: string, secret: string): Promise<DeviceIdentity | null> {
  const device = await verifyDeviceId(deviceIdRaw, secret);
  if (!device) return null;
  const expected = new TextEncoder().encode(await deviceSecret(device.deviceId, secret));
  return sameBytes(new TextEncoder().encode(password), expected) ? device : null;
}
