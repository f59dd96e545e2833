/**
 * The pages' security headers (web/public/_headers, applied by Workers static assets) in `wrangler dev`,
 * and both pages working under that CSP in Chromium with no violation reported. The full page behaviour
 * under the CSP is map.test.ts and field.test.ts.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, newTeam, startWorker, tokenFor, type RunningWorker } from "./harness.ts";

let worker: RunningWorker;
let browser: Browser;

beforeAll(async () => {
  worker = await startWorker();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
});

describe("page headers", () => {
  it.each(["/", "/map/", "/field/", "/field/manifest.webmanifest"])("%s carries a CSP, nosniff, no framing, no referrer", async (path) => {
    const res = await fetch(`${worker.url}${path}`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    const csp = res.headers.get("Content-Security-Policy") ?? "";
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("worker-src 'self' blob:");
    expect(csp).toMatch(/connect-src [^;]*https:\/\/demotiles\.maplibre\.org/);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("X-Frame-Options")).toBe("DENY");
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
  });

  it("the API keeps its own: no-store and a CSP that allows nothing", async () => {
    const res = await fetch(`${worker.url}/v1/map/config`);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });
});

/** A page that records every CSP violation (from the first script on) in window.__csp. */
async function watchedPage(): Promise<Page> {
  const context = await browser.newContext({ serviceWorkers: "allow" });
  const page = await context.newPage();
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __csp: string[] }).__csp = seen;
    document.addEventListener("securitypolicyviolation", (e) => seen.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  });
  return page;
}

/** Every violation, zod's probe for eval included: the pages set `z.config({ jitless: true })` first (web/shared/zod-config.ts). */
const violations = async (page: Page) => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);

describe("the pages under the CSP", () => {
  it("the map draws its first snapshot over the live socket, the basemap style is not blocked", async () => {
    const page = await watchedPage();
    const token = await tokenFor(worker.plan, newTeam(), "manager", "mgr-csp");
    // The configured style (demotiles): it may be unreachable from here, but it must not be blocked.
    await page.goto(`${worker.url}/map/#token=${token}`);
    await page.waitForFunction(() => document.body.dataset.connection === "open" && document.body.dataset.map === "ready" && Number(document.body.dataset.snapshots) >= 1, undefined, { timeout: 45_000 });
    expect(await violations(page)).toEqual([]);
    await page.context().close();
  });

  it("the field app registers its service worker", async () => {
    const page = await watchedPage();
    const token = await tokenFor(worker.plan, newTeam(), "field", "ann-csp");
    await page.goto(`${worker.url}/field/#token=${token}`);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 30_000 });
    expect(await violations(page)).toEqual([]);
    await page.context().close();
  });
});
