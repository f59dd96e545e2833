import { readClaims, type TokenClaims } from "../../protocol/claims.ts";
import { META, type FieldDb } from "./db.ts";

/**
 * Who is signed in: the field token (a JWT the manager shares as a link or QR code) and the claims read
 * from it. The phone cannot check the signature — the server does on every send; the claims only name
 * the canvasser and key their outbox.
 */
export interface Session {
  token: string;
  claims: TokenClaims;
  /** `team/user`: whose events these are. */
  owner: string;
}

export const TOKEN_KEY = "fieldpulse.token";

/** Why a token cannot be used, as a reason the page puts in the canvasser's language (sign-in.ts). */
export type ParsedToken =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: "malformed" | "unreadable" | "claims" }
  | { ok: false; reason: "expired"; expiredAt: number };

export function parseToken(raw: string, now = Date.now()): ParsedToken {
  const read = readClaims(raw, now);
  if (read.ok) return { ok: true, claims: read.claims };
  if (read.reason === "expired") return { ok: false, reason: "expired", expiredAt: read.expiredAt ?? 0 };
  return { ok: false, reason: read.reason };
}

export const ownerOf = (claims: Pick<TokenClaims, "team" | "sub">) => `${claims.team}/${claims.sub}`;

export function sessionFrom(token: string, now = Date.now()): Session | null {
  const parsed = parseToken(token, now);
  return parsed.ok ? { token: token.trim(), claims: parsed.claims, owner: ownerOf(parsed.claims) } : null;
}

/** A stored session, even past `exp`: its outbox still belongs to it, and the server will say 401. */
export function loadSession(storage: Pick<Storage, "getItem"> = localStorage): Session | null {
  const token = storage.getItem(TOKEN_KEY);
  if (!token) return null;
  return sessionFrom(token, 0);
}

/** `/field/#token=…`: the token a shared link carries, if any. */
export function tokenFromFragment(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get("token");
  return token && token.trim() ? token.trim() : null;
}

export async function storeSession(db: FieldDb, session: Session): Promise<void> {
  localStorage.setItem(TOKEN_KEY, session.token);
  const tx = db.transaction("meta", "readwrite");
  await tx.store.put(session.token, META.token);
  await tx.store.delete(META.authRefused(session.owner));
  await tx.done;
}

/** Sign out keeps the outbox: those events are sent when the same canvasser signs in again. */
export async function clearSession(db: FieldDb): Promise<void> {
  localStorage.removeItem(TOKEN_KEY);
  await db.delete("meta", META.token);
}
