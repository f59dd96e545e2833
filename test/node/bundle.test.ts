import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

/** What only benches, drills and tests may have: none of it may reach `wrangler deploy`. */
const TEST_ONLY = ["naive-events", "drill_committed_not_deleted", "DRILL_PAUSE_AFTER_COMMIT", "afterCommit", "BENCH_MODE"];

describe("the deployed bundle", () => {
  it("carries no test, bench or drill hooks", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "fieldpulse-bundle-"));
    try {
      fs.mkdirSync(path.join(ROOT, "dist/web"), { recursive: true });
      await run(path.join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
        cwd: ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", XDG_CONFIG_HOME: path.join(out, "config") },
        timeout: 120_000,
      });
      const code = fs.readdirSync(out).filter((f) => /\.(m?js)$/.test(f)).map((f) => fs.readFileSync(path.join(out, f), "utf8")).join("\n");
      // The bundle is real: the production object and routes are in it.
      expect(code).toMatch(/TeamHub = class|class TeamHub/);
      expect(code).toContain("/v1/events");
      for (const hook of TEST_ONLY) expect(code, hook).not.toContain(hook);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 150_000);
});

/** The JS a page loads before it can run: its entry and every chunk it preloads (what vite's index.html names). */
function firstLoad(page: "field" | "map"): { file: string; code: string }[] {
  const web = path.join(ROOT, "dist/web");
  const html = fs.readFileSync(path.join(web, page, "index.html"), "utf8");
  const urls = [...html.matchAll(/<(?:script[^>]*\ssrc|link rel="modulepreload"[^>]*\shref)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
  return urls.map((url) => ({ file: url, code: fs.readFileSync(path.join(web, url), "utf8") }));
}
const gzipKb = (chunks: { code: string }[]) => chunks.reduce((sum, c) => sum + gzipSync(c.code).byteLength, 0) / 1000;

// The browser tests' global setup builds dist/web (test/support/global-setup.ts) before any project runs.
describe("the pages' bundles", () => {
  it("carry zod/mini, never classic zod (protocol/ and web/ import zod/mini)", () => {
    for (const page of ["field", "map"] as const) {
      const chunks = firstLoad(page);
      expect(chunks.length, page).toBeGreaterThan(1);
      const code = chunks.map((c) => c.code).join("\n");
      // zod's schema classes are named at construction: classic ones "ZodString", mini ones "ZodMiniString".
      expect(code, page).toContain("ZodMiniObject");
      expect(code, page).not.toMatch(/["']Zod(String|Object|Number)["']/);
    }
    const sw = fs.readFileSync(path.join(ROOT, "dist/web/field/sw-sync.js"), "utf8");
    expect(sw).toContain("ZodMiniObject");
    expect(sw).not.toMatch(/["']Zod(String|Object|Number)["']/);
  });

  it("keep the field app's first load within its budget (README \"Bundle sizes\")", () => {
    const chunks = firstLoad("field");
    // Nothing of MapLibre before the day view opens, nothing of the phone metadata before the lead form needs it.
    expect(chunks.map((c) => c.code).join("\n")).not.toContain("maplibregl");
    expect(chunks.map((c) => c.file).filter((f) => /libphonenumber|leads-/.test(f))).toEqual([]);
    expect(gzipKb(chunks)).toBeLessThan(45);
  });
});
