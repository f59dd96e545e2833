/**
 * A throwaway fieldpulse for benchmarks and drills: a fresh database `fieldpulse_bench_<rand>` on the
 * machine's Postgres (127.0.0.1:5432; embedded PGlite when there is none), migrated; the Neon WebSocket
 * proxy; the Upstash REST server over Redis (own REDIS_PREFIX); a dialer that answers 204; and `wrangler dev`
 * bound to them, restartable with other vars. `stop()` tears everything down, and so does a watchdog
 * after `maxLifetimeMs` and the process exiting: a bench never leaves a wrangler behind.
 */
import { deleteKeys } from "../dev/redis-keys.ts";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startEmbeddedPostgres } from "../dev/embedded-postgres.ts";
import { migrateDatabase } from "../dev/migrate.ts";
import { canConnect } from "../dev/net.ts";
import { startUpstashServer } from "../dev/upstash-server.ts";
import { startWsProxy, type WsProxy } from "../dev/ws-proxy.ts";
import { signToken, type Role } from "../protocol/auth.ts";
import type { QueueFigures } from "../protocol/metrics.ts";
import { WranglerDev } from "./wrangler.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface BenchStackOptions {
  /** Where CREATE/DROP DATABASE runs; default postgres://postgres@127.0.0.1:5432/postgres. */
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

const DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A dialer stand-in: every lead delivery succeeds, so the outbox behaves as in production. */
async function startDialer(): Promise<{ url: string; secret: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/dialer`,
    secret: `whsec_${randomBytes(24).toString("base64")}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

export async function startBenchStack(options: BenchStackOptions = {}): Promise<BenchStack> {
  const log = options.log ?? (() => {});
  const stops: (() => Promise<void>)[] = [];
  const suffix = randomBytes(4).toString("hex");
  const authSecret = `bench-${randomBytes(16).toString("hex")}`;
  const redisPrefix = `fp-bench-${suffix}`;
  const tempDir = (name: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), name));
    stops.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  const persistDir = tempDir("fieldpulse-bench-");
  const assetsDir = tempDir("fieldpulse-bench-assets-");
  const wrangler = new WranglerDev(ROOT);
  // Whatever ends this process, wrangler and workerd go with it.
  const killNow = () => wrangler.killNow();
  process.once("exit", killNow);

  let stopping: Promise<void> | null = null;
  const stopAll = () => {
    stopping ??= (async () => {
      clearTimeout(watchdog);
      await wrangler.stop().catch(() => {});
      for (const stop of stops.reverse()) await stop().catch((err) => log(`teardown: ${String(err)}`));
      process.off("exit", killNow);
    })();
    return stopping;
  };
  const lifetime = options.maxLifetimeMs ?? 20 * 60_000;
  const watchdog = setTimeout(() => {
    log(`bench stack: lifetime of ${lifetime / 60_000} min reached; stopping it`);
    void stopAll();
  }, lifetime);
  watchdog.unref();

  try {
    // Postgres: a fresh database on the server, else an in-memory PGlite.
    const adminUrl = options.adminUrl ?? DEFAULT_ADMIN_URL;
    const admin = new URL(adminUrl);
    let databaseUrl: string, database: string, postgresMode: "server" | "embedded", statsAdminUrl: string;
    if (!options.embedded && (await canConnect(admin.hostname, Number(admin.port || 5432)))) {
      database = `fieldpulse_bench_${suffix}`;
      await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${database}"`));
      stops.push(() => withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)).then(() => {}));
      const u = new URL(adminUrl);
      u.pathname = `/${database}`;
      databaseUrl = u.href;
      postgresMode = "server";
      statsAdminUrl = adminUrl;
    } else {
      const pgl = await startEmbeddedPostgres({ log: () => {} });
      stops.push(() => pgl.close());
      databaseUrl = statsAdminUrl = pgl.url;
      database = "postgres";
      postgresMode = "embedded";
    }
    await migrateDatabase(databaseUrl);
    log(`postgres: ${postgresMode === "server" ? `database ${database} on ${admin.host}` : "embedded PGlite"}`);

    const proxy = await startWsProxy({ port: 0, log: () => {} });
    stops.push(() => proxy.close());

    const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
    const r = new URL(redisUrl);
    let upstash: { url: string; token: string } | null = null;
    if (await canConnect(r.hostname, Number(r.port || 6379))) {
      const token = `bench-${suffix}`;
      const server = await startUpstashServer({ redisUrl, token, port: 0, log: () => {} });
      stops.push(() => server.close());
      stops.push(() => deleteKeys(redisUrl, `${redisPrefix}:*`));
      upstash = { url: server.url, token };
    } else {
      log(`redis: nothing at ${redisUrl}; rate limiting and the cron's dirty set are off in this run`);
    }

    const dialer = await startDialer();
    stops.push(() => dialer.close());

    const bindings: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      NEON_WS_PROXY: `127.0.0.1:${proxy.port}`,
      UPSTASH_REDIS_REST_URL: upstash?.url ?? "",
      UPSTASH_REDIS_REST_TOKEN: upstash?.token ?? "",
      AUTH_SECRET: authSecret,
      DIALER_WEBHOOK_URL: dialer.url,
      DIALER_WEBHOOK_SECRET: dialer.secret,
      REDIS_PREFIX: redisPrefix,
    };

    const stack: BenchStack = {
      get url() {
        return wrangler.url;
      },
      authSecret, databaseUrl, database, postgresMode, proxy, redisPrefix, persistDir,

      async startWorker(opts: WorkerOptions = {}) {
        await wrangler.start({ vars: { ...bindings, ...opts.vars }, persistTo: opts.persistTo ?? persistDir, assetsDir, logLevel: opts.logLevel });
        const shown = Object.entries(opts.vars ?? {}).map(([k, v]) => `${k}=${v}`).join(" ");
        log(`wrangler dev on ${wrangler.url}${shown ? ` (${shown})` : ""}`);
      },
      stopWorker: (signal) => wrangler.stop(signal),
      waitForOutput: (pattern, timeoutMs) => wrangler.waitForOutput(pattern, timeoutMs),
      output: () => wrangler.output(),
      onOutputLine: (listener, result) => wrangler.onOutputLine(listener, result),
      reloads: () => wrangler.reloads(),

      token: (team, user, role = "field", name) => signToken({ team, sub: user, role, ...(name ? { name } : {}), ttlSeconds: 24 * 3600 }, authSecret),

      async triggerCron(timeoutMs = 60_000) {
        const res = await fetch(`${wrangler.url}/__scheduled?cron=*+*+*+*+*`, { signal: AbortSignal.timeout(timeoutMs) });
        await res.text();
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
      stop: stopAll,
    };
    return stack;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

