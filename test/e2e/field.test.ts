/**
 * The field PWA in real Chromium against `wrangler dev` and the run's Postgres: batching, the offline
 * outbox, backpressure, rejected events, undo and sign-in trouble. Every wait is on page or database state.
 *
 * The app reads its tunables from localStorage `fieldpulse.settings` (web/field/settings.ts); tests set it
 * with an init script so that send ages are a second or two instead of 15 s.
 */
import fs from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../protocol/auth.ts";
import { ARTIFACTS, launchBrowser, newTeam, query, startWorker, tokenFor, waitFor, type RunningWorker } from "./harness.ts";

const START = { latitude: 52.52, longitude: 13.405 };
/** Metres north of START, as a latitude. */
const north = (m: number) => START.latitude + m / 111_195;

interface AppSettings {
  fix?: { minDistanceM?: number; minIntervalS?: number };
  send?: { sendAtCount?: number; maxAgeS?: { location?: number; knock?: number; activity?: number } };
  undoS?: number;
  phoneRegion?: string;
}

interface OpenApp {
  context: BrowserContext;
  page: Page;
  team: string;
  user: string;
  /** Every POST /v1/events the app made (page or service worker): when, and the event ids it carried. */
  posts: { at: number; ids: string[]; from: "page" | "sw" }[];
  /** The events of each of those POSTs, as sent. */
  bodies: Record<string, unknown>[][];
  /** Answers to those POSTs. */
  answers: { at: number; status: number; retryAfter: string | null; body: unknown; ids: string[] }[];
  errors: string[];
}

declare global {
  interface Window {
    /** The app's hooks (web/field/main.ts). */
    __fieldpulse?: { outboxCount(): Promise<number>; enqueueUnchecked(event: { id: string; type: string }): Promise<void>; sendNow(): Promise<void> };
    /** The day view's map (web/field/day-map.ts). */
    __dayMap?: import("maplibre-gl").Map;
  }
}

const idsOf = (req: Request): string[] => {
  const body = JSON.parse(req.postData() ?? "{}") as { events?: { id: string }[] };
  return (body.events ?? []).map((e) => e.id);
};

