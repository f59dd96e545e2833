import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyRetention } from "../../worker/retention.ts";
import { sql } from "./helpers.ts";

describe("retention", () => {
  it("deletes tracking rows received before RETENTION_DAYS, keeps newer ones and every lead", async () => {
    const team = `team-${crypto.randomUUID().slice(0, 8)}`;
    const [oldFix, newFix, oldLead] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    await sql(
      `INSERT INTO locations (id, team_id, user_id, at, received_at, lat, lng) VALUES
         ($1, $3, 'u', now() - interval '100 days', now() - interval '100 days', 1, 1),
         ($2, $3, 'u', now() - interval '10 days', now() - interval '10 days', 1, 1)`,
      [oldFix, newFix, team],
    );
    await sql("INSERT INTO leads (id, team_id, user_id, at, received_at, name) VALUES ($1, $2, 'u', now() - interval '200 days', now() - interval '200 days', 'Old Lead')", [oldLead, team]);
    const report = await applyRetention(env, Date.now());
    expect(report.error).toBeUndefined();
    expect(report.deleted.locations).toBeGreaterThanOrEqual(1);
    expect(await sql("SELECT id FROM locations WHERE team_id = $1", [team])).toEqual([{ id: newFix }]);
    expect(await sql("SELECT id FROM leads WHERE team_id = $1", [team])).toEqual([{ id: oldLead }]);
  });
});
