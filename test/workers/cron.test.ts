import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { redisFrom, redisKeys } from "../../common/redis.ts";
import type { TeamHub } from "../support/test-worker.ts";
import { call, countRows, hubFor, makeLocations, newTeam, postEvents, tokenFor, waitFor } from "./helpers.ts";

const redis = redisFrom(env)!;
const { dirtyTeams: DIRTY_SET, queue: queueKey } = redisKeys(env);

// The loopback Fetcher's type omits scheduled(); at runtime it drives the Worker's scheduled handler.
const worker = exports.default as unknown as { scheduled(c: { cron: string; scheduledTime: Date }): Promise<unknown> };
const runCron = () => worker.scheduled({ cron: "* * * * *", scheduledTime: new Date() });

describe("cron supervisor", () => {
  it("marks a team dirty on its first buffered row", async () => {
    const team = newTeam();
    expect(await redis.sismember(DIRTY_SET, team)).toBe(0);
    await postEvents(await tokenFor(team), makeLocations(3));
    expect(await redis.sismember(DIRTY_SET, team)).toBe(1);
  });

  it("flushes dirty teams whose alarm was lost, then publishes their queue figures", async () => {
    const teams = [newTeam(), newTeam(), newTeam()];
    const batches = await Promise.all(
      teams.map(async (team) => {
        const events = makeLocations(7);
        await postEvents(await tokenFor(team), events);
        // Lose the alarm: only the cron can save these rows now.
        await runInDurableObject(hubFor(team), (_h: TeamHub, state) => state.storage.deleteAlarm());
        return events.map((e) => e.id);
      }),
    );
    await runCron();
    for (const [i, team] of teams.entries()) {
      expect(await countRows("locations", batches[i]!)).toBe(7);
      expect(await redis.sismember(DIRTY_SET, team)).toBe(0);
      const figures = await redis.hgetall<Record<string, unknown>>(queueKey(team));
      expect(figures).toMatchObject({ teamId: team, depth: 0, flushedTotal: 7, consecutiveFailures: 0 });
    }
  });

  it("operators read every team's published figures; Prometheus text too", async () => {
    const team = newTeam();
    await postEvents(await tokenFor(team), makeLocations(4));
    await runCron();
    const admin = await tokenFor("hq", "operator");
    const res = await call("/v1/metrics", { token: admin });
    expect(res.status).toBe(200);
    const { teams } = await res.json<{ teams: { teamId: string; flushedTotal: number }[] }>();
    expect(teams.find((t) => t.teamId === team)).toMatchObject({ flushedTotal: 4 });
    const prom = await call("/metrics", { token: admin });
    expect(prom.headers.get("Content-Type")).toMatch(/^text\/plain/);
    expect(await prom.text()).toContain(`fieldpulse_flushed_rows_total{team="${team}"} 4`);
  });

  it("managers see only their own team, fresh from its TeamHub (another team's is 403)", async () => {
    const team = newTeam();
    await postEvents(await tokenFor(team), makeLocations(5));
    const manager = await tokenFor(team, "manager");
    expect((await call(`/v1/metrics?team=${newTeam()}`, { token: manager })).status).toBe(403);
    const res = await call(`/v1/metrics`, { token: manager });
    const { teams } = await res.json<{ teams: { teamId: string; depth: number; byKind: Record<string, number> }[] }>();
    expect(teams).toHaveLength(1);
    expect(teams[0]).toMatchObject({ teamId: team, depth: 5, byKind: { location: 5 } });
    await waitFor(async () => (await hubFor(team).flush()).ok);
  });
});
