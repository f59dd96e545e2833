/**
 * Drill: Postgres outage. Canvassers keep sending while the Neon proxy refuses every connection for a
 * while mid-run; the TeamHub buffers, flushes fail and back off; then the proxy comes back and the backlog
 * drains. Every event the phones saw accepted must be in Postgres exactly once; the drain time is reported.
 */
import { randomBytes } from "node:crypto";
import { startFleet } from "../dev/sim/fleet.ts";
import { checkExactlyOnce } from "./pg-stats.ts";
import { check, runDrill, sleep, type DrillContext, type DrillResult } from "./drill-common.ts";

export function outageDrill(ctx: DrillContext): Promise<DrillResult> {
  const { stack, short, say } = ctx;
  // Short: 40 phones, time ×5, a 6 s outage. Full: the seed's 200 phones at real speed, a 60 s outage.
  const p = short
    ? { devices: 40, k: 5, workS: 12, pauseAtS: 2, pauseS: 6, deadlineS: 60 }
    : { devices: 200, k: 1, workS: 120, pauseAtS: 30, pauseS: 60, deadlineS: 420 };
  // Short: rows are due within a second, so flushes are tried (and fail) all through the outage.
  const vars: Record<string, string> = short ? { LOCATION_MAX_AGE_S: "1", KNOCK_MAX_AGE_S: "1", ACTIVITY_MAX_AGE_S: "1", FLUSH_MAX_BACKOFF_S: "2" } : {};
  return runDrill(`Postgres outage (${p.devices} devices, proxy paused ${p.pauseS} s)`, p.deadlineS * 1000, ctx, async (signal) => {
    await stack.startWorker({ vars });
    const team = `drill-outage-${randomBytes(3).toString("hex")}`;
    const fleet = await startFleet({
      url: stack.url, team, devices: p.devices, durationMs: p.workS * 1000, authSecret: stack.authSecret, timeScale: p.k, seed: 21,
      canvasser: { knocksPerHour: 20, leadShare: 0.1, offlinePerHour: 0 }, trackIds: true, signal, drainMs: 60_000,
    });
    await sleep(p.pauseAtS * 1000);
    stack.proxy.pause();
    say(`outage: proxy paused at ${p.pauseAtS} s`);
    let failuresSeen = 0, maxDepth = 0;
    const pausedUntil = Date.now() + p.pauseS * 1000;
    while (Date.now() < pausedUntil) {
      const f = await stack.figures(team).catch(() => null);
      if (f) {
        failuresSeen = Math.max(failuresSeen, f.consecutiveFailures);
        maxDepth = Math.max(maxDepth, f.depth);
      }
      await sleep(Math.min(1_000, Math.max(0, pausedUntil - Date.now())));
    }
    stack.proxy.resume();
    const resumedAt = Date.now();
    say(`outage: proxy resumed after ${p.pauseS} s (buffer peaked at ${maxDepth} rows, ${failuresSeen} failed flushes in a row)`);

    // Drained: nothing buffered from before the resume is left (the phones may still be adding new rows).
    let drainMs: number | null = null;
    const cronEveryMs = (60 / p.k) * 1000;
    let lastCron = Date.now();
    while (drainMs === null && Date.now() - resumedAt < 120_000) {
      const f = await stack.figures(team).catch(() => null);
      const now = Date.now();
      if (f && (f.depth === 0 || (f.oldestAgeMs !== null && f.oldestAgeMs < now - resumedAt))) drainMs = now - resumedAt;
      else if (now - lastCron >= cronEveryMs) {
        // The platform's cron, every minute (every 60/k s in compressed time).
        lastCron = now;
        void stack.triggerCron().catch(() => {});
      }
      await sleep(250);
    }
    const report = await fleet.done;
    await stack.waitDrained(team, 60_000, cronEveryMs);
    const once = await checkExactlyOnce(stack, team, report.acceptedIds!, report.generatedIds);
    const leads = await stack.query<{ n: string }>("SELECT count(*)::text AS n FROM leads WHERE team_id = $1", [team]);
    say(`outage: ${once.summary}`);
    return {
      checks: [
        check(failuresSeen > 0, `flushes failed during the outage (${failuresSeen} in a row) and the buffer held up to ${maxDepth} rows`),
        check(drainMs !== null, `backlog drained ${drainMs === null ? "— not within 120 s" : `${(drainMs / 1000).toFixed(1)} s after Postgres came back`}`),
        check(report.stillQueued === 0, `phones sent everything (${report.counts.generated} events made, ${report.stillQueued} left on phones)`),
        check(once.ok, `every accepted event in Postgres exactly once: ${once.summary} (${leads[0]?.n ?? "?"} leads)`),
      ],
      figures: { devices: p.devices, timeScale: p.k, outageS: p.pauseS, drainMs, maxDepth, failuresSeen, ...once, answers: report.counts.byStatus },
    };
  });
}