describe("field PWA", () => {
  let worker: RunningWorker;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    // Short server-side ages, so what the phone sends reaches Postgres within a second or so.
    worker = await startWorker({ LOCATION_MAX_AGE_S: "1", KNOCK_MAX_AGE_S: "1", ACTIVITY_MAX_AGE_S: "1" });
    browser = await launchBrowser();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await worker?.stop();
  });

  async function openApp(
    opts: {
      settings?: AppSettings; server?: RunningWorker; token?: string; geolocation?: boolean; user?: string;
      locale?: string; timezoneId?: string; viewport?: { width: number; height: number }; fixedTime?: number;
    } = {},
  ): Promise<OpenApp> {
    const server = opts.server ?? worker;
    const team = newTeam();
    const user = opts.user ?? `canvasser-${Math.random().toString(36).slice(2, 8)}`;
    const context = await browser.newContext({
      viewport: opts.viewport ?? { width: 360, height: 740 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true,
      locale: opts.locale ?? "en-US", ...(opts.timezoneId ? { timezoneId: opts.timezoneId } : {}),
    });
    contexts.push(context);
    if (opts.fixedTime !== undefined) await context.clock.setFixedTime(opts.fixedTime);
    // Granting some permissions denies the rest: name every one the app uses (geolocation only if wanted).
    const permissions = ["screen-wake-lock", "background-sync", ...(opts.geolocation === false ? [] : ["geolocation"])];
    await context.grantPermissions(permissions, { origin: server.url });
    if (opts.geolocation !== false) await context.setGeolocation({ ...START, accuracy: 5 });
    await context.addInitScript((settings) => {
      try {
        localStorage.setItem("fieldpulse.settings", settings);
      } catch {
        /* about:blank */
      }
    }, JSON.stringify(opts.settings ?? {}));
    const page = await context.newPage();
    const app: OpenApp = { context, page, team, user, posts: [], bodies: [], answers: [], errors: [] };
    page.on("pageerror", (err) => app.errors.push(String(err)));
    // On the context, so that the service worker's Background Sync sends are counted too.
    context.on("request", (req) => {
      if (req.method() !== "POST" || !req.url().endsWith("/v1/events")) return;
      app.posts.push({ at: Date.now(), ids: idsOf(req), from: req.serviceWorker() ? "sw" : "page" });
      app.bodies.push((JSON.parse(req.postData() ?? "{}") as { events?: Record<string, unknown>[] }).events ?? []);
    });
    context.on("response", async (res) => {
      const req = res.request();
      if (req.method() !== "POST" || !req.url().endsWith("/v1/events")) return;
      const entry = { at: Date.now(), status: res.status(), retryAfter: res.headers()["retry-after"] ?? null, body: null as unknown, ids: idsOf(req) };
      app.answers.push(entry);
      entry.body = await res.json().catch(() => null);
    });
    const token = opts.token ?? (await tokenFor(server.plan, team, "field", user, "Sam Rivera"));
    await page.goto(`${server.url}/field/#token=${token}`);
    await page.waitForSelector('body[data-signed-in="1"]', { timeout: 15_000 });
    return app;
  }

  const attr = (page: Page, name: string) => page.evaluate((n) => document.body.dataset[n] ?? null, name);
  const waitAttr = (page: Page, name: string, value: string, timeout = 20_000) =>
    page.waitForFunction(([n, v]) => document.body.dataset[n!] === v, [name, value] as const, { timeout });
  const outboxCount = (page: Page) => page.evaluate(() => window.__fieldpulse!.outboxCount());
  /** "Send now" while the undo bar covers its button: the same call. */
  const sendNow = (page: Page) => page.evaluate(() => window.__fieldpulse!.sendNow());

  /** Tap an outcome and wait until the knock is stored (it shows in the recent list). */
  async function knock(page: Page, outcome: string): Promise<void> {
    const before = await page.locator("#recent-list li").count();
    await page.locator(`button[data-outcome="${outcome}"]`).click();
    await page.waitForFunction((n) => document.querySelectorAll("#recent-list li").length > n, before, { timeout: 15_000 });
  }

  async function saveLead(page: Page, lead: { name: string; phone?: string; email?: string; interest?: string }): Promise<void> {
    const card = page.locator("#lead-card");
    if (!(await card.evaluate((d: HTMLDetailsElement) => d.open))) await page.locator("#lead-card > summary").click();
    await page.fill('#lead-form [name="name"]', lead.name);
    if (lead.phone) await page.fill('#lead-form [name="phone"]', lead.phone);
    if (lead.email) await page.fill('#lead-form [name="email"]', lead.email);
    if (lead.interest) await page.check(`#lead-form [name="interest"][value="${lead.interest}"]`);
    await page.locator('#lead-form button[type="submit"]').click();
  }

  it("records a walk: every kept fix reaches Postgres exactly once, in a few batches", async () => {
    const app = await openApp({
      // Fixes wait up to 4 s on the phone: the walk below takes a few seconds, so a few batches at most.
      settings: { fix: { minDistanceM: 5, minIntervalS: 60 }, send: { sendAtCount: 1_000, maxAgeS: { location: 4, activity: 4, knock: 1 } } },
    });
    const { page, context } = app;
    await page.locator("#shift-btn").click();
    await waitAttr(page, "onShift", "1");
    await waitAttr(page, "fixes", "1");
    await waitAttr(page, "wakeLock", "1");

    const steps = 24;
    for (let i = 1; i < steps; i++) {
      // 15 m a step: each fix is kept (filter: 5 m).
      await context.setGeolocation({ latitude: north(15 * i), longitude: START.longitude, accuracy: 5 });
      await waitAttr(page, "fixes", String(i + 1));
    }
    await waitAttr(page, "unsent", "0");

    const rows = await waitFor(async () => {
      const r = await query<{ id: string; lat: number; lng: number }>(worker.plan, "SELECT id, lat, lng FROM locations WHERE team_id = $1 AND user_id = $2 ORDER BY at", [app.team, app.user]);
      return r.length >= steps ? r : undefined;
    }, "the walk in Postgres");
    expect(rows).toHaveLength(steps);
    rows.forEach((r, i) => expect(r.lat).toBeCloseTo(north(15 * i), 6));

    // Exactly once: each fix travelled in exactly one request, and each is one row.
    const sentLocationIds = app.posts.flatMap((p) => p.ids).filter((id) => rows.some((r) => r.id === id));
    expect(new Set(sentLocationIds).size).toBe(steps);
    expect(sentLocationIds).toHaveLength(steps);
    // Batched: far fewer requests than fixes.
    expect(app.posts.length).toBeLessThanOrEqual(steps / 4);
    expect(app.answers.every((a) => a.status === 202)).toBe(true);
    expect(app.errors).toEqual([]);

    await page.locator("#shift-btn").click();
    await waitAttr(page, "onShift", "0");
  });

  it("works offline: knocks and a lead survive a reload and land exactly once, the lead first", async () => {
    const app = await openApp({ settings: { send: { maxAgeS: { knock: 1 } } } });
    const { page, context } = app;
    // The service worker has taken the page (clientsClaim): the shell is precached.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 20_000 });

    await context.setOffline(true);
    await waitAttr(page, "online", "0");
    expect(await page.locator("#banner-offline").isVisible()).toBe(true);

    for (const outcome of ["no_answer", "not_interested", "callback"]) await knock(page, outcome);

    // The lead form shows the protocol's own messages next to the fields.
    await saveLead(page, { name: " ", email: "not-an-email" });
    await expect.poll(() => page.locator('[data-error-for="name"]').textContent()).toBe("Name is required");
    expect(await page.locator('[data-error-for="email"]').textContent()).toBe("Email is not an email address");
    await saveLead(page, { name: "Jamie Doe", phone: "+1 202 555 0100", email: "jamie@example.com", interest: "hot" });
    await waitAttr(page, "unsentLead", "1");
    await waitAttr(page, "unsent", "4");

    // Reload while offline: the service worker serves the shell, IndexedDB still holds all four.
    await page.reload();
    await page.waitForSelector('body[data-signed-in="1"]');
    await waitAttr(page, "unsent", "4");
    expect(await outboxCount(page)).toBe(4);
    expect(await attr(page, "unsentKnock")).toBe("3");
    expect(await page.locator('#recent-list li[data-status="waiting"]').count()).toBe(4);
    expect(app.answers).toEqual([]);

    await context.setOffline(false);
    await waitAttr(page, "unsent", "0");
    await page.waitForFunction(() => document.querySelectorAll('#recent-list li[data-status="sent"]').length === 4, undefined, { timeout: 20_000 });

    const knocks = await waitFor(async () => {
      const r = await query<{ id: string; outcome: string; received_at: Date }>(worker.plan, "SELECT id, outcome, received_at FROM knocks WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
      return r.length >= 3 ? r : undefined;
    }, "3 knocks in Postgres");
    const leads = await query<{ id: string; name: string; interest: string; received_at: Date }>(worker.plan, "SELECT id, name, interest, received_at FROM leads WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
    expect(knocks.map((k) => k.outcome).sort()).toEqual(["callback", "no_answer", "not_interested"]);
    expect(leads).toMatchObject([{ name: "Jamie Doe", interest: "hot" }]);
    // The lead went first: it heads the first batch, and the server received it no later than any knock.
    expect(app.posts[0]!.ids[0]).toBe(leads[0]!.id);
    const firstKnock = Math.min(...knocks.map((k) => k.received_at.getTime()));
    expect(leads[0]!.received_at.getTime()).toBeLessThanOrEqual(firstKnock);
    // Exactly once on the wire too: nothing was sent twice.
    const sent = app.posts.flatMap((p) => p.ids);
    expect(new Set(sent).size).toBe(sent.length);

    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(ARTIFACTS, "field.png") });
    await page.screenshot({ path: path.join(ARTIFACTS, "field-full.png"), fullPage: true });
    expect(app.errors).toEqual([]);
  });

  it("takes a lead after an offline reload (the phone metadata, loaded on demand, comes from the cache) and says what is wrong in words", async () => {
    const app = await openApp();
    const { page, context } = app;
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 20_000 });
    await context.setOffline(true);
    await page.reload();
    await page.waitForSelector('body[data-signed-in="1"]');

    // A schema's own message reads as words (zod/mini's locale is set by the page), not "Invalid input".
    await page.locator("#lead-card > summary").click();
    await page.fill('#lead-form [name="notes"]', "n".repeat(2_001));
    await saveLead(page, { name: "Offline Olga", phone: "+1 202 555 0101" });
    await expect.poll(() => page.locator('[data-error-for="notes"]').textContent()).toMatch(/2000/);
    // Nothing typed is lost.
    expect(await page.inputValue('#lead-form [name="name"]')).toBe("Offline Olga");
    await page.fill('#lead-form [name="notes"]', "back on Tuesday");
    await page.locator('#lead-form button[type="submit"]').click();
    await waitAttr(page, "unsentLead", "1");

    await context.setOffline(false);
    const rows = await waitFor(async () => {
      const r = await query<{ name: string; phone: string; notes: string }>(worker.plan, "SELECT name, phone, notes FROM leads WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
      return r.length ? r : undefined;
    }, "the lead in Postgres");
    expect(rows).toEqual([{ name: "Offline Olga", phone: "+12025550101", notes: "back on Tuesday" }]);
    expect(app.errors).toEqual([]);
  });

  it("saves one lead however fast Save is tapped twice (one save at a time: a second lead would be a second dialer call)", async () => {
    const app = await openApp();
    const { page } = app;
    await page.locator("#lead-card > summary").click();
    await page.fill('#lead-form [name="name"]', "Twice Tina");
    await page.fill('#lead-form [name="phone"]', "+1 202 555 0199");
    // Two submits in one task: the second arrives while the first still awaits the lead module and the outbox.
    await page.evaluate(() => {
      const form = document.querySelector<HTMLFormElement>("#lead-form")!;
      form.requestSubmit();
      form.requestSubmit();
    });
    await waitAttr(page, "unsent", "0");
    const rows = await waitFor(async () => {
      const r = await query<{ name: string }>(worker.plan, "SELECT name FROM leads WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
      return r.length ? r : undefined;
    }, "the lead in Postgres");
    expect(rows).toEqual([{ name: "Twice Tina" }]);
    expect(wireEvents(app, "lead")).toHaveLength(1);
    expect(app.errors).toEqual([]);
  });

  it("drains the outbox after the tab is closed (Background Sync in the service worker)", async () => {
    const app = await openApp({ settings: { send: { maxAgeS: { knock: 1 } } } });
    const { page, context } = app;
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 20_000 });
    await context.setOffline(true);
    await waitAttr(page, "online", "0");
    await knock(page, "do_not_knock");
    // Stored while offline: the app asked for a sync, which the browser holds until the network is back.
    await page.waitForFunction(async () => {
      const reg = (await navigator.serviceWorker.ready) as ServiceWorkerRegistration & { sync: { getTags(): Promise<string[]> } };
      return (await reg.sync.getTags()).includes("fieldpulse-outbox");
    }, undefined, { timeout: 10_000 });
    await page.close();

    await context.setOffline(false);
    const rows = await waitFor(async () => {
      const r = await query<{ outcome: string }>(worker.plan, "SELECT outcome FROM knocks WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
      return r.length ? r : undefined;
    }, "the knock sent by the service worker", 30_000);
    expect(rows).toEqual([{ outcome: "do_not_knock" }]);
    expect(app.posts.map((p) => p.from)).toEqual(["sw"]);
  });

  it("waits out a 503 with Retry-After, keeps what was refused, and loses nothing", async () => {
    // A tiny high-water mark; buffered fixes wait 5 s, so a filled buffer stays full while the phone sends.
    const busy = await startWorker({ BUFFER_HIGH_WATER: "5", LOCATION_MAX_AGE_S: "5", KNOCK_MAX_AGE_S: "1" });
    try {
      const app = await openApp({ server: busy, settings: { send: { maxAgeS: { knock: 1 } } } });
      const { page, context } = app;
      const other = await tokenFor(busy.plan, app.team, "field", "teammate");
      const post = async (events: unknown[]) => {
        const res = await fetch(`${busy.url}/v1/events`, {
          method: "POST",
          headers: { Authorization: `Bearer ${other}`, "Content-Type": "application/json" },
          body: JSON.stringify({ events }),
        });
        expect(res.status).toBe(202);
      };
      // One flush first, so the team has a measured drain rate and Retry-After is short.
      const primer = Array.from({ length: 2 }, () => ({ id: crypto.randomUUID(), type: "knock", at: Date.now(), lat: 1, lng: 2, outcome: "other" }));
      await post(primer);
      await waitFor(async () => (await query(busy.plan, "SELECT 1 FROM knocks WHERE id = ANY($1)", [primer.map((p) => p.id)])).length === 2 || undefined, "the primer flushed");

      // Queue two knocks and a lead while offline, fill the team's buffer, then come back.
      await context.setOffline(true);
      await waitAttr(page, "online", "0");
      await knock(page, "no_answer");
      await knock(page, "interested");
      await saveLead(page, { name: "Pat Lee", phone: "+1 202 555 0199", interest: "warm" });
      await waitAttr(page, "unsent", "3");
      await post(Array.from({ length: 8 }, (_, i) => ({ id: crypto.randomUUID(), type: "location", at: Date.now(), lat: 1 + i / 1000, lng: 2 })));
      await context.setOffline(false);

      await waitAttr(page, "unsent", "0", 60_000);
      const first = await waitFor(() => app.answers[0]?.body ? app.answers[0] : undefined, "the first answer");
      expect(first.status).toBe(503);
      const retryAfterS = Number(first.retryAfter);
      expect(retryAfterS).toBeGreaterThanOrEqual(1);
      const firstBody = first.body as { leads: { id: string }[]; refused: number };
      expect(firstBody.refused).toBe(2);
      const leadId = firstBody.leads[0]!.id;

      // The client waited as told before asking again (a little slack for event delivery to the test).
      const second = app.posts[1]!;
      expect(second.at - first.at).toBeGreaterThanOrEqual(retryAfterS * 1000 - 250);
      // The lead was taken by the 503 and never sent again; the knocks went again until accepted.
      expect(app.posts.filter((p) => p.ids.includes(leadId))).toHaveLength(1);
      expect(second.ids).not.toContain(leadId);
      expect(app.answers.at(-1)!.status).toBe(202);

      const knocks = await waitFor(async () => {
        const r = await query<{ id: string }>(busy.plan, "SELECT id FROM knocks WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
        return r.length >= 2 ? r : undefined;
      }, "the refused knocks in Postgres");
      expect(knocks).toHaveLength(2);
      const leads = await waitFor(async () => {
        const r = await query<{ id: string }>(busy.plan, "SELECT id FROM leads WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
        return r.length ? r : undefined;
      }, "the lead in Postgres");
      expect(leads).toEqual([{ id: leadId }]);
      await page.waitForFunction(() => document.querySelectorAll('#recent-list li[data-status="sent"]').length === 3);
      expect(app.errors).toEqual([]);
      await app.context.close();
    } finally {
      await busy.stop();
    }
  });

  it("drops a rejected event, lists it under problems, and sends the rest", async () => {
    const app = await openApp({ settings: { send: { maxAgeS: { knock: 30, location: 30 } } } });
    const { page } = app;
    const bad = () => ({ id: crypto.randomUUID(), type: "location", at: Date.now(), lat: 999, lng: 0 });

    // Alone in its batch: the server answers 400 naming it, and it is dropped.
    const lonely = bad();
    await page.evaluate((e) => window.__fieldpulse!.enqueueUnchecked(e), lonely);
    await waitAttr(page, "unsent", "1");
    await page.locator("#send-now").click();
    await waitAttr(page, "unsent", "0");
    await waitAttr(page, "problems", "1");
    await expect.poll(() => app.answers.map((a) => a.status)).toEqual([400]);

    // With good neighbours: 202, the good ones land, the bad one is dropped and does not block the queue.
    const mixed = bad();
    await page.evaluate((e) => window.__fieldpulse!.enqueueUnchecked(e), mixed);
    await knock(page, "interested");
    await knock(page, "other");
    await waitAttr(page, "unsent", "3");
    await sendNow(page);
    await waitAttr(page, "unsent", "0");
    await waitAttr(page, "problems", "2");
    await expect.poll(() => app.answers.map((a) => a.status)).toEqual([400, 202]);
    expect(await page.locator(`#problem-list li[data-event-id="${mixed.id}"]`).textContent()).toContain("lat");

    const knocks = await waitFor(async () => {
      const r = await query(worker.plan, "SELECT id FROM knocks WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
      return r.length >= 2 ? r : undefined;
    }, "the good knocks in Postgres");
    expect(knocks).toHaveLength(2);
    expect(await query(worker.plan, "SELECT id FROM locations WHERE id = ANY($1)", [[lonely.id, mixed.id]])).toEqual([]);
    expect(await outboxCount(page)).toBe(0);
  });

  it("undoes a knock that is still on the phone, and says so when it was already sent", async () => {
    const app = await openApp({ settings: { send: { maxAgeS: { knock: 60 } }, undoS: 30 } });
    const { page } = app;
    await knock(page, "no_answer");
    await waitAttr(page, "unsentKnock", "1");
    await page.locator("#undo-btn").click();
    await waitAttr(page, "unsentKnock", "0");
    await expect.poll(() => page.locator("#toast-text").textContent()).toBe("Knock removed");
    expect(await page.locator('#recent-list li[data-status="undone"]').count()).toBe(1);

    // Sent before the undo: the knock stays on the server, and a correction follows it.
    await knock(page, "interested");
    await sendNow(page);
    await page.waitForFunction(() => document.querySelector('#recent-list li[data-status="sent"]') !== null);
    await page.locator("#undo-btn").click();
    await expect.poll(() => page.locator("#toast-text").textContent()).toContain("Already sent");
    await sendNow(page);
    await waitAttr(page, "unsent", "0");
    const rows = await waitFor(async () => {
      const k = await query<{ id: string; outcome: string }>(worker.plan, "SELECT id, outcome FROM knocks WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
      const a = await query<{ kind: string; meta: { knockId: string } }>(worker.plan, "SELECT kind, meta FROM activities WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
      return k.length >= 1 && a.length >= 1 ? { k, a } : undefined;
    }, "the knock and its correction in Postgres");
    expect(rows.k).toHaveLength(1);
    expect(rows.k[0]!.outcome).toBe("interested");
    expect(rows.a).toEqual([{ kind: "knock_undo", meta: { knockId: rows.k[0]!.id, outcome: "interested" } }]);
  });

  it("stops and asks to sign in again on 401, keeping the outbox; shows a banner when location is blocked", async () => {
    const forged = await signToken({ team: newTeam(), sub: "mallory", role: "field" }, "not-the-secret");
    const app = await openApp({ token: forged, geolocation: false, settings: { send: { maxAgeS: { activity: 0 } } } });
    const { page } = app;
    expect(await page.evaluate(() => location.hash)).toBe("");
    expect(await page.evaluate(() => localStorage.getItem("fieldpulse.token"))).toBe(forged);

    await page.locator("#shift-btn").click();
    await waitAttr(page, "geo", "denied");
    expect(await page.locator("#banner-geo").isVisible()).toBe(true);

    // Starting the shift logged an activity; sending it gets 401.
    await waitAttr(page, "auth", "refused");
    expect(await page.locator("#banner-auth").isVisible()).toBe(true);
    expect(await outboxCount(page)).toBe(1);
    await expect.poll(() => app.answers.map((a) => a.status)).toEqual([401]);
    const requests = app.posts.length;
    // Stopped: "Send now" does not hammer the server.
    await page.locator("#send-now").click();
    await page.waitForFunction(() => document.body.dataset.senderState === "sign-in");
    expect(app.posts.length).toBe(requests);
  });

  // ---- Issue 14: the thumb zone, knocks without GPS, phone numbers, locale, the day view ----

  const VIEWPORTS = [{ width: 360, height: 640 }, { width: 390, height: 844 }] as const;
  type Box = { x: number; y: number; width: number; height: number };

  /** The first outcome's box at each viewport, after checking that all six are on screen and on top. */
  async function thumbBoxes(page: Page): Promise<Box[]> {
    const boxes: Box[] = [];
    for (const viewport of VIEWPORTS) {
      await page.setViewportSize(viewport);
      const seen = await page.evaluate(() => [...document.querySelectorAll<HTMLButtonElement>("#outcomes button")].map((b) => {
        const r = b.getBoundingClientRect();
        const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        return { x: r.x, y: r.y, width: r.width, height: r.height, right: r.right, bottom: r.bottom, onTop: top === b || b.contains(top), vw: innerWidth, vh: innerHeight };
      }));
      expect(seen).toHaveLength(6);
      for (const b of seen) {
        // Fully inside the viewport and not covered by anything (banner, toast, status).
        expect(b.x).toBeGreaterThanOrEqual(0);
        expect(b.y).toBeGreaterThanOrEqual(0);
        expect(b.right).toBeLessThanOrEqual(b.vw);
        expect(b.bottom).toBeLessThanOrEqual(b.vh);
        expect(b.onTop).toBe(true);
        expect(b.height).toBeGreaterThanOrEqual(56);
      }
      boxes.push({ x: seen[0]!.x, y: seen[0]!.y, width: seen[0]!.width, height: seen[0]!.height });
    }
    await page.setViewportSize(VIEWPORTS[0]);
    return boxes;
  }

  const expectSameBoxes = (a: Box[], b: Box[], state: string) => {
    a.forEach((box, i) => {
      for (const k of ["x", "y", "width", "height"] as const) {
        expect(Math.abs(box[k] - b[i]![k]), `${state}: ${k} at ${VIEWPORTS[i]!.width}×${VIEWPORTS[i]!.height}`).toBeLessThanOrEqual(1);
      }
    });
  };

  /** The status line's text, and whether all of it shows: no clamped line, no clipped width, inside the box. */
  const statusFit = (page: Page) =>
    page.locator("#status-line .status-text").evaluate((el) => {
      const box = el.parentElement!.getBoundingClientRect();
      const r = el.getBoundingClientRect();
      return {
        text: el.textContent,
        fits: el.scrollHeight <= el.clientHeight + 1 && el.scrollWidth <= el.clientWidth + 1,
        inside: r.top >= box.top - 1 && r.bottom <= box.bottom + 1,
      };
    });

  it("keeps the six outcomes in one fixed thumb zone: off shift, error, on shift, sending, offline with unsent", async () => {
    // Location blocked all along: the banner shows, and a knock without an address is an error.
    const app = await openApp({ geolocation: false, viewport: VIEWPORTS[0], settings: { send: { maxAgeS: { activity: 0, knock: 0 } } } });
    const { page, context } = app;
    const offShift = await thumbBoxes(page);

    await page.locator('button[data-outcome="no_answer"]').click();
    await page.waitForSelector('#status-line[data-tone="error"]');
    expect(await page.locator("#knock-address").evaluate((el) => el === document.activeElement)).toBe(true);
    expectSameBoxes(offShift, await thumbBoxes(page), "error shown");
    // The instruction is read whole at 360 px (two lines at most, nothing clipped), inside the status box.
    expect(await statusFit(page)).toEqual({ text: "No position yet: type the address above, then tap the outcome again.", fits: true, inside: true });

    // Hold the next send open, so "sending" is a state to measure rather than a flicker.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await page.route("**/v1/events", async (route) => {
      await gate;
      await route.continue();
    });
    await page.locator("#shift-btn").click();
    await waitAttr(page, "onShift", "1");
    await waitAttr(page, "geo", "denied");
    expect(await page.locator("#banner-geo").isVisible()).toBe(true);
    await waitAttr(page, "sending", "1");
    expectSameBoxes(offShift, await thumbBoxes(page), "on shift, sending");
    release();
    await waitAttr(page, "unsent", "0");
    await page.unroute("**/v1/events");
    expectSameBoxes(offShift, await thumbBoxes(page), "on shift");

    await context.setOffline(true);
    await waitAttr(page, "online", "0");
    await page.locator("#shift-btn").click();
    await waitAttr(page, "unsent", "1");
    expect(await page.locator("#banner-offline").isVisible()).toBe(true);
    expectSameBoxes(offShift, await thumbBoxes(page), "offline with unsent");
    await page.screenshot({ path: path.join(ARTIFACTS, "field-thumb-offline.png") });

    // One live region only, and the ticking status line is not it.
    expect(await page.locator("[aria-live]").count()).toBe(1);
    expect(await page.locator("#status-line").getAttribute("aria-live")).toBeNull();
    await context.setOffline(false);
    await waitAttr(page, "unsent", "0");
    expect(app.errors).toEqual([]);
  });

  /** The events of one type the app posted, as they went over the wire (in order; a resend repeats one). */
  const wireEvents = (app: OpenApp, type: string): Record<string, unknown>[] => app.bodies.flatMap((b) => b.filter((e) => e.type === type));

  it("with location blocked, logs a knock by its typed address and sends it without coordinates", async () => {
    const app = await openApp({ geolocation: false, settings: { send: { maxAgeS: { knock: 0 } } } });
    const { page } = app;
    await page.locator("#knock-extra > summary").click();
    await page.fill("#knock-address", "12 Elm Street");
    await knock(page, "callback");
    await waitAttr(page, "unsent", "0");
    const [sent] = wireEvents(app, "knock");
    expect(sent).toMatchObject({ outcome: "callback", address: "12 Elm Street", positionSource: "address" });
    expect(sent).not.toHaveProperty("lat");
    expect(app.answers.map((a) => a.status)).toEqual([202]);
    expect(await page.locator('#recent-list li[data-status="sent"]').count()).toBe(1);
    // Needs the server side of issue 14 (knocks without lat/lng stored in Postgres).
    const rows = await waitFor(async () => {
      const r = await query<{ address: string; lat: number | null }>(worker.plan, "SELECT address, lat FROM knocks WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
      return r.length ? r : undefined;
    }, "the address-only knock in Postgres");
    expect(rows).toEqual([{ address: "12 Elm Street", lat: null }]);
  });

  it("before a fresh fix, logs a knock at the last known position with its age and a truthful accuracy", async () => {
    const app = await openApp({ settings: { send: { maxAgeS: { knock: 0 } } } });
    const { page, context } = app;
    await knock(page, "no_answer");
    await waitAttr(page, "unsent", "0");
    // Location is now refused, and a reload forgets the fix in memory: only the last known one is left.
    await context.clearPermissions();
    await context.grantPermissions(["screen-wake-lock", "background-sync"], { origin: worker.url });
    await page.reload();
    await page.waitForSelector('body[data-signed-in="1"]');
    await knock(page, "interested");
    await expect.poll(() => page.locator("#toast-text").textContent()).toMatch(/last known position, .* ago \(±\d+/);
    // "unsent" may still read 0 from before the knock: wait for the knock itself on the wire.
    await waitFor(() => (wireEvents(app, "knock").length >= 2 ? true : undefined), "the second knock sent");
    await waitAttr(page, "unsent", "0");
    const [first, second] = wireEvents(app, "knock");
    expect(first).toMatchObject({ positionSource: "gps", lat: START.latitude, lng: START.longitude, accuracy: 5 });
    expect(second).toMatchObject({ positionSource: "last_known", lat: START.latitude, lng: START.longitude });
    // Grown by a walking pace since the fix: never better than the fix was.
    expect(second!.accuracy as number).toBeGreaterThanOrEqual(5);
    expect(second!.accuracy as number).toBeLessThan(5 + 1.5 * 120);
    const rows = await waitFor(async () => {
      const r = await query<{ outcome: string; lat: number }>(worker.plan, "SELECT outcome, lat FROM knocks WHERE team_id = $1 AND user_id = $2 ORDER BY at", [app.team, app.user]);
      return r.length >= 2 ? r : undefined;
    }, "both knocks in Postgres");
    expect(rows.map((r) => r.outcome)).toEqual(["no_answer", "interested"]);
  });

  it("refuses \"...\" and \"12\" as phone numbers and sends a national number as E.164", async () => {
    const app = await openApp({ settings: { phoneRegion: "none" } });
    const { page } = app;
    for (const phone of ["...", "12"]) {
      await saveLead(page, { name: "Ada Moss", phone });
      await expect.poll(() => page.locator("#lead-error-phone").textContent()).toMatch(/^Phone /);
      expect(await page.locator('#lead-form [name="phone"]').getAttribute("aria-invalid")).toBe("true");
      // The message is the input's description, and focus is on it.
      expect(await page.locator('#lead-form [name="phone"]').getAttribute("aria-describedby")).toBe("lead-error-phone");
      expect(await page.locator('#lead-form [name="phone"]').evaluate((el) => el === document.activeElement)).toBe(true);
    }
    // A national number needs a region: choose it in Settings.
    await saveLead(page, { name: "Ada Moss", phone: "(202) 555-0143" });
    await expect.poll(() => page.locator("#lead-error-phone").textContent()).toContain("region");
    await page.locator("details.settings > summary").click();
    await page.selectOption("#set-phone-region", "US");
    await page.locator('#settings-form button[type="submit"]').click();
    await expect.poll(() => page.evaluate(() => JSON.parse(localStorage.getItem("fieldpulse.settings") ?? "{}").phoneRegion)).toBe("US");
    await saveLead(page, { name: "Ada Moss", phone: "(202) 555-0143" });
    await waitAttr(page, "unsent", "0");
    await waitFor(() => app.answers.some((a) => a.status === 202), "the server's answer");
    const [lead] = wireEvents(app, "lead");
    expect(lead).toMatchObject({ name: "Ada Moss", phone: "+12025550143" });
    const rows = await waitFor(async () => {
      const r = await query<{ phone: string }>(worker.plan, "SELECT phone FROM leads WHERE team_id = $1 AND user_id = $2", [app.team, app.user]);
      return r.length ? r : undefined;
    }, "the lead in Postgres");
    expect(rows).toEqual([{ phone: "+12025550143" }]);
  });

  it("shows times in the phone's locale (en-US 6:08 PM, de-DE 18:08) and the main screen in Spanish", async () => {
    const day = 24 * 60 * 60 * 1000;
    // 18:08 UTC yesterday: a real past time the server would accept.
    const at = Math.floor(Date.now() / day) * day - day + (18 * 60 + 8) * 60 * 1000;
    const seen: Record<string, string> = {};
    for (const locale of ["en-US", "de-DE"]) {
      const app = await openApp({ locale, timezoneId: "UTC", fixedTime: at, settings: { send: { maxAgeS: { knock: 600 } } } });
      await knock(app.page, "other");
      seen[locale] = ((await app.page.locator("#recent-list li time").first().textContent()) ?? "").replace(/\s/g, " ");
      await app.context.close();
    }
    expect(seen).toEqual({ "en-US": "6:08 PM", "de-DE": "18:08" });

    const es = await openApp({ locale: "es-ES" });
    const { page } = es;
    expect(await page.evaluate(() => document.documentElement.lang)).toBe("es");
    expect(await page.locator("#outcomes button").allTextContents()).toEqual(["No abren", "No le interesa", "Interesado", "Volver a llamar", "No llamar", "Otro"]);
    expect(await page.locator("#shift-btn").textContent()).toBe("Empezar turno");
    expect(await page.locator("#status-line").textContent()).toBe("Todo enviado");
    expect(await page.locator("#lead-card > summary").textContent()).toBe("Nuevo contacto");
    // No English left on the main screen's static labels.
    expect(await page.locator("[data-i18n]").evaluateAll((els) => els.filter((e) => !e.textContent?.trim()).length)).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, "field-es.png") });
    expect(es.errors).toEqual([]);
  });

  it("lists today's knocks in the day view, offline after a reload, with counts and the map", async () => {
    const app = await openApp({ settings: { send: { maxAgeS: { knock: 1 } } } });
    const { page, context } = app;
    // MapLibre reports its own failures (a worker that could not start, say) on the console, not as page errors.
    const consoleErrors: string[] = [];
    page.on("console", (m) => void (m.type() === "error" && consoleErrors.push(m.text())));
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 20_000 });
    await knock(page, "interested");
    await waitAttr(page, "unsent", "0");
    await context.setOffline(true);
    await waitAttr(page, "online", "0");
    await context.setGeolocation({ latitude: north(40), longitude: START.longitude, accuracy: 5 });
    await knock(page, "callback");
    await knock(page, "no_answer");

    await page.reload();
    await page.waitForSelector('body[data-signed-in="1"]');
    await page.locator("#day-card > summary").click();
    await page.waitForFunction(() => document.getElementById("day-knocks")?.dataset.count === "3", undefined, { timeout: 15_000 });
    expect(await page.locator("#day-knocks li").count()).toBe(3);
    expect(await page.locator('#day-counts li[data-outcome="interested"] .n').textContent()).toBe("1");
    expect(await page.locator('#day-counts li[data-outcome="callback"] .n').textContent()).toBe("1");
    expect(await page.locator("#day-callbacks li:not(.empty)").count()).toBe(1);
    // The map loads from the service worker's cache and draws the knocks that have a position.
    await page.waitForFunction(() => document.body.dataset.dayMap === "ready" && document.body.dataset.dayMapKnocks === "3", undefined, { timeout: 30_000 });
    // Drawn, not just handed over: the GeoJSON worker (precached too, started offline) has built the layer.
    await page
      .waitForFunction(() => window.__dayMap!.queryRenderedFeatures({ layers: ["knocks"] }).length === 3, undefined, { timeout: 30_000 })
      .catch((err: Error) => {
        throw new Error(`${err.message}\nconsole errors:\n${consoleErrors.join("\n")}`);
      });
    await page.locator("#day-card").screenshot({ path: path.join(ARTIFACTS, "field-day.png") });
    expect(app.errors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  // ---- Browser findings: double taps, phone messages, focus, the status line, sign-in again, plurals ----

  /** Two taps on one button `gapMs` apart, as a thumb does (the second lands whatever the first is doing). */
  const doubleTap = (page: Page, outcome: string, gapMs: number) =>
    page.evaluate(
      ([o, gap]) => {
        const b = document.querySelector<HTMLButtonElement>(`button[data-outcome="${o}"]`)!;
        b.click();
        return new Promise<void>((resolve) => setTimeout(() => (b.click(), resolve()), gap));
      },
      [outcome, gapMs] as const,
    );
  const knockRows = (app: OpenApp) =>
    query<{ outcome: string }>(worker.plan, "SELECT outcome FROM knocks WHERE team_id = $1 AND user_id = $2 ORDER BY at", [app.team, app.user]);

  it("a double tap on one outcome logs one knock and says so; Undo takes it back; another outcome right after is a second knock", async () => {
    const app = await openApp({ settings: { send: { maxAgeS: { knock: 60 } }, undoS: 30 } });
    const { page } = app;
    const recent = () => page.locator("#recent-list li").count();

    // 300 ms apart, then Undo from the "already saved" toast: the one knock is gone.
    await doubleTap(page, "callback", 300);
    await expect.poll(() => page.locator("#toast-text").textContent()).toBe("Already saved: Call back");
    expect(await recent()).toBe(1);
    expect(await attr(page, "unsentKnock")).toBe("1");
    await page.locator("#undo-btn").click();
    await expect.poll(() => page.locator("#toast-text").textContent()).toBe("Knock removed");
    await waitAttr(page, "unsentKnock", "0");

    // 100 ms apart: one knock, the toast and the announcer say it was already saved.
    await doubleTap(page, "interested", 100);
    await expect.poll(() => page.locator("#toast-text").textContent()).toBe("Already saved: Interested");
    await expect.poll(() => page.locator("#announcer").textContent()).toBe("Already saved: Interested. No second knock was logged.");
    expect(await page.locator("#undo-btn").isVisible()).toBe(true);
    expect(await attr(page, "unsentKnock")).toBe("1");
    // A different outcome at once is a real choice.
    await knock(page, "not_interested");
    await waitAttr(page, "unsentKnock", "2");
    expect(await page.locator('#recent-list li:not([data-status="undone"])').count()).toBe(2);

    await sendNow(page);
    await waitAttr(page, "unsent", "0");
    const rows = await waitFor(async () => {
      const r = await knockRows(app);
      return r.length >= 2 ? r : undefined;
    }, "the knocks in Postgres");
    expect(rows.map((r) => r.outcome)).toEqual(["interested", "not_interested"]);
    expect(app.errors).toEqual([]);
  });

  it("says why a phone number is refused (too long; not a number of the region set) and focuses the first bad field in form order", async () => {
    const app = await openApp({ settings: { phoneRegion: "US" } });
    const { page } = app;
    const focused = () => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name ?? null);

    // Two bad fields: both told, focus on Name (first in the form), not on Phone (checked first).
    await saveLead(page, { name: "", phone: "+31 6 1234 5678 9012 3456" });
    await expect.poll(() => page.locator("#lead-error-phone").textContent()).toBe("Phone is longer than an international number can be (15 digits)");
    expect(await page.locator("#lead-error-name").textContent()).toBe("Name is required");
    expect(await focused()).toBe("name");

    await saveLead(page, { name: "Wim de Vries", phone: "+4912345678901234567" });
    await expect.poll(() => page.locator("#lead-error-phone").textContent()).toBe("Phone is longer than an international number can be (15 digits)");
    expect(await focused()).toBe("phone");

    // A Dutch mobile typed nationally on a US phone: read as a US number, and said so.
    await saveLead(page, { name: "Wim de Vries", phone: "06 12345678" });
    await expect.poll(() => page.locator("#lead-error-phone").textContent()).toBe(
      "Phone is not a valid number for United States: add + and the country code, or change the region in Settings",
    );
    expect(await page.inputValue('#lead-form [name="phone"]')).toBe("06 12345678");
    expect(await attr(page, "unsentLead")).toBe("0");

    // The same in Spanish, and the extension (#6) in Spanish too.
    const es = await openApp({ locale: "es-ES", settings: { phoneRegion: "US" } });
    await saveLead(es.page, { name: "Wim", phone: "06 12345678" });
    await expect.poll(() => es.page.locator("#lead-error-phone").textContent()).toBe(
      "El teléfono no es un número válido de Estados Unidos: añade + y el prefijo del país, o cambia la región en Ajustes",
    );
    await saveLead(es.page, { name: "Wim", phone: "+1 202 555 0143 ext. 12" });
    await expect.poll(() => es.page.locator("#lead-error-phone").textContent()).toBe("El teléfono lleva extensión: pon solo el número, y la extensión en las notas");
    await saveLead(es.page, { name: "Wim", phone: "+4912345678901234567" });
    await expect.poll(() => es.page.locator("#lead-error-phone").textContent()).toBe("El teléfono es más largo de lo que puede ser un número internacional (15 cifras)");
    expect(app.errors).toEqual([]);
    expect(es.errors).toEqual([]);
  });

  it("after a refused sign-in, the status line is a button to the sign-in screen, shown from the top with no stale toast", async () => {
    const forged = await signToken({ team: newTeam(), sub: "mallory", role: "field" }, "not-the-secret");
    const app = await openApp({ token: forged, viewport: { width: 360, height: 640 }, settings: { send: { maxAgeS: { knock: 0 } }, undoS: 60 } });
    const { page } = app;
    await knock(page, "other");
    await waitAttr(page, "auth", "refused");
    await waitAttr(page, "senderState", "sign-in");
    const button = page.locator('#status-line button[data-action="sign-in"]');
    await expect.poll(() => button.textContent()).toBe("1 unsent · Sign in again to send");
    // Scrolled down to the recent list: the banner's button is off screen, the status line is not.
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(0);
    expect(await page.locator("#toast").isVisible()).toBe(true);

    await button.tap();
    await waitAttr(page, "signedIn", "0");
    expect(await page.locator("#signin").isVisible()).toBe(true);
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    expect(await page.locator("#toast").isVisible()).toBe(false);
    const heading = await page.locator("#signin h1").boundingBox();
    expect(heading!.y).toBeGreaterThanOrEqual(0);
    expect(app.errors).toEqual([]);
  });

  it("Spanish: singular forms (1 visita, 1 registrada), the countdown readable whole, the day map's gesture hint", async () => {
    const app = await openApp({ locale: "es-ES", viewport: { width: 360, height: 640 }, settings: { send: { maxAgeS: { knock: 600, location: 600, activity: 600 } } } });
    const { page } = app;
    await page.locator("#shift-btn").click();
    await waitAttr(page, "fixes", "1");
    await expect.poll(() => page.locator("#gps-line").textContent()).toMatch(/ · 1 registrada( · |$)/);
    await knock(page, "interested");
    // "N sin enviar · Próximo envío en …": the countdown is not cut off.
    await expect.poll(async () => (await statusFit(page)).text).toMatch(/^\d+ sin enviar · Próximo envío en \d/);
    expect((await statusFit(page)).fits).toBe(true);
    expect((await statusFit(page)).inside).toBe(true);

    await page.locator("#day-card > summary").click();
    await expect.poll(() => page.locator("#day-summary").textContent()).toBe("1 visita · 0 contactos");
    await page.waitForFunction(() => document.body.dataset.dayMap === "ready", undefined, { timeout: 30_000 });
    expect(await page.locator("#day-map .maplibregl-mobile-message").textContent()).toBe("Usa dos dedos para mover el mapa");
    expect(app.errors).toEqual([]);
  });

  it("My day says a stored lead is saved at the office, not sent to a dialer; English singular", async () => {
    const app = await openApp({ settings: { phoneRegion: "US" } });
    const { page } = app;
    await saveLead(page, { name: "Dana Diaz", phone: "(202) 555-0188" });
    await waitFor(() => (app.answers.some((a) => a.status === 202) ? true : undefined), "the lead's 202");
    await page.locator("#day-card > summary").click();
    await expect.poll(() => page.locator("#day-leads li").first().textContent()).toMatch(/Dana Diaz · saved at the office$/);
    expect(await page.locator("#day-card").textContent()).not.toMatch(/dialer/i);
    expect(await page.locator("#day-summary").textContent()).toBe("0 knocks · 1 lead");
    expect(app.errors).toEqual([]);
  });
});
