import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
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
