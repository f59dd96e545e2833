import { readClaims, type Role, type TokenClaims } from "../../protocol/claims.ts";

/**
 * Who is signed in on a page: the token (shared as a link `…/#token=…` or pasted into a form) and the
 * claims read from it. A page cannot check the signature — the server does on every request; the claims
 * only greet the user, key the phone's outbox, and spot an expired or wrong-role token early.
 */
export interface Session {
  token: string;
  claims: TokenClaims;
  /** `team/user`: whose events these are. */
  owner: string;
}

/** Why a token cannot be used, for each page to say in its own words. */
export type Refusal =
  | { reason: "malformed" | "unreadable" | "claims" }
  | { reason: "expired"; expiredAt: number }
  | { reason: "role"; role: Role };

export type ParsedToken = { ok: true; session: Session } | ({ ok: false } & Refusal);

/** What differs between the pages. */
export interface SessionOptions {
  /** The storage key of the token. */
  key: string;
  /** sessionStorage dies with the tab (a manager's map); localStorage outlives reloads (a phone's outbox). */
  storage(): Pick<Storage, "getItem" | "setItem" | "removeItem">;
  /** The roles this page serves; any other is refused. All when absent. */
  roles?: readonly Role[];
}

export const ownerOf = (claims: Pick<TokenClaims, "team" | "sub">) => `${claims.team}/${claims.sub}`;

export function parseToken(raw: string, o: Pick<SessionOptions, "roles"> = {}, now = Date.now()): ParsedToken {
  const read = readClaims(raw, now);
  if (!read.ok) return read.reason === "expired" ? { ok: false, reason: "expired", expiredAt: read.expiredAt ?? 0 } : { ok: false, reason: read.reason };
  if (o.roles && !o.roles.includes(read.claims.role)) return { ok: false, reason: "role", role: read.claims.role };
  return { ok: true, session: { token: raw.trim(), claims: read.claims, owner: ownerOf(read.claims) } };
}

/** `#token=…` from an address's fragment (never sent to a server), if any. */
function tokenFromFragment(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, "")).get("token")?.trim();
  return token ? token : null;
}

/** The token a shared link carries; it is stripped from the address bar so it stays out of history. */
export function takeTokenFromAddress(): string | null {
  const token = tokenFromFragment(location.hash);
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

export interface SessionStore {
  /** The kept session; `now: 0` keeps it past `exp` (a phone's outbox still belongs to it). A refused token is forgotten. */
  load(now?: number): ParsedToken | null;
  store(session: Pick<Session, "token">): void;
  clear(): void;
}

export function sessionStore(o: SessionOptions): SessionStore {
  return {
    load(now = Date.now()) {
      const raw = o.storage().getItem(o.key);
      if (!raw) return null;
      const parsed = parseToken(raw, o, now);
      if (!parsed.ok) o.storage().removeItem(o.key);
      return parsed;
    },
    store: (session) => o.storage().setItem(o.key, session.token),
    clear: () => o.storage().removeItem(o.key),
  };
}
