import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, inject, it } from "vitest";
import type { TeamHub } from "../support/test-worker.ts";
import { leadWebhook } from "../../protocol/webhook.ts";
import { redisFrom, redisKeys } from "../../common/redis.ts";
import { call, hubFor, leadEvent, makeLocations, newTeam, postEvents, sql, tokenFor, waitFor } from "./helpers.ts";

interface Received {
  webhookId: string;
  headers: Record<string, string>;
  body: string;
  verified: boolean;
  answered: number;
}

const received = async (leadId: string): Promise<Received[]> =>
  (await fetch(`${inject("controlUrl")}/dialer/received?leadId=${leadId}`)).json();
const script = (leadId: string, statuses: number[], otherwise = 200) =>
  fetch(`${inject("controlUrl")}/dialer/script`, { method: "POST", body: JSON.stringify({ leadId, statuses, otherwise }) });
const outboxRow = (team: string, leadId: string) =>
  runInDurableObject(hubFor(team), (_h: TeamHub, state) =>
    state.storage.sql.exec<{ status: string; attempts: number; next_at: number; first_attempt_at: number }>(
      "SELECT status, attempts, next_at, first_attempt_at FROM outbox WHERE lead_id = ?", leadId).one());

describe("leads to the dialer", () => {
  it("are in Postgres before the 202 and reach the dialer signed, within moments", async () => {
    const team = newTeam();
    const lead = leadEvent({ name: "Grace Hopper", email: "grace@example.org" });
    const res = await postEvents(await tokenFor(team, "field", "canvasser-9"), [lead, ...makeLocations(3)]);
    expect(res.status).toBe(202);
    expect((await res.json<{ leads: unknown[] }>()).leads).toEqual([{ id: lead.id, status: "stored" }]);
    // Already there: no flush has run (the locations are still buffered).
    expect(await sql("SELECT name, team_id, user_id FROM leads WHERE id = $1", [lead.id])).toEqual([
      { name: "Grace Hopper", team_id: team, user_id: "canvasser-9" },
    ]);
    expect((await hubFor(team).figures()).depth).toBe(3);

    const [hit] = await waitFor(async () => {
      const r = await received(lead.id);
      return r.length ? r : undefined;
    }, { what: "the dialer to receive the lead" });
    expect(hit!.verified).toBe(true);
    expect(hit!.headers["webhook-id"]).toBe(lead.id);
    const body = leadWebhook.parse(JSON.parse(hit!.body));
    expect(body).toMatchObject({ type: "lead.created", data: { id: lead.id, teamId: team, userId: "canvasser-9", name: "Grace Hopper", email: "grace@example.org", interest: "hot" } });
    // The receiver's own check, redone here: the signature covers the exact body, under this secret only.
    const wh = new Webhook(env.DIALER_WEBHOOK_SECRET);
    expect(wh.verify(hit!.body, hit!.headers)).toMatchObject({ type: "lead.created" });
    expect(() => wh.verify(hit!.body.replace("Grace Hopper", "Grace Hoppet"), hit!.headers)).toThrow();
    expect(() => new Webhook(`whsec_${btoa("another secret entirely!")}`).verify(hit!.body, hit!.headers)).toThrow();

    // Delivery state reaches Postgres with a flush, not a write of its own.
    await waitFor(async () => (await outboxRow(team, lead.id)).status === "delivered");
    await hubFor(team).flush();
    const [row] = await sql<{ dialer_status: string; dialer_attempts: number; dialer_delivered_at: string | null }>(
      "SELECT dialer_status, dialer_attempts, dialer_delivered_at FROM leads WHERE id = $1", [lead.id]);
    expect(row).toMatchObject({ dialer_status: "delivered", dialer_attempts: 1 });
    expect(row!.dialer_delivered_at).not.toBeNull();
  });

  it("retries 500, 500, 200 on the schedule, under one webhook-id: delivered once", async () => {
    const team = newTeam();
    const lead = leadEvent();
    await script(lead.id, [500, 500]);
    await postEvents(await tokenFor(team), [lead]);
    const first = await waitFor(async () => {
      const row = await outboxRow(team, lead.id);
      return row.attempts === 1 ? row : undefined;
    }, { what: "the first failed attempt" });
    expect(first.status).toBe("pending");
    expect(first.next_at - first.first_attempt_at).toBe(5_000);
    const hub = hubFor(team);
    // Drive the clock instead of sleeping: an attempt before its time does nothing.
    expect(await runInDurableObject(hub, (h: TeamHub) => h.deliverDue(first.next_at - 1))).toBe(0);
    expect(await runInDurableObject(hub, (h: TeamHub) => h.deliverDue(first.next_at))).toBe(1);
    const second = await outboxRow(team, lead.id);
    expect(second).toMatchObject({ status: "pending", attempts: 2 });
    expect(second.next_at - first.next_at).toBe(30_000);
    expect(await runInDurableObject(hub, (h: TeamHub) => h.deliverDue(second.next_at))).toBe(1);
    expect(await outboxRow(team, lead.id)).toMatchObject({ status: "delivered", attempts: 3 });
    const hits = await received(lead.id);
    expect(hits.map((h) => [h.webhookId, h.verified, h.answered])).toEqual([
      [lead.id, true, 500],
      [lead.id, true, 500],
      [lead.id, true, 200],
    ]);
    expect(await runInDurableObject(hub, (h: TeamHub) => h.deliverDue(second.next_at + 86_400_000))).toBe(0);
  });

  it("gives up after 24 h of failures, shows it in metrics, and redelivers on request", async () => {
    const team = newTeam();
    const lead = leadEvent();
    await script(lead.id, [], 503);
    await postEvents(await tokenFor(team), [lead]);
    const hub = hubFor(team);
    await waitFor(async () => (await outboxRow(team, lead.id)).attempts >= 1);
    let attempts = 1;
    for (let i = 0; i < 40; i++) {
      const row = await outboxRow(team, lead.id);
      if (row.status !== "pending") break;
      await runInDurableObject(hub, (h: TeamHub) => h.deliverDue(row.next_at));
      attempts += 1;
    }
    const dead = await outboxRow(team, lead.id);
    expect(dead.status).toBe("dead");
    // 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h: the last try lands inside the 24 h window.
    expect(dead.attempts).toBe(18); // at 0, 5 s, 35 s, 2:35, 12:35, 42:35, 1:42:35, then every 2 h up to 23:42:35
    expect(dead.next_at - dead.first_attempt_at).toBeLessThanOrEqual(24 * 3_600_000);
    expect((await received(lead.id)).every((h) => h.verified && h.answered === 503)).toBe(true);

    const metrics = await call("/v1/metrics", { token: await tokenFor(team, "manager") });
    const { teams } = await metrics.json<{ teams: { dialer: { dead: number; pending: number; lastError: string } }[] }>();
    expect(teams[0]!.dialer).toMatchObject({ dead: 1, pending: 0, lastError: "HTTP 503" });

    const operator = await tokenFor("hq", "operator");
    const prom = await (await call(`/metrics?team=${team}`, { token: operator })).text();
    expect(prom).toContain(`fieldpulse_dialer_dead{team="${team}"} 1`);

    await script(lead.id, [], 200);
    // The team's own admin redelivers its lead.
    const admin = await tokenFor(team, "admin");
    const redo = await call(`/v1/admin/leads/${lead.id}/redeliver`, { method: "POST", token: admin });
    expect(redo.status).toBe(202);
    expect(await redo.json()).toEqual({ id: lead.id, team, status: "pending" });
    await waitFor(async () => (await outboxRow(team, lead.id)).status === "delivered", { what: "the redelivery" });
    expect((await received(lead.id)).at(-1)).toMatchObject({ verified: true, answered: 200 });

    const unknown = await call(`/v1/admin/leads/${crypto.randomUUID()}/redeliver`, { method: "POST", token: admin });
    expect(unknown.status).toBe(404);
    const notAdmin = await call(`/v1/admin/leads/${lead.id}/redeliver`, { method: "POST", token: await tokenFor(team, "manager") });
    expect(notAdmin.status).toBe(403);
  });

  it("stops retrying when the dialer answers 410", async () => {
    const team = newTeam();
    const lead = leadEvent();
    await script(lead.id, [410]);
    await postEvents(await tokenFor(team), [lead]);
    await waitFor(async () => (await outboxRow(team, lead.id)).status === "stopped");
    expect(await received(lead.id)).toHaveLength(1);
  });

  it("a resent lead is neither stored nor delivered twice", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const lead = leadEvent();
    await postEvents(token, [lead]);
    await waitFor(async () => (await outboxRow(team, lead.id)).status === "delivered");
    const again = await postEvents(token, [lead]);
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 1, leads: [{ id: lead.id, status: "stored" }] });
    expect(await sql("SELECT id FROM leads WHERE id = $1", [lead.id])).toHaveLength(1);
    expect(await received(lead.id)).toHaveLength(1);
  });

  it("pushes each new lead onto the team's Redis pull list", async () => {
    const team = newTeam();
    const lead = leadEvent({ name: "Pull Me" });
    await postEvents(await tokenFor(team), [lead]);
    // Pushed after the answer (Redis never holds a phone): wait for it.
    const list = await waitFor(async () => {
      const l = await redisFrom(env)!.lrange<{ type: string; data: { id: string; name: string } }>(redisKeys(env).dialerPull(team), 0, -1);
      return l.length > 0 ? l : undefined;
    }, { what: "the pull list" });
    expect(list.map((b) => [b.type, b.data.id, b.data.name])).toEqual([["lead.created", lead.id, "Pull Me"]]);
  });
});
