/**
 * Recover by the kind of failure: Postgres refusing the data (SQLSTATE class 22 data exception, 23
 * integrity violation) will refuse it again on every retry, so the batch is split and the bad events
 * quarantined; anything else (connection, timeout, overload) is worth retrying with backoff.
 */
export function sqlstateOf(err: unknown): string | null {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

export function isDataError(err: unknown): boolean {
  const state = sqlstateOf(err);
  return state !== null && (state.startsWith("22") || state.startsWith("23"));
}

/** A short class a manager can read: never the database's own text (that goes to logs and operators). */
export function errorClass(err: unknown): string {
  const state = sqlstateOf(err);
  if (state) {
    if (state === "22003") return "rejected by database: value out of range";
    if (state === "22P05" || state === "22021") return "rejected by database: text it cannot store";
    if (state.startsWith("22")) return "rejected by database: invalid value";
    if (state.startsWith("23")) return "rejected by database: constraint violated";
    if (state === "57014") return "database timeout";
    if (state.startsWith("53")) return "database overloaded";
    if (state.startsWith("08") || state.startsWith("57")) return "database unreachable";
    if (state.startsWith("28")) return "database refused our credentials";
    if (state.startsWith("42")) return "database schema out of date";
    return "database error";
  }
  const text = err instanceof Error ? `${err.name} ${err.message}` : String(err);
  if (/DATABASE_URL is not set/.test(text)) return "database not configured";
  if (/timeout|timed out|took over/i.test(text)) return "database timeout";
  return "database unreachable";
}
