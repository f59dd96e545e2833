/**
 * Drill: burst. Ten times the seed load against a small BUFFER_HIGH_WATER: the TeamHub must answer 503 with
 * Retry-After for the buffered kinds (leads still taken), the phones must wait at least that long before
 * their next request, and once the burst is over every accepted event must be in Postgres exactly once.
 */
import { randomBytes } from "node:crypto";
import { startFleet } from "../dev/sim/fleet.ts";
import { uuidv7At as uuidv7 } from "../protocol/uuidv7.ts";
import { checkExactlyOnce } from "./pg-stats.ts";
import { check, runDrill, sleep, type DrillContext, type DrillResult } from "./drill-common.ts";

export function burstDrill(ctx: DrillContext): Promise<DrillResult> {
  const { stack, short, say } = ctx;
  // 10× the seed: 400 fixes/s and 5,000 knocks/h. Short: 200 phones at time ×10; full: 2,000 phones at real speed.
  // The mark sits below the row threshold, so flushes come from age alone and the buffer meets the mark
  // between two of them (with the threshold below the mark, a healthy Postgres drains 400 rows/s long before).
  const p = short
    ? { devices: 200, k: 10, workS: 6, highWater: 300, maxAgeS: 1.5, knockAgeS: 0.5, deadlineS: 60 }
    : { devices: 2_000, k: 1, workS: 30, highWater: 1_000, maxAgeS: 5, knockAgeS: 5, deadlineS: 300 };
  const vars = {
    BUFFER_HIGH_WATER: String(p.highWater), FLUSH_THRESHOLD_ROWS: String(p.highWater * 5),
    LOCATION_MAX_AGE_S: String(p.maxAgeS), ACTIVITY_MAX_AGE_S: String(p.maxAgeS), KNOCK_MAX_AGE_S: String(p.knockAgeS),
  };
  return runDrill(`burst (10× seed load, ${p.devices} devices, BUFFER_HIGH_WATER=${p.highWater})`, p.deadlineS * 1000, ctx, async (signal) => {
    await stack.startWorker({ vars });
    const team = `drill-burst-${randomBytes(3).toString("hex")}`;
    // A team with flush history: a fresh object knows no drain rate and answers every early 503 with
    // Retry-After: 30, which would make this drill mostly waiting (reported as a server finding).
    const warm = await stack.token(team, "warm-up", "field");
    const at = Date.now();
    await fetch(`${stack.url}/v1/events`, {
      method: "POST", headers: { authorization: `Bearer ${warm}`, "content-type": "application/json" },
      body: JSON.stringify({ events: Array.from({ length: 50 }, (_, i) => ({ id: uuidv7(at), type: "location", at: at - i, lat: 30.2672, lng: -97.7431 })) }),
    }).then((r) => r.text());
    await stack.waitDrained(team, 30_000, 5_000);
    const warmIds = new Set((await stack.query<{ id: string }>("SELECT id::text AS id FROM locations WHERE team_id = $1", [team])).map((r) => r.id));
    const fleet = await startFleet({
      url: stack.url, team, devices: p.devices, durationMs: p.workS * 1000, authSecret: stack.authSecret, timeScale: p.k, seed: 31,
      // The seed's per-phone rates (2.5 knocks/h, 10 % leads) on ten times its phones: 5,000 knocks/h in all.
      canvasser: { knocksPerHour: 2.5, leadShare: 0.1, offlinePerHour: 0, activitiesPerHour: 0 },
      trackIds: true, signal, recordTimeline: true, drainMs: 90_000,
    });
    let maxDepth = 0;
    const watch = (async () => {
      for (let stop = false; !stop; ) {
        const f = await stack.figures(team).catch(() => null);
        if (f) maxDepth = Math.max(maxDepth, f.depth);
        stop = await Promise.race([fleet.done.then(() => true), sleep(500).then(() => false)]);
      }
    })();
    const report = await fleet.done;
    await watch;
    await stack.waitDrained(team, 60_000, (60 / p.k) * 1000);
    const once = await checkExactlyOnce(stack, team, new Set([...report.acceptedIds!, ...warmIds]), report.generatedIds && new Set([...report.generatedIds, ...warmIds]));
    const c = report.counts;
    const waits: Record<string, number> = {};
    for (const s of fleet.senders) for (const r of s.timeline ?? []) if (r.retryAfterMs !== null) waits[`${r.retryAfterMs / 1000} s`] = (waits[`${r.retryAfterMs / 1000} s`] ?? 0) + 1;
    say(`burst: Retry-After values ${JSON.stringify(waits)}; the phones took ${(report.wallMs / 1000).toFixed(1)} s in all (${p.workS} s of work)`);
    const answers503 = c.byStatus["503"] ?? 0;
    say(`burst: answers ${JSON.stringify(c.byStatus)}, ${c.refused} events refused and resent, buffer peaked at ${maxDepth} rows; ${once.summary}`);
    return {
      checks: [
        check(answers503 > 0, `backpressure: ${answers503} answers were 503 (${c.refused} buffered events refused; leads still taken)`),
        check(c.throttled > 0 && c.throttledWithRetryAfter === c.throttled, `${c.throttledWithRetryAfter} of ${c.throttled} 503/429 answers carried Retry-After`),
        check(report.retryAfterViolations === 0, `phones backed off: ${report.retryAfterViolations} requests went before their Retry-After had elapsed`),
        check(report.stillQueued === 0, `after the burst the phones sent everything (${c.generated} made, ${report.stillQueued} left)`),
        check(once.ok, `every accepted event in Postgres exactly once: ${once.summary}`),
      ],
      figures: { devices: p.devices, timeScale: p.k, highWater: p.highWater, maxDepth, answers: c.byStatus, refused: c.refused, retryAfter: waits, phonesWallMs: report.wallMs, ...once },
    };
  });
}
