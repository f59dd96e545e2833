import fs from "node:fs";
import path from "node:path";
import type { Map as MapLibreMap } from "maplibre-gl";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/net.ts";
import { signToken } from "../../protocol/auth.ts";
import type { MapHooks } from "../../web/map/hooks.ts";
import { ARTIFACTS, launchBrowser, newTeam, query, startWorkerWith, tokenFor, waitFor, type RunningWorker } from "./harness.ts";

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
  async function openMap(team: string, query = "?style=none", role: "manager" | "admin" = "manager"): Promise<Page> {
    const page = await newPage();
    const token = await tokenFor(worker.plan, team, role, "mgr-1", "Maria Manager");
    await page.goto(`${worker.url}/map/${query}#token=${token}`);
    await page.waitForFunction(() => document.body.dataset.connection === "open" && document.body.dataset.map === "ready" && Number(document.body.dataset.snapshots) >= 1, undefined, { timeout: MAP_READY_MS });
    return page;
  }

  /** A manager's map in another tab of the same browser context (closed with it). */
  async function openManagerBeside(team: string): Promise<Page> {
    const page = await context!.newPage();
    const token = await tokenFor(worker.plan, team, "manager", "mgr-2", "Mo Manager");
    await page.goto(`${worker.url}/map/?style=none#token=${token}`);
    await page.waitForFunction(() => document.body.dataset.connection === "open" && Number(document.body.dataset.snapshots) >= 1, undefined, { timeout: MAP_READY_MS });
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

  it("shows people by status (offline hidden until asked), moves one, filters what is drawn, and tells all in a popup", async () => {
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
    // Offline people are hidden by default, on the map and in the list; the counts still say how many.
    expect(await page.locator("#people-list li:visible .person-name").allTextContents()).toEqual(["Ann Live", "Ben Stale"]);
    expect(await page.locator("#count-offline").textContent()).toBe("1");
    // The heading counts the rows shown.
    expect(await page.locator("#people-total").textContent()).toBe("2 of 3");
    expect(await page.locator('#people-list li[data-user-id="ben"] .person-seen').textContent()).toMatch(/last seen 2 min ago/);
    for (const [userId, lng] of [["ann", HOME.lng], ["ben", HOME.lng + 0.004]] as const) await waitDrawnAt(page, [lng, HOME.lat], userId);
    await page.waitForFunction(() => !window.__map!.isMoving(), undefined, { timeout: FRAME_MS });
    expect(await drawnAt(page, [HOME.lng - 0.004, HOME.lat])).toEqual([]);

    // The toggle shows her.
    await page.getByLabel("Offline", { exact: true }).check();
    await waitDrawnAt(page, [HOME.lng - 0.004, HOME.lat], "cat");
    expect(await page.locator("#people-total").textContent()).toBe("3");
    expect(await page.locator("#people-list li:visible .person-name").allTextContents()).toEqual(["Ann Live", "Ben Stale", "cat"]);
    expect(await page.locator('#people-list li[data-user-id="cat"] .person-seen').textContent()).toMatch(/last seen 15 min ago/);
    await page.waitForFunction(() => {
      const map = window.__map!;
      const labels = new Set(map.queryRenderedFeatures({ layers: ["people-label"] }).map((f) => f.properties.label));
      return ["Ann Live", "Ben Stale", "cat"].every((l) => labels.has(l));
    }, undefined, { timeout: FRAME_MS });

    // Ann walks ~110 m north: the dot leaves her old spot and appears at the new one — sent as a diff.
    await page.waitForFunction(() => !window.__map!.isMoving(), undefined, { timeout: FRAME_MS });
    const before = await page.evaluate((at) => window.__map!.project(at), [HOME.lng, HOME.lat] as [number, number]);
    const sentBefore = await page.evaluate(() => window.__fieldpulseMap!.peopleUpdates()!);
    await post(ann, [fix(HOME.lat + 0.001, HOME.lng, { speed: 5, battery: 0.79 })]);
    await waitDrawnAt(page, [HOME.lng, HOME.lat + 0.001], "ann");
    await waitDrawnAt(page, [HOME.lng, HOME.lat], "ann", false);
    const sentAfter = await page.evaluate(() => window.__fieldpulseMap!.peopleUpdates()!);
    expect(sentAfter.full).toBe(sentBefore.full);
    expect(sentAfter.diffs).toBeGreaterThan(sentBefore.diffs);
    const after = await page.evaluate((at) => window.__map!.project(at), [HOME.lng, HOME.lat + 0.001] as [number, number]);
    expect(after.y).toBeLessThan(before.y - 20);
    expect(Math.abs(after.x - before.x)).toBeLessThan(1);
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
      { id: leadId, type: "lead", at: Date.now(), name: "Erika Muster", lat: HOME.lat - 0.0005, lng: HOME.lng + 0.0012, interest: "hot", phone: "+49 30 1234567" },
    ]);
    const knockDrawn = (present: boolean) =>
      page.waitForFunction(
        ({ id, present }) => window.__map!.queryRenderedFeatures({ layers: ["knocks-circle"] }).some((f) => f.properties.id === id && f.properties.outcome === "interested") === present,
        { id: knockId, present },
        { timeout: FRAME_MS },
      );
    await knockDrawn(true);
    await page.waitForFunction(
      (id) => window.__map!.queryRenderedFeatures({ layers: ["leads-circle"] }).some((f) => f.properties.id === id && f.properties.interest === "hot"),
      leadId,
      { timeout: FRAME_MS },
    );
    expect(await page.locator("body").evaluate((b) => [b.dataset.knocks, b.dataset.leads])).toEqual(["1", "1"]);

    // Filters change what is drawn: no "interested" knocks; no stale people.
    await page.locator("#filters summary").click();
    await page.getByLabel("Interested", { exact: true }).uncheck();
    await knockDrawn(false);
    await page.getByLabel("Interested", { exact: true }).check();
    await knockDrawn(true);
    await page.getByLabel("Stale", { exact: true }).uncheck();
    await waitDrawnAt(page, [HOME.lng + 0.004, HOME.lat], "ben", false);
    await page.getByLabel("Stale", { exact: true }).check();
    await waitDrawnAt(page, [HOME.lng + 0.004, HOME.lat], "ben");

    // Click Ann: the popup tells her last fix, speed, battery and knocks of the last 24 hours.
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
    expect(facts).toMatchObject({ Status: "live", Speed: "18 km/h", Battery: "79 %", "Knocks (24 h)": "1", Accuracy: "± 8 m" });
    expect(facts["Last fix"]).toMatch(/ago|just now/);

    // Keyboard: a person's row opens them on the map.
    const benRow = page.locator('#people-list li[data-user-id="ben"]');
    await benRow.waitFor({ state: "visible", timeout: FRAME_MS });
    await benRow.press("Enter");
    await page
      .waitForFunction(() => document.querySelector<HTMLElement>(".maplibregl-popup .popup")?.dataset.userId === "ben", undefined, { timeout: FRAME_MS })
      .catch(async (err: unknown) => {
        const seen = await page.evaluate(() => ({
          popup: document.querySelector<HTMLElement>(".maplibregl-popup .popup")?.dataset.userId ?? null,
          focused: document.activeElement?.outerHTML.slice(0, 120) ?? null,
          ben: document.querySelector<HTMLElement>('#people-list li[data-user-id="ben"]')?.outerHTML.slice(0, 200) ?? null,
        }));
        throw new Error(`Ben's popup did not open from the keyboard: ${JSON.stringify(seen)} (${String(err)})`);
      });

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "map-desktop.png") });
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
    // Plain words, no error text or address.
    expect(await page.locator("#basemap-note").textContent()).toBe("Basemap unavailable — showing a plain map");
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
    // A manager is told to open the link their admin sent, not to run a command.
    const words = await page.locator("#login").innerText();
    expect(words).toMatch(/Open the sign-in link your admin sent you/);
    expect(words).not.toMatch(/npm|token --/);
    await page.locator(".login-paste summary").click();

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
    expect(await page.locator("#login-error").textContent()).not.toMatch(/https?:|Error|\(/);
    expect(await page.evaluate(() => sessionStorage.getItem("fieldpulse.map.token"))).toBeNull();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "map-login.png") });

    // An expired token is caught by the page itself.
    await page.fill("#login-token", await signToken({ team, sub: "mgr-1", role: "manager", ttlSeconds: -60 }, worker.plan.authSecret));
    await page.click("#login-form button[type=submit]");
    expect(await page.locator("#login-error").textContent()).toMatch(/expired/);

    if (!(await page.locator("#login-token").isVisible())) await page.locator(".login-paste summary").click();
    await page.fill("#login-token", await tokenFor(worker.plan, team, "manager", "mgr-1", "Maria Manager"));
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() => document.body.dataset.connection === "open" && document.body.dataset.map === "ready", undefined, { timeout: MAP_READY_MS });
    expect(await page.locator("#who").textContent()).toBe("Maria Manager");
    expect(await page.locator("#team").textContent()).toBe(team);
  });
  it("says when the manager is the one offline, within 10 s, freezes people greyed as last known, and resumes from a fresh snapshot", async () => {
    const team = newTeam();
    const page = await openMap(team);
    // Olive's last fix is 50 s old: live now, stale in 10 s — unless the page lies about its own outage.
    const fixAt = Date.now() - 50_000;
    await post(await tokenFor(worker.plan, team, "field", "olive", "Olive"), [fix(HOME.lat, HOME.lng, { at: fixAt })]);
    await waitDrawnAt(page, [HOME.lng, HOME.lat], "olive");
    expect(await page.locator("#conn-text").textContent()).toBe("Live");
    // Only the state sentence is a live region; the ticking "last update" is not.
    expect(await page.locator("#conn-text").getAttribute("aria-live")).toBe("polite");
    expect(await page.locator("#conn-detail").getAttribute("aria-live")).toBeNull();

    const cutAt = Date.now();
    await context!.setOffline(true);
    await page.waitForFunction(() => document.querySelector<HTMLElement>("#conn")!.dataset.state === "disconnected", undefined, { timeout: 10_000 });
    expect(Date.now() - cutAt).toBeLessThan(10_000);
    expect(await page.locator("#conn-text").textContent()).toMatch(/^Disconnected since \d{1,2}[:.]\d{2}( [AP]M)? — reconnecting$/);
    expect(await page.locator("body").getAttribute("data-frozen")).toBe("true");

    // Past the moment she would have turned stale: still live, as last known, and drawn greyed.
    await page.waitForFunction((t) => Date.now() > t + 62_000, fixAt, { timeout: 30_000, polling: 500 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
    expect(await page.evaluate(() => window.__fieldpulseMap!.people().map((p) => p.status))).toEqual(["live"]);
    expect(await page.locator("body").evaluate((b) => [b.dataset.live, b.dataset.stale])).toEqual(["1", "0"]);
    expect(await page.evaluate(() => window.__map!.getPaintProperty("people-circle", "circle-opacity"))).toBe(0.4);
    const drawnStatus = await page.evaluate((at) => window.__map!.queryRenderedFeatures(window.__map!.project(at), { layers: ["people-circle"] }).map((f) => f.properties.status), [HOME.lng, HOME.lat] as [number, number]);
    expect(drawnStatus).toEqual(["live"]);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "map-offline.png") });

    // Back online: a fresh snapshot, and now the truth — she is stale.
    await context!.setOffline(false);
    await page.waitForFunction(() => document.body.dataset.frozen === "false" && document.body.dataset.connection === "open", undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => window.__fieldpulseMap!.frames()!.snapshot)).toBeGreaterThanOrEqual(2);
    expect(await page.evaluate(() => window.__fieldpulseMap!.people().map((p) => p.status))).toEqual(["stale"]);
    expect(await page.locator("#conn-text").textContent()).toBe("Live");
    expect(await page.evaluate(() => window.__map!.getPaintProperty("people-circle", "circle-opacity"))).toBe(1);
  }, 120_000);

  it("on a phone (390×844): map, status bar and a bottom sheet whose people and leads lists show and scroll", async () => {
    const team = newTeam();
    const manager = await tokenFor(worker.plan, team, "manager", "mgr-1", "Maria Manager");
    // Thirty people and twenty leads: more than a phone's sheet holds.
    await Promise.all(Array.from({ length: 30 }, async (_, i) =>
      post(await tokenFor(worker.plan, team, "field", `p${i}`, `Person ${i}`), [fix(HOME.lat + (i % 6) * 0.001, HOME.lng + Math.floor(i / 6) * 0.001)])));
    await post(await tokenFor(worker.plan, team, "field", "p0", "Person 0"), Array.from({ length: 20 }, (_, i) => ({
      id: crypto.randomUUID(), type: "lead", at: Date.now() - i * 1000, name: `Lead ${i}`, phone: `+49 30 ${1000 + i}`, interest: "warm",
    })));
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    page.on("pageerror", (err) => console.error("page error:", err.message));
    await page.goto(`${worker.url}/map/?style=none#token=${manager}`);
    await page.waitForFunction(() => document.body.dataset.connection === "open" && document.body.dataset.map === "ready" && document.body.dataset.people === "30" && document.body.dataset.leads === "20", undefined, { timeout: MAP_READY_MS });

    const box = async (sel: string) => (await page.locator(sel).boundingBox())!;
    const [bar, map, panel] = [await box(".bar"), await box("#map"), await box(".panel")];
    expect(map.height).toBeGreaterThan(250);
    expect(bar.y + bar.height).toBeLessThanOrEqual(map.y + 1);
    expect(map.y + map.height).toBeLessThanOrEqual(panel.y + 1);
    expect(panel.y + panel.height).toBeLessThanOrEqual(844 + 1);
    // Touch targets: 44 px.
    for (const sel of ["#sign-out", "#tab-people", "#tab-leads", '#people-list li[data-user-id="p0"]']) expect((await box(sel)).height, sel).toBeGreaterThanOrEqual(44);

    const scrolls = (sel: string) =>
      page.locator(sel).evaluate((el) => {
        const before = el.scrollTop;
        el.scrollTop = el.scrollHeight;
        return { overflow: el.scrollHeight > el.clientHeight + 10, moved: el.scrollTop > before, height: el.clientHeight };
      });
    await expect.poll(() => page.locator("#people-list li:visible").count()).toBe(30);
    const people = await scrolls("#pane-people");
    expect(people).toMatchObject({ overflow: true, moved: true });
    expect(people.height).toBeGreaterThan(150);
    // The last person is reachable by scrolling, and visible when there.
    await page.locator("#people-list li:visible").last().scrollIntoViewIfNeeded();
    expect(await page.locator("#people-list li:visible").last().isVisible()).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, "map-phone.png") });

    await page.locator("#tab-leads").tap();
    await page.waitForFunction(() => !document.querySelector<HTMLElement>("#pane-leads")!.hidden, undefined, { timeout: FRAME_MS });
    expect(await page.locator("#leads-list li").count()).toBe(20);
    expect(await page.locator("#leads-list li").first().isVisible()).toBe(true);
    expect(await scrolls("#pane-leads")).toMatchObject({ overflow: true, moved: true });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "map-phone-leads.png") });
  });

  // Waits on the server: snapshot knocksTotal/knockCounts (and GET /v1/knocks for the part past 5,000).
  it("counts every knock of the day — 5,600 of them, past the snapshot's 5,000 — and draws them all", async () => {
    const team = newTeam();
    const kim = await tokenFor(worker.plan, team, "field", "kim", "Kim");
    await post(kim, [fix(HOME.lat, HOME.lng)]);
    const total = 5_600;
    const start = Date.now() - 3 * 3_600_000;
    for (let batch = 0; batch < total / 400; batch++) {
      await post(kim, Array.from({ length: 400 }, (_, j) => {
        const i = batch * 400 + j;
        return { id: crypto.randomUUID(), type: "knock", at: start + i * 1_000, lat: HOME.lat + (i % 80) * 0.0001, lng: HOME.lng + Math.floor(i / 80) * 0.0001, outcome: i % 2 ? "no_answer" : "interested" };
      }));
    }
    const page = await openMap(team);
    await page.waitForFunction((n) => Number(document.body.dataset.knocksTotal) === n && Number(document.body.dataset.knocks) === n, total, { timeout: 30_000 });
    expect(await page.evaluate(() => window.__fieldpulseMap!.knockCount("kim"))).toBe(total);
    expect(await page.locator("#knocks-line").textContent()).toMatch(/^5.600 knocks in the last 24 hours$/);
    await page.locator('#people-list li[data-user-id="kim"]').click();
    const facts = await page.locator(".maplibregl-popup .popup dl").evaluate((dl) =>
      Object.fromEntries([...dl.querySelectorAll("dt")].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent ?? ""])),
    );
    expect(facts["Knocks (24 h)"]).toMatch(/^5.600$/);
  });

  // Waits on the server: the unknock frame.
  it("lists knocks for the keyboard (Enter opens one on the map, filters apply) and removes an undone knock from the map, list and counts", async () => {
    const team = newTeam();
    const page = await openMap(team);
    const uma = await tokenFor(worker.plan, team, "field", "uma", "Uma");
    const knockId = crypto.randomUUID();
    const noFixId = crypto.randomUUID();
    await post(uma, [
      fix(HOME.lat, HOME.lng),
      { id: knockId, type: "knock", at: Date.now() - 1_000, lat: HOME.lat + 0.0003, lng: HOME.lng, outcome: "interested", address: "Torstraße 5" },
      // Newer, and without a position: listed first, saying so, with nothing to press.
      { id: noFixId, type: "knock", at: Date.now(), outcome: "no_answer", address: "Linienstraße 7" },
    ]);
    const drawn = (present: boolean) =>
      page.waitForFunction(
        ({ id, present }) => window.__map!.queryRenderedFeatures({ layers: ["knocks-circle"] }).some((f) => f.properties.id === id) === present,
        { id: knockId, present },
        { timeout: FRAME_MS },
      );
    await drawn(true);
    expect(await page.evaluate(() => window.__fieldpulseMap!.knockCount("uma"))).toBe(2);

    // The knocks list: newest first, outcome, address (or none), who.
    await page.locator("#tab-knocks").click();
    const rowIds = () => page.locator("#knocks-list li").evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.knockId));
    await expect.poll(rowIds, { timeout: FRAME_MS }).toEqual([noFixId, knockId]);
    const noFix = page.locator(`#knocks-list li[data-knock-id="${noFixId}"]`);
    expect(await noFix.getAttribute("data-positioned")).toBe("false");
    expect(await noFix.locator("button").count()).toBe(0);
    expect(await noFix.locator(".knock-where").textContent()).toMatch(/No position/);
    expect(await noFix.locator(".knock-outcome").textContent()).toBe("No answer");
    const open = page.locator(`#knocks-list li[data-knock-id="${knockId}"] button`);
    expect(await open.getAttribute("aria-label")).toMatch(/^Interested, Torstraße 5, by Uma at .+, show on map$/);
    expect(await open.locator(".knock-by").textContent()).toMatch(/^Uma · /);

    // Keyboard: Enter on the row flies to the knock and opens its popup.
    await open.waitFor({ state: "visible", timeout: FRAME_MS });
    await open.press("Enter");
    await page.waitForFunction((id) => document.querySelector<HTMLElement>(".maplibregl-popup .popup")?.dataset.knockId === id, knockId, { timeout: FRAME_MS });
    expect(await page.locator(".maplibregl-popup .popup").innerText()).toMatch(/Torstraße 5/);
    await page.waitForFunction(() => !window.__map!.isMoving(), undefined, { timeout: FRAME_MS });
    const c = await page.evaluate(() => window.__map!.getCenter());
    expect(Math.abs(c.lat - (HOME.lat + 0.0003))).toBeLessThan(1e-4);

    // The filters head the Knocks tab too: from there the outcome filter hides a knock from the list as from the map.
    expect(await page.locator("#filters").isVisible()).toBe(true);
    await page.locator("#filters summary").click();
    await page.getByLabel("No answer", { exact: true }).uncheck();
    expect(await page.locator("#pane-knocks").isVisible()).toBe(true);
    await expect.poll(rowIds, { timeout: FRAME_MS }).toEqual([knockId]);
    expect(await page.locator("#knocks-total").textContent()).toBe("1");

    // What the field app sends on "Undo".
    await post(uma, [{ id: crypto.randomUUID(), type: "activity", at: Date.now(), kind: "knock_undo", meta: { knockId, outcome: "interested" } }]);
    await drawn(false);
    await expect.poll(rowIds, { timeout: FRAME_MS }).toEqual([]);
    expect(await page.locator("#knocks-empty").isVisible()).toBe(true);
    expect(await page.evaluate(() => [window.__fieldpulseMap!.knockCount("uma"), window.__fieldpulseMap!.knocksTotal, window.__fieldpulseMap!.knocks().length])).toEqual([1, 1, 1]);
  });

  it("draws at most 200 knock rows, with Show more for the rest", async () => {
    const team = newTeam();
    const ida = await tokenFor(worker.plan, team, "field", "ida", "Ida");
    const start = Date.now() - 3_600_000;
    await post(ida, Array.from({ length: 250 }, (_, i) => ({
      id: crypto.randomUUID(), type: "knock", at: start + i * 1_000, lat: HOME.lat + (i % 20) * 0.0001, lng: HOME.lng + Math.floor(i / 20) * 0.0001, outcome: "callback",
    })));
    const page = await openMap(team);
    await page.waitForFunction(() => document.body.dataset.knocks === "250", undefined, { timeout: FRAME_MS });
    // The tab's count is there before the tab is opened.
    await expect.poll(() => page.locator("#knocks-total").textContent(), { timeout: FRAME_MS }).toBe("250");
    // Five tabs in a narrow panel: the tab bar scrolls, never the panel (it slid sideways once).
    await page.locator("#tab-pipeline").click();
    expect(await page.locator(".panel").evaluate((el) => el.scrollLeft)).toBe(0);
    await page.locator("#tab-knocks").click();
    await expect.poll(() => page.locator("#knocks-list li").count(), { timeout: FRAME_MS }).toBe(200);
    const more = page.locator("#knocks-more");
    expect(await more.textContent()).toMatch(/^Show 50 more \(50 not shown\)$/);
    // Keyboard focus stays on the knock it was on when the list is rebuilt.
    const newest = page.locator("#knocks-list li button").first();
    await newest.focus();
    const focusedId = await newest.evaluate((b) => b.closest("li")!.dataset.knockId);
    await more.click();
    await expect.poll(() => page.locator("#knocks-list li").count(), { timeout: FRAME_MS }).toBe(250);
    expect(await more.isHidden()).toBe(true);
    await newest.focus();
    await post(ida, [{ id: crypto.randomUUID(), type: "knock", at: Date.now(), lat: HOME.lat, lng: HOME.lng, outcome: "other" }]);
    await expect.poll(() => page.locator("#knocks-list li").count(), { timeout: FRAME_MS }).toBe(251);
    expect(await page.evaluate(() => (document.activeElement?.closest("li") as HTMLElement | null)?.dataset.knockId)).toBe(focusedId);
  });

  // The control server is the dialer (a real receiver that verifies signatures); a test scripts its answers.
  it("lets an admin send a lead the dialer refused again: Stopped → Send again → Delivered, a manager sees no button", async () => {
    const team = newTeam();
    const control = `http://127.0.0.1:${worker.plan.controlPort}`;
    const lead = crypto.randomUUID();
    // The dialer answers 410 (stop: do not retry) once, then takes it.
    await fetch(`${control}/dialer/script`, { method: "POST", body: JSON.stringify({ leadId: lead, statuses: [410], otherwise: 204 }) });
    const page = await openMap(team, "?style=none", "admin");
    const manager = await openManagerBeside(team);
    await post(await tokenFor(worker.plan, team, "field", "uma", "Uma"), [
      { id: lead, type: "lead", at: Date.now(), name: "Refused Rita", phone: "+49 30 5550111", interest: "hot", address: "Torstraße 1" },
    ]);
    await page.locator("#tab-leads").click();
    const row = page.locator(`#leads-list li[data-lead-id="${lead}"]`);
    await page.waitForFunction((id) => document.querySelector<HTMLElement>(`#leads-list li[data-lead-id="${id}"]`)?.dataset.dialer === "stopped", lead, { timeout: FRAME_MS });
    expect(await row.locator(".lead-dialer").textContent()).toMatch(/^Stopped/);
    // A manager reads the same status but may not resend (admin only).
    await manager.locator("#tab-leads").click();
    await manager.waitForFunction((id) => document.querySelector<HTMLElement>(`#leads-list li[data-lead-id="${id}"]`)?.dataset.dialer === "stopped", lead, { timeout: FRAME_MS });
    expect(await manager.locator(`#leads-list li[data-lead-id="${lead}"] .lead-redeliver`).count()).toBe(0);

    await row.locator(".lead-redeliver").click();
    await page.waitForFunction((id) => document.querySelector<HTMLElement>(`#leads-list li[data-lead-id="${id}"]`)?.dataset.dialer === "delivered", lead, { timeout: FRAME_MS });
    expect(await row.locator(".lead-dialer").textContent()).toMatch(/^Delivered/);
    expect(await row.locator(".lead-note").textContent()).toBe("Queued to send again.");
    expect(await row.locator(".lead-redeliver").count()).toBe(0);
    // The dialer got it twice, both signed, the same webhook id (its idempotency key); answered 410 then 204.
    const received = (await (await fetch(`${control}/dialer/received?leadId=${lead}`)).json()) as { verified: boolean; answered: number }[];
    expect(received.map((r) => [r.verified, r.answered])).toEqual([[true, 410], [true, 204]]);
  });

  // Waits on the server: leads in the snapshot/frames with `dialer`.
  it("lists a lead saved without a position, with its dialer status; a positioned one flies the map to it", async () => {
    const team = newTeam();
    const page = await openMap(team);
    const vic = await tokenFor(worker.plan, team, "field", "vic", "Vic");
    const [nowhere, somewhere] = [crypto.randomUUID(), crypto.randomUUID()];
    await post(vic, [
      fix(HOME.lat, HOME.lng),
      { id: nowhere, type: "lead", at: Date.now(), name: "No Fix Nora", phone: "+49 30 5550100", interest: "hot", address: "Invalidenstraße 9" },
      { id: somewhere, type: "lead", at: Date.now(), name: "Mapped Max", phone: "+49 30 5550101", interest: "cold", lat: HOME.lat + 0.003, lng: HOME.lng + 0.003 },
    ]);
    await page.locator("#tab-leads").click();
    const row = page.locator(`#leads-list li[data-lead-id="${nowhere}"]`);
    await row.waitFor({ timeout: FRAME_MS });
    expect(await row.getAttribute("data-positioned")).toBe("false");
    expect(await row.locator(".lead-name").textContent()).toBe("No Fix Nora");
    // Phones are normalised to E.164 at the edge.
    expect(await row.locator(".lead-phone").textContent()).toBe("+49305550100");
    expect(await row.locator(".lead-by").textContent()).toMatch(/^Vic · /);
    expect(await row.locator(".lead-where").textContent()).toMatch(/No position/);
    await page.waitForFunction((id) => document.querySelector<HTMLElement>(`#leads-list li[data-lead-id="${id}"]`)?.dataset.dialer !== "none", nowhere, { timeout: FRAME_MS });
    expect(await row.locator(".lead-dialer").textContent()).toMatch(/^(Waiting to send|Retrying|Delivered|Stopped|Failed|Dialer not connected)/);

    // The positioned one: keyboard Enter flies there and opens it.
    await page.locator(`#leads-list li[data-lead-id="${somewhere}"] .lead-open`).focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction((id) => document.querySelector<HTMLElement>(".maplibregl-popup .popup")?.dataset.leadId === id, somewhere, { timeout: FRAME_MS });
    await page.waitForFunction(() => !window.__map!.isMoving(), undefined, { timeout: FRAME_MS });
    const c = await page.evaluate(() => window.__map!.getCenter());
    expect(Math.abs(c.lat - (HOME.lat + 0.003))).toBeLessThan(1e-4);
    expect(await page.locator(".maplibregl-popup .popup").innerText()).toMatch(/\+49305550101/);
  });

  // Waits on the server's flush (history reads Postgres).
  it("draws a person's day from history: a route split at a gap, a stop, knocks, and a replay slider", async () => {
    const team = newTeam();
    const hana = await tokenFor(worker.plan, team, "field", "hana", "Hana");
    const min = 60_000;
    const t0 = Date.now() - 40 * min;
    const walk1 = Array.from({ length: 8 }, (_, i) => fix(HOME.lat, HOME.lng + i * 0.0006, { at: t0 + i * min }));
    const stand = Array.from({ length: 7 }, (_, i) => fix(HOME.lat + (i % 2) * 0.00004, HOME.lng + 7 * 0.0006, { at: t0 + (8 + i) * min }));
    const walk2 = Array.from({ length: 6 }, (_, i) => fix(HOME.lat + 0.004 + i * 0.0006, HOME.lng + 0.006, { at: t0 + (26 + i) * min }));
    const knockId = crypto.randomUUID();
    await post(hana, [...walk1, ...stand, ...walk2, { id: knockId, type: "knock", at: t0 + 3 * min, lat: HOME.lat + 0.0002, lng: HOME.lng + 3 * 0.0006, outcome: "callback" }]);
    expect((await fetch(`${worker.url}/__scheduled?cron=*+*+*+*+*`)).status).toBe(200);
    await waitFor(async () => (await query<{ n: string }>(worker.plan, "SELECT count(*) AS n FROM locations WHERE team_id = $1", [team]))[0]!.n === "21", "hana's fixes in Postgres", 30_000);

    const page = await openMap(team);
    await page.locator("#tab-history").click();
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLOptionElement>("#history-person option")].some((o) => o.value === "hana"), undefined, { timeout: FRAME_MS });
    await page.selectOption("#history-person", "hana");
    await page.getByRole("button", { name: "Show the day" }).click();
    await page.waitForFunction(() => document.body.dataset.history === "hana:2:1:1", undefined, { timeout: FRAME_MS });
    expect(await page.locator("#history-status").textContent()).toMatch(/^hana on .*: 2 stretches of route, 1 stop, 1 knock\./i);
    // Drawn: two separate route lines (the gap is not bridged), the stop, the knock.
    await page.waitForFunction(() => {
      const map = window.__map!;
      // Rendered features carry no string ids: a segment is known by its start time.
      const routes = new Set(map.queryRenderedFeatures({ layers: ["history-route"] }).map((f) => f.properties.from));
      return routes.size === 2 && map.queryRenderedFeatures({ layers: ["history-stops"] }).length === 1 && map.queryRenderedFeatures({ layers: ["history-knocks"] }).length === 1;
    }, undefined, { timeout: FRAME_MS });
    // The stop is where she stood.
    const stopAt = await page.evaluate(() => window.__map!.queryRenderedFeatures({ layers: ["history-stops"] })[0]!.properties.minutes);
    expect(stopAt).toBeGreaterThanOrEqual(5);

    // Replay: the slider at the start puts the cursor at her first fix; in the gap, nowhere.
    const slide = (t: number) => page.locator("#history-slider").evaluate((el: HTMLInputElement, v) => {
      el.value = String(v);
      el.dispatchEvent(new Event("input", { bubbles: true }));
    }, t);
    await slide(t0);
    await page.waitForFunction((at) => {
      const map = window.__map!;
      return map.queryRenderedFeatures(map.project(at), { layers: ["history-cursor"] }).length === 1;
    }, [HOME.lng, HOME.lat] as [number, number], { timeout: FRAME_MS });
    await slide(t0 + 20 * min);
    await page.waitForFunction(() => window.__map!.queryRenderedFeatures({ layers: ["history-cursor"] }).length === 0, undefined, { timeout: FRAME_MS });
    // The keyboard: Home, then a step moves the clock a minute; a screen reader reads the time, not milliseconds.
    const slider = page.locator("#history-slider");
    await slider.focus();
    await page.keyboard.press("Home");
    const atStart = await slider.getAttribute("aria-valuetext");
    expect(atStart).toBe(await page.locator("#history-time").textContent());
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => slider.getAttribute("aria-valuetext")).not.toBe(atStart);
    expect(await slider.getAttribute("aria-valuetext")).toBe(await page.locator("#history-time").textContent());
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "map-history.png") });
  });

  it("has a favicon and two people of one name told apart", async () => {
    const team = newTeam();
    const page = await openMap(team);
    expect(await page.locator('link[rel="icon"]').count()).toBe(1);
    await post(await tokenFor(worker.plan, team, "field", "u-1", "Ava Brown"), [fix(HOME.lat, HOME.lng)]);
    await post(await tokenFor(worker.plan, team, "field", "u-2", "Ava Brown"), [fix(HOME.lat, HOME.lng + 0.002)]);
    await page.waitForFunction(() => document.body.dataset.people === "2", undefined, { timeout: FRAME_MS });
    await expect.poll(() => page.locator("#people-list .person-name").allTextContents()).toEqual(["Ava Brown (u-1)", "Ava Brown (u-2)"]);
  });
});
