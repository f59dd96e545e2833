import { tokenClaims, type TokenClaims } from "../../protocol/claims.ts";

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

function base64UrlJson(part: string): unknown {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export function parseToken(raw: string, now = Date.now()): ParsedToken {
  const token = raw.trim();
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return { ok: false, error: "That is not a fieldpulse token: it has three parts separated by dots." };
  let payload: unknown;
  try {
    payload = base64UrlJson(parts[1]);
  } catch {
    return { ok: false, error: "That token cannot be read. Copy it again, all of it." };
  }
  const claims = tokenClaims.safeParse(payload);
  if (!claims.success) return { ok: false, error: "That token does not name a team and a user." };
  if (claims.data.role === "field") return { ok: false, error: "That is a canvasser's token. The live map needs a manager or admin token." };
  if (claims.data.exp * 1000 <= now) {
    return { ok: false, error: `That token expired at ${new Date(claims.data.exp * 1000).toLocaleString()}. Ask for a new one.` };
  }
  return { ok: true, session: { token, claims: claims.data } };
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
