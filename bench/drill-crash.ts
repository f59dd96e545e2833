/**
 * Drill: crash between COMMIT and DELETE. wrangler runs with DRILL_PAUSE_AFTER_COMMIT=1: after a flush's
 * Postgres commit the TeamHub logs `drill_committed_not_deleted` and holds. We SIGKILL the whole process
 * group right then, restart wrangler on the same --persist-to without the hook, let the buffer flush again
 * (the same rows: ON CONFLICT must ignore them), and count: every event exactly once.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { uuidv7At as uuidv7 } from "../protocol/uuidv7.ts";
import type { IngestEvent } from "../protocol/events.ts";
import { teamIds } from "./pg-stats.ts";
import { check, runDrill, type DrillContext, type DrillResult } from "./drill-common.ts";

function crashEvents(n: number): IngestEvent[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i): IngestEvent => {
    const at = now - (n - i) * 10;
    if (i % 50 === 7) return { id: uuidv7(at), type: "knock", at, lat: 30.2672, lng: -97.7431 + i * 1e-5, outcome: "no_answer", address: `${100 + i} Oak Ave` };
    if (i % 100 === 42) return { id: uuidv7(at), type: "activity", at, kind: "note", description: "crash drill" };
    return { id: uuidv7(at), type: "location", at, lat: 30.2672 + i * 1e-6, lng: -97.7431, accuracy: 6, speed: 1.2, battery: 0.7 };
  });
}

export function crashDrill(ctx: DrillContext): Promise<DrillResult> {
  const { stack, short, say } = ctx;
  const n = short ? 300 : 3_000;
  // Rows stay due soon (1 s) so the alarm flushes them without waiting for the cron.
  const due = { LOCATION_MAX_AGE_S: "1", KNOCK_MAX_AGE_S: "1", ACTIVITY_MAX_AGE_S: "1" };
  return runDrill(`crash between COMMIT and DELETE (${n} events)`, (short ? 60 : 180) * 1000, ctx, async () => {
    const persist = fs.mkdtempSync(path.join(os.tmpdir(), "fieldpulse-crash-"));
    try {
      await stack.startWorker({ persistTo: persist, vars: { ...due, DRILL_PAUSE_AFTER_COMMIT: "1" }, logLevel: "log" });
      const team = `drill-crash-${randomBytes(3).toString("hex")}`;
      const token = await stack.token(team, "crash-1", "field", "Crash Drill");
      const events = crashEvents(n);
      const ids = new Set(events.map((e) => e.id));
      // Listen before sending: the alarm fires within a second.
      const marker = stack.waitForOutput(new RegExp(`"event":"drill_committed_not_deleted".*"teamId":"${team}"`), 45_000);
      marker.catch(() => {});
      let accepted = 0;
      for (let i = 0; i < events.length; i += 500) {
        const res = await fetch(`${stack.url}/v1/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ events: events.slice(i, i + 500) }),
        });
        const body = (await res.json()) as { accepted?: number };
        if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}: ${JSON.stringify(body)}`);
        accepted += body.accepted ?? 0;
      }
      const line = await marker;
      await stack.stopWorker("SIGKILL");
      const committedRows = Number(/"rows":(\d+)/.exec(line)?.[1] ?? 0);
      say(`crash: killed wrangler's process group after ${line.trim().slice(0, 120)}`);

      const beforeRestart = await teamIds(stack, team);
      // Rows the restarted Worker flushes for the team: the committed ones again, if the DELETE never ran.
      let rowsReflushed = 0;
      const reflushed = stack.onOutputLine((l) => {
        const m = /"event":"flush","teamId":"([^"]+)","rows":(\d+)/.exec(l);
        if (m?.[1] === team) rowsReflushed += Number(m[2]);
      }, () => rowsReflushed);
      await stack.startWorker({ persistTo: persist, vars: due, logLevel: "log" });
      await stack.waitDrained(team, 60_000, 3_000);
      reflushed.stop();
      say(`crash: restarted on the same state; it flushed ${rowsReflushed} rows for the team`);
      const final = await teamIds(stack, team);
      const [counts] = await stack.query<{ n: string; d: string }>(
        `SELECT count(*)::text AS n, count(DISTINCT id)::text AS d FROM (SELECT id FROM locations WHERE team_id = $1 UNION ALL SELECT id FROM knocks WHERE team_id = $1 UNION ALL SELECT id FROM activities WHERE team_id = $1) t`,
        [team],
      );
      const missing = [...ids].filter((id) => !final.ids.has(id)).length;
      const figures = await stack.figures(team);
      return {
        checks: [
          check(accepted === n, `${accepted} of ${n} events accepted`),
          check(committedRows > 0 && beforeRestart.rows === committedRows, `killed after COMMIT: Postgres already held ${beforeRestart.rows} rows (the flush committed ${committedRows})`),
          check(rowsReflushed === n, `after the restart the buffer still held all ${rowsReflushed} rows (the ${committedRows} committed ones too: the DELETE never ran) and flushed them again`),
          check(Number(counts?.n) === n && Number(counts?.d) === n && missing === 0,
            `after the second flush: count(*) = ${counts?.n}, count(distinct id) = ${counts?.d}, sent = ${n}, missing ${missing}; buffer depth ${figures.depth}`),
        ],
        figures: { events: n, committedBeforeKill: committedRows, rowsReflushed, rows: Number(counts?.n), distinct: Number(counts?.d) },
      };
    } finally {
      await stack.stopWorker().catch(() => {});
      fs.rmSync(persist, { recursive: true, force: true });
    }
  });
}
