/**
 * A throwaway fieldpulse for benchmarks and drills, on the shared local stack (dev/stack.ts): a fresh database
 * `fieldpulse_bench_<rand>` on the machine's Postgres (embedded PGlite when there is none), its own REDIS_PREFIX,
 * a dialer that answers 204, and `wrangler dev` restartable with other vars. Adds what benches read: tokens,
 * queue figures, waiting for a drained buffer, SQL. `stop()` tears everything down, and so does a watchdog
 * after `maxLifetimeMs` and the process exiting: a bench never leaves a wrangler behind.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import pg from "pg";
import path from "node:path";
import { pickPostgres, ROOT, startStack, withClient } from "../dev/stack.ts";
import { WranglerDev } from "../dev/wrangler.ts";
import type { WsProxy } from "../dev/ws-proxy.ts";
import { signToken, type Role } from "../protocol/auth.ts";
import type { QueueFigures } from "../protocol/metrics.ts";

export { ROOT };

export interface BenchStackOptions {
  /** Where CREATE/DROP DATABASE runs; default the machine's server (PGHOST/PGPORT/PGUSER, else postgres@127.0.0.1:5432). */
  adminUrl?: string;
  embedded?: boolean;
  redisUrl?: string;
  /** The stack stops itself after this long, whatever happens (default 20 min). */
  maxLifetimeMs?: number;
  log?: (line: string) => void;
}

export interface WorkerOptions {
  vars?: Record<string, string>;
  /** Keep Durable Object state across restarts (the crash drill); default a fresh temp dir per stack. */
  persistTo?: string;
  /** wrangler's --log-level; "log" shows the Worker's own console.log lines (the crash drill waits for one). */
  logLevel?: "log" | "info" | "warn" | "error";
}

export interface BenchStack {
  /** The Worker's base URL (changes on restart). */
  url: string;
  authSecret: string;
  databaseUrl: string;
  database: string;
  postgresMode: "server" | "embedded";
  proxy: WsProxy;
  redisPrefix: string;
  persistDir: string;
  startWorker(opts?: WorkerOptions): Promise<void>;
  /** SIGTERM (or SIGKILL) the whole process group of wrangler (workerd included) and wait for it. */
  stopWorker(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves with the first line matching `pattern` that wrangler prints from now on. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<string>;
  output(): string;
  /** Call `listener` for each line wrangler prints until `stop()`, which returns `result()`. */
  onOutputLine<T>(listener: (line: string) => void, result: () => T): { stop: () => T };
  /** Times wrangler rebuilt and reloaded the Worker since it was (re)started: a source file changed under it. */
  reloads(): number;
  token(team: string, user: string, role?: Role, name?: string): Promise<string>;
  /** Commands the local Upstash server has served so far (what Upstash bills), or null without Redis. */
  redisCommands(): Promise<number | null>;
  /** GET /__scheduled: run the cron (flush dirty teams, publish figures) now. */
  triggerCron(timeoutMs?: number): Promise<void>;
  /** The team's live queue figures (GET /v1/metrics with a manager token). */
  figures(team: string): Promise<QueueFigures>;
  /** Wait until the team's buffer is empty, triggering the cron every `cronEveryMs`; returns ms waited. */
  waitDrained(team: string, timeoutMs: number, cronEveryMs?: number): Promise<number>;
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Query the admin database (pg_stat_database of the bench database, read from outside it). */
  adminQuery<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}


export async function startBenchStack(options: BenchStackOptions = {}): Promise<BenchStack> {
  const log = options.log ?? (() => {});
  const suffix = randomBytes(4).toString("hex");
  const authSecret = `bench-${randomBytes(16).toString("hex")}`;
  const redisPrefix = `fp-bench-${suffix}`;
  const base = await startStack({
    postgres: await pickPostgres({ database: `fieldpulse_bench_${suffix}`, adminUrl: options.adminUrl, embedded: options.embedded }),
    redis: { url: options.redisUrl, mode: "optional" },
    redisPrefix,
    upstashToken: `bench-${suffix}`,
    authSecret,
    acceptingDialer: true,
    maxLifetimeMs: options.maxLifetimeMs ?? 20 * 60_000,
    log,
  });
  const tempDir = (name: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), name));
    base.onStop(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  const persistDir = tempDir("fieldpulse-bench-");
  // An assets directory of our own (empty: benches need no pages): a rebuild of dist/web must not reload this wrangler.
  const assetsDir = tempDir("fieldpulse-bench-assets-");
  const wrangler = new WranglerDev(ROOT);
  const { url: databaseUrl, database, adminUrl: statsAdminUrl } = base.postgres;
  const postgresMode = base.postgres.mode === "embedded" ? "embedded" : "server";

  const stack: BenchStack = {
    get url() {
      return wrangler.url;
    },
    authSecret, databaseUrl, database, postgresMode, proxy: base.proxy, redisPrefix, persistDir,

    async startWorker(opts: WorkerOptions = {}) {
      // The bench's own entry: production's Worker plus the naive route and the crash drill's pause.
      await base.startWorker({ script: "bench/worker.ts", vars: opts.vars, persistTo: opts.persistTo ?? persistDir, assetsDir, logLevel: opts.logLevel }, wrangler);
      const shown = Object.entries(opts.vars ?? {}).map(([k, v]) => `${k}=${v}`).join(" ");
      log(`wrangler dev on ${wrangler.url}${shown ? ` (${shown})` : ""}`);
    },
    stopWorker: (signal) => wrangler.stop(signal),
    waitForOutput: (pattern, timeoutMs) => wrangler.waitForOutput(pattern, timeoutMs),
    output: () => wrangler.output(),
    onOutputLine: (listener, result) => wrangler.onOutputLine(listener, result),
    reloads: () => wrangler.reloads(),

    token: (team, user, role = "field", name) => signToken({ team, sub: user, role, ...(name ? { name } : {}), ttlSeconds: 24 * 3600 }, authSecret),

    triggerCron: (timeoutMs = 60_000) => wrangler.triggerCron(timeoutMs),

    async redisCommands() {
      if (!base.upstash) return null;
      const res = await fetch(`${base.upstash.url}/__stats`, { headers: { authorization: `Bearer ${base.upstash.token}` } });
      return ((await res.json()) as { commands: number }).commands;
    },

    async figures(team) {
      const token = await stack.token(team, "bench-manager", "manager");
      const res = await fetch(`${wrangler.url}/v1/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`GET /v1/metrics: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { teams: QueueFigures[] }).teams[0]!;
    },

    async waitDrained(team, timeoutMs, cronEveryMs = 0) {
      const t0 = Date.now();
      let lastCron = 0;
      for (;;) {
        const f = await stack.figures(team).catch(() => null);
        if (f && f.depth === 0) return Date.now() - t0;
        if (Date.now() - t0 > timeoutMs) throw new Error(`team ${team} still buffers ${f?.depth ?? "?"} rows after ${timeoutMs} ms (last error: ${f?.lastError ?? "none"})`);
        if (cronEveryMs > 0 && Date.now() - lastCron >= cronEveryMs) {
          lastCron = Date.now();
          await stack.triggerCron().catch(() => {});
        }
        await new Promise((res) => setTimeout(res, 200));
      }
    },

    query: (sql, params = []) => withClient(databaseUrl, async (c) => (await c.query(sql, params)).rows),
    adminQuery: (sql, params = []) => withClient(statsAdminUrl, async (c) => (await c.query(sql, params)).rows),
    stop: () => base.stop(),
  };
  return stack;
}
