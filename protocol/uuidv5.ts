/**
 * UUIDv5 (RFC 9562 §5.5): SHA-1 of a namespace and a name. The same device, fix time and position always
 * give the same id, so a tracker's resend or a re-uploaded offline buffer is one event (issue 15), while two
 * different fixes never share one. Lower-case, as every event id is compared.
 */

/**
 * The namespace of tracker fixes; fixed forever, and so is the name's format (`fixId`): changing either makes
 * every fix resent across the upgrade a new event (test/node/compat.test.ts pins both). The format last changed
 * on 2026-12-06 (the position joined the time).
 */
export const FIX_NAMESPACE = "3c1f5f7e-2a8b-4d6e-9b0a-7f4e1c2d5a60";

const HEX = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidBytes(uuid: string): Uint8Array {
  if (!HEX.test(uuid)) throw new Error(`not a UUID: ${uuid}`);
  const hex = uuid.replace(/-/g, "");
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

function formatUuid(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export async function uuidv5(name: string, namespace: string): Promise<string> {
  const ns = uuidBytes(namespace);
  const nameBytes = new TextEncoder().encode(name);
  const input = new Uint8Array(ns.length + nameBytes.length);
  input.set(ns);
  input.set(nameBytes, ns.length);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", input)).slice(0, 16);
  hash[6] = (hash[6]! & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8]! & 0x3f) | 0x80; // variant 10
  return formatUuid(hash);
}

/** What names a fix: its time (epoch ms) and its position as parsed. */
export interface FixKey {
  at: number;
  lat: number;
  lng: number;
}

/**
 * The event id of one tracker fix: the device, the fix time (epoch ms) and the position (lat, lng as parsed
 * numbers: `52.10` and `52.1` are one position) name it. A record without a time of its own is stamped on
 * arrival: `arrivalIndex` (its index in the request) tells apart two such records of one request, which share
 * the arrival time. Such a fix cannot be deduplicated against a later resend (it arrives at another time).
 */
export function fixId(deviceId: string, fix: FixKey, arrivalIndex?: number): Promise<string> {
  const name = `${deviceId}\n${fix.at}\n${fix.lat}\n${fix.lng}${arrivalIndex === undefined ? "" : `\narrival#${arrivalIndex}`}`;
  return uuidv5(name, FIX_NAMESPACE);
}
