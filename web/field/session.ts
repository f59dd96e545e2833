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

export type ParsedToken = { ok: true; claims: TokenClaims } | { ok: false; error: string };

const FIELD_ERRORS = {
  malformed: "This is not a fieldpulse token: it should be three parts separated by dots.",
  unreadable: "This token cannot be read. Copy it again, all of it.",
  claims: "This token is missing the canvasser's team or user.",
} as const;

export function parseToken(raw: string, now = Date.now()): ParsedToken {
  const read = readClaims(raw, now);
  if (read.ok) return { ok: true, claims: read.claims };
  if (read.reason === "expired") {
    return { ok: false, error: `This token expired on ${new Date(read.expiredAt!).toLocaleString()}. Ask your manager for a new link.` };
  }
  return { ok: false, error: FIELD_ERRORS[read.reason] };
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
