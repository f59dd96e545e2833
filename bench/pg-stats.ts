/**
 * What Postgres did for a bench run, read from outside the bench database (so reading costs it nothing):
 * `pg_stat_statements` when the server preloads it, else transactions from `pg_stat_database`.
 * Other backends publish their counters when they go idle or exit (at most once a second), and
 * `pg_stat_force_next_flush()` (PG 15+) acts only on the calling backend — so a reading is taken once
 * two successive reads agree.
 */
import type { BenchStack } from "./stack.ts";

export interface PgCounters {
  /** Commits, including the one every new session makes at startup (measured: connect-only = 1, connect + one INSERT = 2). */
  xactCommit: number;
  xactRollback: number;
  /** Sessions opened (PG 14+). Δxact_commit − Δsessions = statements run in autocommit. */
  sessions: number;
  /** Statements executed (pg_stat_statements), or null when the extension is not loaded. */
  statements: number | null;
}

export interface StatsSource {
  available: boolean;
  /** How statements are counted, in a sentence for the report. */
  note: string;
}

export async function statementsSource(stack: BenchStack): Promise<StatsSource> {
  if (stack.postgresMode === "embedded") return { available: false, note: "embedded PGlite: no pg_stat_statements; transaction counts are not meaningful either" };
  const [row] = await stack.adminQuery<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'");
  if (!row?.setting.split(",").map((s) => s.trim()).includes("pg_stat_statements")) {
    return {
      available: false,
      note: "pg_stat_statements is unavailable (not in shared_preload_libraries); statements = Δxact_commit − Δsessions from pg_stat_database " +
        "(each session's startup commits once; every write here is one autocommit statement), cross-checked against the Worker's own flush log",
    };
  }
  await stack.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  return { available: true, note: "statements from pg_stat_statements (calls), transactions from pg_stat_database" };
}

async function readOnce(stack: BenchStack, source: StatsSource): Promise<PgCounters> {
  const [db] = await stack.adminQuery<{ c: string; r: string; s: string }>(
    "SELECT pg_stat_clear_snapshot(), xact_commit::text AS c, xact_rollback::text AS r, sessions::text AS s FROM pg_stat_database WHERE datname = $1",
    [stack.database],
  );
  let statements: number | null = null;
  if (source.available) {
    const [s] = await stack.query<{ n: string | null }>(
      "SELECT sum(calls)::text AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat_statements%'",
    );
    statements = Number(s?.n ?? 0);
  }
  return { xactCommit: Number(db?.c ?? 0), xactRollback: Number(db?.r ?? 0), sessions: Number(db?.s ?? 0), statements };
}

/** Counters once they stopped moving (two reads `quietMs` apart agree), or the last read at the deadline. */
export async function settledCounters(stack: BenchStack, source: StatsSource, quietMs = 1_200, timeoutMs = 15_000): Promise<PgCounters> {
  const deadline = Date.now() + timeoutMs;
  let prev = await readOnce(stack, source);
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs));
    const next = await readOnce(stack, source);
    const same = next.xactCommit === prev.xactCommit && next.sessions === prev.sessions && next.statements === prev.statements;
    if (same || Date.now() > deadline) return next;
    prev = next;
  }
}

/** What happened between two readings. */
export function counterDelta(before: PgCounters, after: PgCounters): { transactions: number; sessions: number; statements: number; statementsFrom: "pg_stat_statements" | "xact_commit − sessions" } {
  const transactions = after.xactCommit - before.xactCommit;
  const sessions = after.sessions - before.sessions;
  if (after.statements !== null && before.statements !== null) {
    return { transactions, sessions, statements: after.statements - before.statements, statementsFrom: "pg_stat_statements" };
  }
  return { transactions, sessions, statements: transactions - sessions, statementsFrom: "xact_commit − sessions" };
}

/** The bench team's rows in every event table, by id. */
export async function teamIds(stack: BenchStack, team: string): Promise<{ ids: Set<string>; rows: number }> {
  const rows = await stack.query<{ id: string }>(
    `SELECT id::text AS id FROM locations WHERE team_id = $1 UNION ALL SELECT id::text FROM knocks WHERE team_id = $1
     UNION ALL SELECT id::text FROM leads WHERE team_id = $1 UNION ALL SELECT id::text FROM activities WHERE team_id = $1`,
    [team],
  );
  return { ids: new Set(rows.map((r) => r.id)), rows: rows.length };
}

export interface ExactlyOnce {
  ok: boolean;
  accepted: number;
  rows: number;
  distinct: number;
  missing: number;
  /** Rows whose id the phones never made (must be 0). */
  unknown: number;
  summary: string;
}

/** Every accepted id in Postgres exactly once, and nothing the phones did not make. */
export async function checkExactlyOnce(stack: BenchStack, team: string, accepted: Set<string>, generated: Set<string> | null): Promise<ExactlyOnce> {
  const { ids, rows } = await teamIds(stack, team);
  let missing = 0, unknown = 0;
  for (const id of accepted) if (!ids.has(id)) missing += 1;
  if (generated) for (const id of ids) if (!generated.has(id)) unknown += 1;
  const ok = missing === 0 && unknown === 0 && rows === ids.size && rows === accepted.size;
  return {
    ok, accepted: accepted.size, rows, distinct: ids.size, missing, unknown,
    summary: `${accepted.size} accepted ids, Postgres holds ${rows} rows (${ids.size} distinct) for the team, ${missing} missing, ${unknown} unknown`,
  };
}
