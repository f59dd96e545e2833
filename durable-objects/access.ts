import { z } from "zod";

/**
 * The slice of `SqlStorage` this module uses. Structural, so the Durable Object passes `ctx.storage.sql`
 * and Node tests pass node:sqlite behind the same shape.
 */
export interface SqlHandle {
  exec(query: string, ...bindings: (string | number | null)[]): { toArray(): unknown[] };
}

/** The token fields a revocation is checked against (seconds since the epoch, as in the JWT). */
export interface TokenRef {
  sub: string;
  jti: string;
  iat: number;
}

/**
 * `forever`: for a credential that never expires (a tracker's device key, issue 15), whose revocation must
 * outlive every prune; a token's revocation may be forgotten once the token has expired.
 */
export type RevokeRequest = { jti: string; user?: undefined; forever?: boolean } | { user: string; jti?: undefined; forever?: undefined };

const SCHEMA = `CREATE TABLE IF NOT EXISTS access (
  kind TEXT NOT NULL,      -- 'jti' (one revoked token), 'user' (every token of that user issued up to at), 'ticket' (a used ticket)
  key TEXT NOT NULL,
  at INTEGER NOT NULL,     -- ms: when revoked or used
  until INTEGER NOT NULL,  -- ms: after this the entry can no longer matter (every token it covers has expired)
  PRIMARY KEY (kind, key)
) WITHOUT ROWID`;

const row = z.object({ kind: z.enum(["jti", "user", "ticket"]), key: z.string(), at: z.number(), until: z.number() });

/** Longest a token can live (the field maximum, 30 days, plus slack): how long a revocation must be kept. */
export const DEFAULT_KEEP_MS = 31 * 86_400_000;

/**
 * One team's revocations and used tickets. Read once into memory; SQLite is written only when a token is
 * revoked or a ticket is used, so checking a request costs no storage access.
 */
export class AccessList {
  private readonly revokedJti = new Map<string, number>();
  /** user → revoked every token issued at or before this time (ms). */
  private readonly revokedUser = new Map<string, number>();
  /** ticket jti → its expiry (ms). */
  private readonly usedTickets = new Map<string, number>();

  constructor(
    private readonly sql: SqlHandle,
    private readonly keepMs = DEFAULT_KEEP_MS,
  ) {
    sql.exec(SCHEMA);
    for (const raw of sql.exec("SELECT kind, key, at, until FROM access").toArray()) {
      const r = row.safeParse(raw);
      if (!r.success) continue;
      if (r.data.kind === "jti") this.revokedJti.set(r.data.key, r.data.until);
      else if (r.data.kind === "user") this.revokedUser.set(r.data.key, r.data.at);
      else this.usedTickets.set(r.data.key, r.data.until);
    }
  }

  /**
   * Revoked by its jti, or issued to a revoked user at or before the revocation. The second is
   * compared in whole seconds (a JWT's iat): a token minted in the same second as the revocation
   * counts as revoked, which errs on the safe side.
   */
  isRevoked(token: TokenRef): boolean {
    if (this.revokedJti.has(token.jti)) return true;
    const before = this.revokedUser.get(token.sub);
    return before !== undefined && token.iat * 1000 <= before;
  }

  /** Revoke one token, or everything issued to a user until now. Idempotent; a later revocation of a user wins. */
  revoke(what: RevokeRequest, now: number): { kind: "jti" | "user"; at: number } {
    const until = what.forever ? Number.MAX_SAFE_INTEGER : now + this.keepMs;
    if (what.jti !== undefined) {
      if (!this.revokedJti.has(what.jti)) {
        this.sql.exec("INSERT OR IGNORE INTO access (kind, key, at, until) VALUES ('jti', ?, ?, ?)", what.jti, now, until);
        this.revokedJti.set(what.jti, until);
      }
      return { kind: "jti", at: now };
    }
    const at = Math.max(now, this.revokedUser.get(what.user) ?? 0);
    this.sql.exec(
      "INSERT INTO access (kind, key, at, until) VALUES ('user', ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET at = excluded.at, until = excluded.until",
      what.user,
      at,
      at + this.keepMs,
    );
    this.revokedUser.set(what.user, at);
    return { kind: "user", at };
  }

  /** Spend a ticket: true the first time (and while not expired), false on any later use. */
  useTicket(jti: string, expMs: number, now: number): boolean {
    if (expMs <= now || this.usedTickets.has(jti)) return false;
    this.sql.exec("INSERT OR IGNORE INTO access (kind, key, at, until) VALUES ('ticket', ?, ?, ?)", jti, now, expMs);
    this.usedTickets.set(jti, expMs);
    return true;
  }

  /** Forget entries that can no longer match a live token (call from the alarm, now and then). */
  prune(now: number): number {
    let dropped = 0;
    for (const [jti, until] of this.revokedJti) if (until < now) this.revokedJti.delete(jti), dropped++;
    for (const [user, at] of this.revokedUser) if (at + this.keepMs < now) this.revokedUser.delete(user), dropped++;
    for (const [jti, until] of this.usedTickets) if (until < now) this.usedTickets.delete(jti), dropped++;
    if (dropped > 0) this.sql.exec("DELETE FROM access WHERE until < ?", now);
    return dropped;
  }

  /** Sizes, for figures and tests. */
  get size(): { jti: number; user: number; ticket: number } {
    return { jti: this.revokedJti.size, user: this.revokedUser.size, ticket: this.usedTickets.size };
  }
}
