import { parseToken, sessionStore, takeTokenFromAddress, type Refusal, type Session } from "../shared/session.ts";

/**
 * The manager's session (web/shared/session.ts) with the map's rules: manager, admin and operator tokens
 * only, kept in sessionStorage so it dies with the tab, and the map's own words for a refused token.
 */
const MAP_SESSION = { key: "fieldpulse.map.token", storage: () => sessionStorage, roles: ["manager", "admin", "operator"] } as const;
const tokens = sessionStore(MAP_SESSION);

const MAP_ERRORS = {
  malformed: "That is not a fieldpulse token: it has three parts separated by dots.",
  unreadable: "That token cannot be read. Copy it again, all of it.",
  claims: "That token does not name a team and a user.",
} as const;

function refusalText(r: Refusal): string {
  switch (r.reason) {
    case "expired": return `That token expired at ${new Date(r.expiredAt).toLocaleString()}. Ask for a new one.`;
    case "role": return "That is a canvasser's token. The live map needs a manager or admin token.";
    default: return MAP_ERRORS[r.reason];
  }
}

export type SignIn = { ok: true; session: Session } | { ok: false; error: string };

/** A token from the sign-in form. */
export function signInWith(raw: string): SignIn {
  const parsed = parseToken(raw, MAP_SESSION);
  if (!parsed.ok) return { ok: false, error: refusalText(parsed) };
  tokens.store(parsed.session);
  return parsed;
}

/**
 * Where this page's session comes from, in order: the link's fragment (then stripped from the address
 * bar), then sessionStorage. A token that fails the checks is reported, not kept.
 */
export function loadSession(): { session: Session | null; error: string | null } {
  const fromLink = takeTokenFromAddress();
  const parsed = fromLink ? parseToken(fromLink, MAP_SESSION) : tokens.load();
  if (!parsed) return { session: null, error: null };
  if (!parsed.ok) {
    tokens.clear();
    return { session: null, error: refusalText(parsed) };
  }
  tokens.store(parsed.session);
  return { session: parsed.session, error: null };
}

export const clearSession = (): void => tokens.clear();
