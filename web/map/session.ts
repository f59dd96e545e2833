import { readClaims, type TokenClaims } from "../../protocol/claims.ts";

/**
 * The manager's token: from the link's fragment (`/map/#token=…`, never sent to a server or kept in
 * history) or the sign-in form, kept in sessionStorage so it dies with the tab. The page reads the
 * claims only to greet the manager and to spot an expired or field token early; the server checks the
 * signature on every connect.
 */
export const TOKEN_KEY = "fieldpulse.map.token";

export interface Session {
  token: string;
  claims: TokenClaims;
}

export type ParsedToken = { ok: true; session: Session } | { ok: false; error: string };

const MAP_ERRORS = {
  malformed: "That is not a fieldpulse token: it has three parts separated by dots.",
  unreadable: "That token cannot be read. Copy it again, all of it.",
  claims: "That token does not name a team and a user.",
} as const;

export function parseToken(raw: string, now = Date.now()): ParsedToken {
  const read = readClaims(raw, now);
  if (!read.ok) {
    if (read.reason === "expired") return { ok: false, error: `That token expired at ${new Date(read.expiredAt!).toLocaleString()}. Ask for a new one.` };
    return { ok: false, error: MAP_ERRORS[read.reason] };
  }
  if (read.claims.role === "field") return { ok: false, error: "That is a canvasser's token. The live map needs a manager or admin token." };
  return { ok: true, session: { token: raw.trim(), claims: read.claims } };
}

/** `#token=…` from the address, if any. */
export function tokenFromFragment(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, "")).get("token")?.trim();
  return token ? token : null;
}

/**
 * Where this page's session comes from, in order: the fragment (then stripped from the address bar),
 * then sessionStorage. A token that fails the checks is reported, not kept.
 */
export function loadSession(): { session: Session | null; error: string | null } {
  const fromFragment = tokenFromFragment(location.hash);
  if (fromFragment) history.replaceState(null, "", location.pathname + location.search);
  const raw = fromFragment ?? sessionStorage.getItem(TOKEN_KEY);
  if (!raw) return { session: null, error: null };
  const parsed = parseToken(raw);
  if (!parsed.ok) {
    sessionStorage.removeItem(TOKEN_KEY);
    return { session: null, error: parsed.error };
  }
  sessionStorage.setItem(TOKEN_KEY, parsed.session.token);
  return { session: parsed.session, error: null };
}

export function storeSession(session: Session): void {
  sessionStorage.setItem(TOKEN_KEY, session.token);
}

export function clearSession(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
