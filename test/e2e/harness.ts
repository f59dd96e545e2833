/**
 * Browser tests drive the real system: `wrangler dev` (real workerd, the built web/ assets; dev/wrangler.ts)
 * bound to the run's Postgres, proxy and Upstash server (test/support/stack.ts), and the system's Chromium.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import pg from "pg";
import { WranglerDev } from "../../dev/wrangler.ts";
import { signToken, type Role } from "../../protocol/auth.ts";
import { planStack, workerBindings, type StackPlan } from "../support/stack.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface RunningWorker {
  url: string;
  plan: StackPlan;
  stop(): Promise<void>;
  /** Everything wrangler printed, for a failing test's message. */
  output(): string;
}

/** Start `wrangler dev` on a free port; `vars` override wrangler.toml vars (tunables) for this file. */
export async function startWorker(vars: Record<string, string> = {}): Promise<RunningWorker> {
  return startWorkerWith({ vars });
}

export interface WorkerOptions {
  vars?: Record<string, string>;
  /**
   * Serve a private copy of dist/web: another run's global setup rebuilds dist/web in place, and
   * wrangler dev reloads (dropping every WebSocket) or answers 404/500 while it does.
   */
  privateAssets?: boolean;
}

export async function startWorkerWith({ vars = {}, privateAssets = false }: WorkerOptions): Promise<RunningWorker> {
  const plan = await planStack();
  if (!fs.existsSync(path.join(ROOT, "dist/web/index.html"))) throw new Error("dist/web is not built (the test global setup builds it)");
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "fieldpulse-e2e-"));
  const wrangler = new WranglerDev(ROOT);
  const stop = async () => {
    await wrangler.stop();
    fs.rmSync(state, { recursive: true, force: true });
  };
  try {
    const assetsDir = privateAssets ? await copyBuiltWeb(path.join(state, "web")) : undefined;
    await wrangler.start({ vars: { ...workerBindings(plan), ...vars }, persistTo: state, assetsDir });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: wrangler.url, plan, stop, output: () => wrangler.output() };
}

/** Copy dist/web to `dir`, retrying while a concurrent build has it half-written (every page's assets present). */
async function copyBuiltWeb(dir: string): Promise<string> {
  const source = path.join(ROOT, "dist/web");
  for (let attempt = 0; ; attempt++) {
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.cpSync(source, dir, { recursive: true });
      // Every page, and every /assets/ file the pages and their scripts name (the MapLibre worker, say).
      const wanted = ["/index.html", "/map/index.html", "/field/index.html"];
      const missing: string[] = [];
      for (const file of wanted) {
        const full = path.join(dir, file);
        if (!fs.existsSync(full)) {
          missing.push(file);
          continue;
        }
        if (!/\.(html|js|mjs)$/.test(file)) continue;
        for (const m of fs.readFileSync(full, "utf8").matchAll(/\/assets\/[\w.-]+/g)) if (!wanted.includes(m[0])) wanted.push(m[0]);
      }
      if (missing.length === 0) return dir;
    } catch {
      // A file vanished mid-copy: the build is rewriting dist/web.
    }
    if (attempt >= 20) throw new Error("dist/web stayed incomplete (a build running alongside?)");
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // SwiftShader WebGL2 for MapLibre; no background networking (the machine's network is closed).
    args: ["--use-gl=angle", "--use-angle=swiftshader", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}

export async function tokenFor(plan: StackPlan, team: string, role: Role, user: string, name?: string): Promise<string> {
  return signToken({ team, sub: user, role, ...(name ? { name } : {}) }, plan.authSecret);
}

/** Postgres as any other client sees it. */
export async function query<T extends pg.QueryResultRow = Record<string, unknown>>(plan: StackPlan, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: plan.postgres.url });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** Poll until `check` yields a value, or fail with what it was waiting for. Never a fixed sleep. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const newTeam = () => `team-${Math.random().toString(36).slice(2, 10)}`;
export const ARTIFACTS = path.join(ROOT, "test-results", "e2e");
