import { readConfig } from "../common/config.ts";
import { withDb } from "../db/client.ts";
import { errorMessage, log } from "../common/log.ts";

/** Tracking data ages out; leads are business records and stay. */
const TABLES = ["locations", "knocks", "activities"] as const;
/** Rows per table and statement: short enough never to hold a long lock, found through the BRIN index on received_at. */
const BATCH = 5_000;
/**
 * Work per run (every 5 minutes, worker/index.ts): at most this many statements — each deletes up to BATCH rows
 * of every table at once — and this much time, so a backlog is worked off over several runs. 10 × 5,000 per
 * run is 600,000 rows per table an hour, far above what a team writes (the seed load: ~144,000 fixes an hour);
 * `behind` in the log says when it is not enough. A run with nothing to delete costs one statement.
 */
const BATCHES = 10;
const BUDGET_MS = 20_000;
/** Retention runs on the cron's minutes divisible by this. */
export const RETENTION_EVERY_MIN = 5;

export interface RetentionReport {
  cutoff: string;
  deleted: Record<string, number>;
  /** Expired rows were left for the next run (the budget ran out). */
  behind?: true;
  error?: string;
}

/** Delete rows received more than RETENTION_DAYS ago, in bounded batches. */
export async function applyRetention(env: Env, now: number): Promise<RetentionReport> {
  const days = readConfig(env).RETENTION_DAYS;
  // A huge RETENTION_DAYS keeps everything (a cutoff before 1970), never an invalid date.
  const cutoff = new Date(Math.max(0, now - days * 86_400_000)).toISOString();
  const report: RetentionReport = { cutoff, deleted: {} };
  const started = Date.now();
  // One statement per batch for all three tables, by each table's key (team_id, id): the same id in another
  // team is another event, kept.
  const statement = `WITH ${TABLES.map(
    (t) => `"${t}_gone" AS (DELETE FROM "${t}" WHERE (team_id, id) IN (SELECT team_id, id FROM "${t}" WHERE received_at < $1 LIMIT ${BATCH}) RETURNING 1)`,
  ).join(", ")} SELECT ${TABLES.map((t) => `(SELECT count(*)::int FROM "${t}_gone") AS "${t}"`).join(", ")}`;
  for (const t of TABLES) report.deleted[t] = 0;
  try {
    await withDb(env, async ({ client }) => {
      for (let i = 0; ; i++) {
        if (i >= BATCHES || Date.now() - started > BUDGET_MS) {
          report.behind = true;
          break;
        }
        const res = await client.query<Record<(typeof TABLES)[number], number>>(statement, [cutoff]);
        const row = res.rows[0]!;
        for (const t of TABLES) report.deleted[t]! += row[t];
        if (TABLES.every((t) => row[t] < BATCH)) break;
      }
    });
  } catch (err) {
    report.error = errorMessage(err);
  }
  // Quiet when there was nothing to do.
  if (report.error || report.behind || Object.values(report.deleted).some((n) => n > 0)) log({ event: "retention", ...report });
  return report;
}
