import { readConfig } from "../common/config.ts";
import { withDb } from "../db/client.ts";
import { errorMessage, log } from "../common/log.ts";

/** Tracking data ages out; leads are business records and stay. */
const TABLES = ["locations", "knocks", "activities"] as const;
/** Bounded work per cron run: a backlog is worked off over several runs, never in one long lock. */
const BATCH = 5_000;
const BATCHES_PER_TABLE = 4;

export interface RetentionReport {
  cutoff: string;
  deleted: Record<string, number>;
  error?: string;
}

/** Delete rows received more than RETENTION_DAYS ago, in bounded batches (found through the BRIN index). */
export async function applyRetention(env: Env, now: number): Promise<RetentionReport> {
  const days = readConfig(env).RETENTION_DAYS;
  const cutoff = new Date(now - days * 86_400_000).toISOString();
  const report: RetentionReport = { cutoff, deleted: {} };
  try {
    await withDb(env, async ({ client }) => {
      for (const table of TABLES) {
        let total = 0;
        for (let i = 0; i < BATCHES_PER_TABLE; i++) {
          const res = await client.query(
            `DELETE FROM "${table}" WHERE id IN (SELECT id FROM "${table}" WHERE received_at < $1 LIMIT ${BATCH})`,
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
  log({ event: "retention", ...report });
  return report;
}
