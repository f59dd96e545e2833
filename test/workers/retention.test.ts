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

  it("deletes by the table's key: an expired row of one team never takes another team's row with the same id", async () => {
    const [a, b] = [`team-${crypto.randomUUID().slice(0, 8)}`, `team-${crypto.randomUUID().slice(0, 8)}`];
    const [shared, other] = [crypto.randomUUID(), crypto.randomUUID()];
    for (const table of ["locations", "knocks"] as const) {
      const extra = table === "locations" ? ["lat, lng", "1, 1"] : ["outcome", "'other'"];
      await sql(
        `INSERT INTO ${table} (id, team_id, user_id, at, received_at, ${extra[0]}) VALUES
           ($1, $3, 'u', now() - interval '100 days', now() - interval '100 days', ${extra[1]}),
           ($1, $4, 'u', now(), now(), ${extra[1]}),
           ($2, $4, 'u', now(), now(), ${extra[1]})`,
        [shared, other, a, b],
      );
    }
    const report = await applyRetention(env, Date.now());
    expect(report.error).toBeUndefined();
    for (const table of ["locations", "knocks"]) {
      expect(await sql(`SELECT team_id, id FROM ${table} WHERE id = ANY($1::uuid[]) ORDER BY team_id, id`, [[shared, other]])).toEqual(
        [{ team_id: b, id: shared }, { team_id: b, id: other }].sort((x, y) => (x.id < y.id ? -1 : 1)),
      );
    }
  });

  it("a RETENTION_DAYS so large it reaches before 1970 keeps everything, never throws", async () => {
    const report = await applyRetention({ ...env, RETENTION_DAYS: "99999999" }, Date.now());
    expect(report).toMatchObject({ cutoff: "1970-01-01T00:00:00.000Z", deleted: { locations: 0, knocks: 0, activities: 0 } });
  });
});
