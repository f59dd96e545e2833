import { redisError, redisFrom, redisKeys } from "../common/redis.ts";
import { errorMessage, log } from "../common/log.ts";
import type { FlushReport } from "../durable-objects/team-hub.ts";

/** How many TeamHubs one cron run flushes at once: enough to drain many teams, few enough to stay polite. */
const CONCURRENCY = 8;

export interface SupervisorReport {
  teams: number;
  flushed: number;
  failed: number;
  redis: "ok" | "unavailable" | "not configured";
}

/**
 * The safety net under the alarms: every minute, flush every team Redis says has buffered rows,
 * and publish each team's queue figures so /v1/metrics can read them without waking objects.
 */
export async function superviseFlushes(env: Env, scheduledTime: number): Promise<SupervisorReport> {
  const redis = redisFrom(env);
  if (!redis) {
    log({ event: "cron_skipped", reason: "redis not configured; alarms alone flush" });
    return { teams: 0, flushed: 0, failed: 0, redis: "not configured" };
  }
  const keys = redisKeys(env);
  let teams: string[];
  try {
    teams = await redis.smembers(keys.dirtyTeams);
  } catch (err) {
    log({ event: "cron_skipped", reason: "redis unavailable; alarms alone flush", error: redisError(err) });
    return { teams: 0, flushed: 0, failed: 0, redis: "unavailable" };
  }
  const report: SupervisorReport = { teams: teams.length, flushed: 0, failed: 0, redis: "ok" };
  const queue = [...teams];
  const worker = async () => {
    for (let team = queue.shift(); team !== undefined; team = queue.shift()) {
      const hub = env.TEAM_HUB.get(env.TEAM_HUB.idFromName(team));
      let flush: FlushReport | null = null;
      try {
        flush = await hub.flush();
        const figures = { ...(await hub.figures()), teamId: team };
        const p = redis.pipeline().hset(keys.queue(team), { ...figures, byKind: JSON.stringify(figures.byKind), dialer: JSON.stringify(figures.dialer) }).sadd(keys.knownTeams, team);
        // An object that holds nothing (already drained, or a stale entry) leaves the dirty set.
        if (figures.depth === 0) p.srem(keys.dirtyTeams, team);
        await p.exec();
        if (flush.ok) report.flushed += 1;
        else report.failed += 1;
      } catch (err) {
        report.failed += 1;
        log({ event: "cron_team_failed", teamId: team, error: errorMessage(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, teams.length) }, worker));
  log({ event: "cron", scheduledTime, ...report });
  return report;
}
