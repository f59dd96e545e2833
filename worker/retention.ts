import { readConfig } from "../common/config.ts";
import { withDb } from "../db/client.ts";
import { errorMessage, log } from "../common/log.ts";

/** Tracking data ages out; leads are business records and stay. */
const TABLES = ["locations", "knocks", "activities"] as const;
/** One DELETE: short enough never to hold a long lock, found through the BRIN index on received_at. */
const BATCH = 5_000;
/**
 * Work per cron run (every minute): at most this many batches per table and this much time in all, so a
 * backlog is worked off over several runs. 10 × 5,000 a minute is 3 M rows per table an hour, far above
 * what a team writes (the seed load: ~144,000 fixes an hour); `behind` in the log says when it is not enough.
 */
const BATCHES_PER_TABLE = 10;
const BUDGET_MS = 20_000;

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
  try {
    await withDb(env, async ({ client }) => {
      for (const table of TABLES) {
        let total = 0;
        for (let i = 0; ; i++) {
          if (i >= BATCHES_PER_TABLE || Date.now() - started > BUDGET_MS) {
            report.behind = true;
            break;
          }
          // By the table's key (team_id, id): the same id in another team is another event, kept.
          const res = await client.query(
            `DELETE FROM "${table}" WHERE (team_id, id) IN (SELECT team_id, id FROM "${table}" WHERE received_at < $1 LIMIT ${BATCH})`,
            [cutoff],
          );
          total += res.rowCount ?? 0;
          if ((res.rowCount ?? 0) < BATCH) break;
        }
        report.deleted[table] = total;
      }
    });
  } catch (err) {
    report.error = errorMessage(err);
  }
  // Quiet when there was nothing to do: it runs every minute.
  if (report.error || report.behind || Object.values(report.deleted).some((n) => n > 0)) log({ event: "retention", ...report });
  return report;
}
