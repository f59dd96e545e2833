import fs from "node:fs";
import path from "node:path";
import type { Map as MapLibreMap } from "maplibre-gl";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/net.ts";
import { signToken } from "../../protocol/auth.ts";
import type { MapHooks } from "../../web/map/hooks.ts";
import { ARTIFACTS, launchBrowser, newTeam, startWorkerWith, tokenFor, type RunningWorker } from "./harness.ts";

declare global {
  interface Window {
    __map?: MapLibreMap;
    __fieldpulseMap?: MapHooks;
  }
}

/** Deadlines, generous: two cores shared with other suites, WebGL in software. */
const MAP_READY_MS = 30_000;
const FRAME_MS = 15_000;

// Berlin, a few hundred metres apart.
const HOME = { lat: 52.52, lng: 13.405 };

describe("live map page (wrangler dev + Chromium)", () => {
  let worker: RunningWorker;
  let browser: Browser;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    // Nothing flushes by age during a test: the queue panel changes only when the test runs the cron.
    // Private assets: a rebuild of dist/web by another run would reload wrangler dev and drop our sockets.
    worker = await startWorkerWith({ vars: { LOCATION_MAX_AGE_S: "600", KNOCK_MAX_AGE_S: "600", ACTIVITY_MAX_AGE_S: "600" }, privateAssets: true });
    browser = await launchBrowser();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
  });

  async function post(token: string, events: Record<string, unknown>[]): Promise<void> {
    const res = await fetch(`${worker.url}/v1/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ events }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
  }

  const fix = (lat: number, lng: number, extra: Record<string, unknown> = {}) => ({
    id: crypto.randomUUID(), type: "location", at: Date.now(), lat, lng, accuracy: 8, ...extra,
  });

  async function newPage(): Promise<Page> {
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on("pageerror", (err) => console.error("page error:", err.message));
    return page;
  }

  /** Open the map as a manager of `team` on the offline basemap; resolves once the first snapshot is drawn. */
  async function openMap(team: string, query = "?style=none"): Promise<Page> {
    const page = await newPage();
    const token = await tokenFor(worker.plan, team, "manager", "mgr-1", "Maria Manager");
    await page.goto(`${worker.url}/map/${query}#token=${token}`);
    await page.waitForFunction(() => document.body.dataset.connection === "open" && document.body.dataset.map === "ready" && Number(document.body.dataset.snapshots) >= 1, undefined, { timeout: MAP_READY_MS });
    return page;
  }

  /** Which users the people layer has drawn at the pixel where `lngLat` is now. */
  function drawnAt(page: Page, lngLat: [number, number]): Promise<string[]> {
    return page.evaluate((at) => {
      const map = window.__map!;
      return map.queryRenderedFeatures(map.project(at), { layers: ["people-circle"] }).map((f) => String(f.properties.userId));
    }, lngLat);
  }

  async function waitDrawnAt(page: Page, lngLat: [number, number], userId: string, present = true): Promise<void> {
    await page.waitForFunction(
      ({ at, userId, present }) => {
        const map = window.__map!;
        const hit = map.queryRenderedFeatures(map.project(at), { layers: ["people-circle"] }).some((f) => f.properties.userId === userId);
        return hit === present;
      },
      { at: lngLat, userId, present },
      { timeout: FRAME_MS },
    );
  }

  it("shows three people by status, moves one, draws a knock, and tells all about a person in a popup", async () => {
    const team = newTeam();
    const page = await openMap(team);
    // The token came in the fragment: it is kept for the tab and gone from the address bar.
    expect(await page.evaluate(() => location.hash)).toBe("");
    expect(await page.evaluate(() => sessionStorage.getItem("fieldpulse.map.token"))).toMatch(/^ey/);
    expect(await page.locator("body").getAttribute("data-people")).toBe("0");

    const ann = await tokenFor(worker.plan, team, "field", "ann", "Ann Live");
    const ben = await tokenFor(worker.plan, team, "field", "ben", "Ben Stale");
    const cat = await tokenFor(worker.plan, team, "field", "cat");
    const now = Date.now();
    await post(ann, [fix(HOME.lat, HOME.lng, { speed: 5, battery: 0.8 })]);
    await post(ben, [fix(HOME.lat, HOME.lng + 0.004, { at: now - 2 * 60_000 })]);
    await post(cat, [fix(HOME.lat, HOME.lng - 0.004, { at: now - 15 * 60_000 })]);

    await page.waitForFunction(() => document.body.dataset.people === "3", undefined, { timeout: FRAME_MS });
    const people = await page.evaluate(() => window.__fieldpulseMap!.people().map((p) => ({ userId: p.userId, label: p.label, status: p.status })));
    expect(people).toEqual([
      { userId: "ann", label: "Ann Live", status: "live" },
      { userId: "ben", label: "Ben Stale", status: "stale" },
      // No name in cat's token: the map labels her by user id.
      { userId: "cat", label: "cat", status: "offline" },
    ]);
    expect(await page.locator("body").evaluate((b) => [b.dataset.live, b.dataset.stale, b.dataset.offline])).toEqual(["1", "1", "1"]);
    // The side panel: status, then name; "last seen" in words.
    expect(await page.locator("#people-list li .person-name").allTextContents()).toEqual(["Ann Live", "Ben Stale", "cat"]);
    expect(await page.locator('#people-list li[data-user-id="ben"]').getAttribute("data-status")).toBe("stale");
    expect(await page.locator('#people-list li[data-user-id="ben"] .person-seen').textContent()).toMatch(/last seen 2 min ago/);
    expect(await page.locator('#people-list li[data-user-id="cat"] .person-seen').textContent()).toMatch(/last seen 15 min ago/);

    // All three drawn on the map (the view follows the team to them), with their labels.
    for (const [userId, lng] of [["ann", HOME.lng], ["ben", HOME.lng + 0.004], ["cat", HOME.lng - 0.004]] as const) {
      await waitDrawnAt(page, [lng, HOME.lat], userId);
    }
    await page.waitForFunction(() => {
      const map = window.__map!;
      const labels = new Set(map.queryRenderedFeatures({ layers: ["people-label"] }).map((f) => f.properties.label));
      return ["Ann Live", "Ben Stale", "cat"].every((l) => labels.has(l));
    }, undefined, { timeout: FRAME_MS });

    // Ann walks ~110 m north: the dot leaves her old spot and appears at the new one.
    await page.waitForFunction(() => !window.__map!.isMoving(), undefined, { timeout: FRAME_MS });
    const before = await page.evaluate((at) => window.__map!.project(at), [HOME.lng, HOME.lat] as [number, number]);
    await post(ann, [fix(HOME.lat + 0.001, HOME.lng, { speed: 5, battery: 0.79 })]);
    await waitDrawnAt(page, [HOME.lng, HOME.lat + 0.001], "ann");
    await waitDrawnAt(page, [HOME.lng, HOME.lat], "ann", false);
    const after = await page.evaluate((at) => window.__map!.project(at), [HOME.lng, HOME.lat + 0.001] as [number, number]);
    expect(after.y).toBeLessThan(before.y - 20);
    expect(Math.abs(after.x - before.x)).toBeLessThan(1);
    // Her trail is drawn, from the old spot to the new (trails redraw once a second).
    await page.waitForFunction(
      () => window.__map!.queryRenderedFeatures({ layers: ["trails-line"] }).some((f) => f.properties.userId === "ann"),
      undefined,
      { timeout: FRAME_MS },
    );

    // A knock appears in the knock layer with its outcome, a lead in the lead layer.
    const knockId = crypto.randomUUID();
    const leadId = crypto.randomUUID();
    await post(ann, [
      { id: knockId, type: "knock", at: Date.now(), lat: HOME.lat + 0.0004, lng: HOME.lng + 0.0015, outcome: "interested", address: "Torstraße 1" },
      { id: leadId, type: "lead", at: Date.now(), name: "Erika Muster", lat: HOME.lat - 0.0005, lng: HOME.lng + 0.0012, interest: "hot" },
    ]);
    await page.waitForFunction(
      (id) => window.__map!.queryRenderedFeatures({ layers: ["knocks-circle"] }).some((f) => f.properties.id === id && f.properties.outcome === "interested"),
      knockId,
      { timeout: FRAME_MS },
    );
    await page.waitForFunction(
      (id) => window.__map!.queryRenderedFeatures({ layers: ["leads-circle"] }).some((f) => f.properties.id === id && f.properties.interest === "hot"),
      leadId,
      { timeout: FRAME_MS },
    );
    expect(await page.locator("body").evaluate((b) => [b.dataset.knocks, b.dataset.leads])).toEqual(["1", "1"]);

    // Click Ann: the popup tells her last fix, speed, battery and knocks today.
    await page.waitForFunction(() => !window.__map!.isMoving(), undefined, { timeout: FRAME_MS });
    const box = (await page.locator("#map canvas").boundingBox())!;
    const at = await page.evaluate((p) => window.__map!.project(p), [HOME.lng, HOME.lat + 0.001] as [number, number]);
    await page.mouse.click(box.x + at.x, box.y + at.y);
    const popup = page.locator(".maplibregl-popup .popup");
    await popup.waitFor({ timeout: FRAME_MS });
    expect(await popup.getAttribute("data-user-id")).toBe("ann");
    const facts = await popup.locator("dl").evaluate((dl) =>
      Object.fromEntries([...dl.querySelectorAll("dt")].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent ?? ""])),
    );
    expect(facts).toMatchObject({ Status: "live", Speed: "18 km/h", Battery: "79 %", "Knocks today": "1", Accuracy: "± 8 m" });
    expect(facts["Last fix"]).toMatch(/ago|just now/);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "map.png") });
  });

  it("shows the write pipeline breathe: arrivals, then the flush the cron runs", async () => {
    const team = newTeam();
    const page = await openMap(team);
    await page.waitForFunction(() => document.querySelector("#q-flush")?.textContent === "not yet", undefined, { timeout: FRAME_MS });
    const dan = await tokenFor(worker.plan, team, "field", "dan", "Dan");
    await post(dan, [fix(HOME.lat, HOME.lng), fix(HOME.lat, HOME.lng + 0.0001), fix(HOME.lat, HOME.lng + 0.0002)]);
    // The hub reports its queue as rows arrive (at most once a second), not only after a flush.
    await page.waitForFunction(() => document.querySelector<HTMLElement>("#queue")!.dataset.depth === "3", undefined, { timeout: FRAME_MS });

    const cron = await fetch(`${worker.url}/__scheduled?cron=*+*+*+*+*`);
    expect(cron.status).toBe(200);
    await page.waitForFunction(() => {
      const q = document.querySelector<HTMLElement>("#queue")!.dataset;
      return q.lastFlushRows === "3" && q.depth === "0" && q.lastFlushAt !== "";
    }, undefined, { timeout: FRAME_MS });
    expect(await page.locator("#q-flush").textContent()).toMatch(/(just now|s ago) · 3 rows/);
    expect(await page.locator("#q-depth").textContent()).toMatch(/^0 rows · reported/);
    expect(await page.locator("#q-arrived").textContent()).toBe("0 events");
    expect(await page.locator("#q-failures").textContent()).toBe("none");
    expect(await page.evaluate(() => window.__fieldpulseMap!.queue()?.lastFlushRows)).toBe(3);
  });

  it("reconnects by itself after the socket drops, and redraws from a fresh snapshot", async () => {
    const team = newTeam();
    const page = await openMap(team);
    const eve = await tokenFor(worker.plan, team, "field", "eve", "Eve");
    await post(eve, [fix(HOME.lat, HOME.lng)]);
    await page.waitForFunction(() => document.body.dataset.people === "1", undefined, { timeout: FRAME_MS });
    expect(await page.evaluate(() => [window.__fieldpulseMap!.connectionInfo()!.opened, window.__fieldpulseMap!.frames()!.snapshot])).toEqual([1, 1]);

    await page.evaluate(() => window.__fieldpulseMap!.dropConnection());
    await page.waitForFunction(() => {
      const h = window.__fieldpulseMap!;
      return h.connection === "open" && h.connectionInfo()!.opened === 2 && h.frames()!.snapshot === 2;
    }, undefined, { timeout: FRAME_MS });
    // The fresh snapshot holds Eve; the new socket carries new fixes.
    expect(await page.evaluate(() => window.__fieldpulseMap!.people().map((p) => p.userId))).toEqual(["eve"]);
    await post(eve, [fix(HOME.lat + 0.002, HOME.lng)]);
    await page.waitForFunction((lat) => Math.abs((window.__fieldpulseMap!.people()[0]?.lat ?? 0) - lat) < 1e-9, HOME.lat + 0.002, { timeout: FRAME_MS });
    await waitDrawnAt(page, [HOME.lng, HOME.lat + 0.002], "eve");
    expect(await page.locator("#conn").getAttribute("data-state")).toBe("open");

    // On a portrait tablet the panel goes under the map, and the map still draws Eve.
    await page.setViewportSize({ width: 820, height: 1180 });
    await waitDrawnAt(page, [HOME.lng, HOME.lat + 0.002], "eve");
    await page.waitForFunction(
      () => window.__map!.queryRenderedFeatures({ layers: ["trails-line"] }).some((f) => f.properties.userId === "eve"),
      undefined,
      { timeout: FRAME_MS },
    );
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "map-tablet.png") });
  });

  it("draws on the plain background when the basemap style cannot be fetched", async () => {
    const team = newTeam();
    // A closed local port: the style fetch fails at once, and nothing leaves the machine.
    const dead = `http://127.0.0.1:${await freePort()}/style.json`;
    const page = await openMap(team, `?style=${encodeURIComponent(dead)}`);
    await page.waitForFunction(() => document.body.dataset.basemap === "offline", undefined, { timeout: MAP_READY_MS });
    expect(await page.locator("#basemap-note").textContent()).toMatch(/basemap unavailable/);
    await post(await tokenFor(worker.plan, team, "field", "fay", "Fay"), [fix(HOME.lat, HOME.lng)]);
    await waitDrawnAt(page, [HOME.lng, HOME.lat], "fay");
    // Once the view has settled on her, she is the one thing drawn there.
    await page.waitForFunction(() => !window.__map!.isMoving() && window.__map!.areTilesLoaded(), undefined, { timeout: FRAME_MS });
    await waitDrawnAt(page, [HOME.lng, HOME.lat], "fay");
    expect(await drawnAt(page, [HOME.lng, HOME.lat])).toEqual(["fay"]);
  });

  it("signs in with the form, and sends a refused token back to it with a message", async () => {
    const team = newTeam();
    const page = await newPage();
    await page.goto(`${worker.url}/map/?style=none`);
    await page.waitForFunction(() => document.body.dataset.view === "login", undefined, { timeout: FRAME_MS });

    // A canvasser's token is turned away before any connection.
    await page.fill("#login-token", await tokenFor(worker.plan, team, "field", "gus"));
    await page.click("#login-form button[type=submit]");
    expect(await page.locator("#login-error").textContent()).toMatch(/canvasser's token/);

    // Well-formed but not signed by this server: the socket is refused (401) and the page says so.
    const forged = await signToken({ team, sub: "mgr-x", role: "manager" }, "not-the-secret");
    await page.fill("#login-token", forged);
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() => document.body.dataset.view === "login" && !document.querySelector<HTMLElement>("#login-error")!.hidden, undefined, { timeout: FRAME_MS });
    expect(await page.locator("#login-error").textContent()).toMatch(/expired or is no longer valid/);
    expect(await page.evaluate(() => sessionStorage.getItem("fieldpulse.map.token"))).toBeNull();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "map-login.png") });

    // An expired token is caught by the page itself.
    await page.fill("#login-token", await signToken({ team, sub: "mgr-1", role: "manager", ttlSeconds: -60 }, worker.plan.authSecret));
    await page.click("#login-form button[type=submit]");
    expect(await page.locator("#login-error").textContent()).toMatch(/expired/);

    await page.fill("#login-token", await tokenFor(worker.plan, team, "manager", "mgr-1", "Maria Manager"));
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() => document.body.dataset.connection === "open" && document.body.dataset.map === "ready", undefined, { timeout: MAP_READY_MS });
    expect(await page.locator("#who").textContent()).toBe("Maria Manager");
    expect(await page.locator("#team").textContent()).toBe(team);
  });
});
