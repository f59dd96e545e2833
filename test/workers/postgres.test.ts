import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { inTransaction, withDb } from "../../db/client.ts";
import type { TeamHub } from "../support/test-worker.ts";
import { hubFor, newTeam, sql } from "./helpers.ts";

describe("Neon driver from inside TeamHub", () => {
  it("commits a transaction that node pg then reads", async () => {
    const team = newTeam();
    const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    await runInDurableObject(hubFor(team), async (_hub: TeamHub, state) => {
      expect(state.storage.sql).toBeDefined();
      await withDb(env, ({ client }) =>
        inTransaction(client, async () => {
          for (const [i, id] of ids.entries()) {
            await client.query(
              "INSERT INTO locations (id, team_id, user_id, at, received_at, lat, lng) VALUES ($1, $2, 'u1', now(), now(), $3, $4)",
              [id, team, 50 + i, 4],
            );
          }
        }),
      );
    });
    const rows = await sql<{ id: string; lat: number }>("SELECT id, lat FROM locations WHERE team_id = $1 ORDER BY lat", [team]);
    expect(rows).toEqual(ids.map((id, i) => ({ id, lat: 50 + i })));
  });

  it("rolls back on error: node pg sees nothing", async () => {
    const team = newTeam();
    await runInDurableObject(hubFor(team), async (_hub: TeamHub) => {
      await expect(
        withDb(env, ({ client }) =>
          inTransaction(client, async () => {
            await client.query(
              "INSERT INTO locations (id, team_id, user_id, at, received_at, lat, lng) VALUES ($1, $2, 'u1', now(), now(), 1, 1)",
              [crypto.randomUUID(), team],
            );
            await client.query("SELECT 1/0");
          }),
        ),
      ).rejects.toThrow(/division by zero/);
    });
    expect(await sql("SELECT id FROM locations WHERE team_id = $1", [team])).toEqual([]);
  });
});
