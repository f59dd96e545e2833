import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, newTeam, query, startWorker, tokenFor, waitFor, type RunningWorker } from "./harness.ts";

describe("wrangler dev + Chromium", () => {
  let worker: RunningWorker;
  let browser: Browser;
  beforeAll(async () => {
    worker = await startWorker({ KNOCK_MAX_AGE_S: "1" });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
  });

  it("serves the landing page and its health check", async () => {
    const page = await browser.newPage();
    await page.goto(worker.url);
    expect(await page.locator("h1").textContent()).toBe("fieldpulse");
    const health = await (await fetch(`${worker.url}/healthz`)).json();
    expect(health).toMatchObject({ status: "ok", postgres: { ok: true }, redis: { ok: true } });
    await page.close();
  });

  it("takes a knock over HTTP and lands it in Postgres by itself", async () => {
    const team = newTeam();
    const token = await tokenFor(worker.plan, team, "field", "smoke-user");
    const id = crypto.randomUUID();
    const res = await fetch(`${worker.url}/v1/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ events: [{ id, type: "knock", at: Date.now(), lat: 1, lng: 2, outcome: "no_answer" }] }),
    });
    expect(res.status).toBe(202);
    const rows = await waitFor(async () => {
      const r = await query(worker.plan, "SELECT team_id, user_id, outcome FROM knocks WHERE id = $1", [id]);
      return r.length ? r : undefined;
    }, "the knock in Postgres");
    expect(rows).toEqual([{ team_id: team, user_id: "smoke-user", outcome: "no_answer" }]);
  });
});
