/**
 * The local stack, one way for `npm run dev`, the bench and drills, and the tests' global setup: Postgres
 * (a database you gave, a fresh one on the machine's server, or embedded PGlite), migrations, the Neon
 * WebSocket proxy (and a second one tests may cut), the Upstash REST server over Redis, optionally a dialer
 * that accepts everything and the web build, and `wrangler dev` bound to all of it. What differs between the
 * three callers is an option; `stop()` tears down whatever was started, in reverse order.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { migrateDatabase } from "./migrate.ts";
import { canConnect, freePort } from "./net.ts";
import { deleteKeys } from "./redis-keys.ts";
import { startUpstashServer } from "./upstash-server.ts";
import { WranglerDev, type WranglerStart } from "./wrangler.ts";
import { startWsProxy, type WsProxy } from "./ws-proxy.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export type PostgresChoice =
  /** A database you gave (DATABASE_URL): migrated, never dropped. */
  | { mode: "url"; url: string }
  /** A fresh database on a server: created now, dropped at stop. */
  | { mode: "server"; adminUrl: string; database: string }
  /** PGlite: in memory, or in `dataDir` so data survives restarts. */
  | { mode: "embedded"; dataDir?: string; port?: number };

/** The machine's server (PGHOST/PGPORT/PGUSER, default postgres@127.0.0.1:5432), where CREATE DATABASE runs. */
export function serverAdminUrl(): string {
  const host = process.env.PGHOST ?? "127.0.0.1";
  return `postgres://${process.env.PGUSER ?? "postgres"}@${host}:${process.env.PGPORT ?? 5432}/postgres`;
}

/** A fresh `database` on the server at `adminUrl` when one answers (and embedded is not asked for); else PGlite in memory. */
export async function pickPostgres(opts: { database: string; adminUrl?: string; embedded?: boolean }): Promise<PostgresChoice> {
  const adminUrl = opts.adminUrl ?? serverAdminUrl();
  const admin = new URL(adminUrl);
  if (!opts.embedded && (await canConnect(admin.hostname, Number(admin.port || 5432)))) return { mode: "server", adminUrl, database: opts.database };
  return { mode: "embedded" };
}

/** The URL a choice's database will have (embedded needs its port fixed in advance). */
export function postgresUrl(choice: PostgresChoice, embeddedPort?: number): string {
  switch (choice.mode) {
    case "url":
      return choice.url;
    case "server": {
      const u = new URL(choice.adminUrl);
      u.pathname = `/${choice.database}`;
      return u.href;
    }
    case "embedded":
      return `postgres://postgres:postgres@127.0.0.1:${embeddedPort ?? choice.port}/postgres`;
  }
}

export interface WorkerVarsInput {
  databaseUrl: string;
  proxyPort: number;
  upstash: { url: string; token: string } | null;
  redisPrefix?: string;
  authSecret?: string;
  dialer?: { url: string; secret: string } | null;
}

/** The Worker's bindings pointing at the local stand-ins: the same names as production (see .dev.vars.example). */
export function workerVars(i: WorkerVarsInput): Record<string, string> {
  return {
    DATABASE_URL: i.databaseUrl,
    NEON_WS_PROXY: `127.0.0.1:${i.proxyPort}`,
    // Empty = not configured: rate limiting and the cron's dirty set are off, as without Upstash in production.
    UPSTASH_REDIS_REST_URL: i.upstash?.url ?? "",
    UPSTASH_REDIS_REST_TOKEN: i.upstash?.token ?? "",
    ...(i.redisPrefix ? { REDIS_PREFIX: i.redisPrefix } : {}),
    ...(i.authSecret ? { AUTH_SECRET: i.authSecret } : {}),
    ...(i.dialer ? { DIALER_WEBHOOK_URL: i.dialer.url, DIALER_WEBHOOK_SECRET: i.dialer.secret } : {}),
  };
}

export interface StackOptions {
  postgres: PostgresChoice;
  /**
   * "optional": without a Redis at `url` the stack runs with the Redis features off (dev, bench);
   * "required": start a throwaway `redis-server` from PATH when none answers (tests);
   * "off": no Redis, no Upstash server (a bench of the database alone). Default "optional".
   */
  redis?: { url?: string; mode: "optional" | "required" | "off" };
  /** REDIS_PREFIX for the Worker; every key under it is deleted at stop. Default: wrangler.toml's, kept. */
  redisPrefix?: string;
  /** Fixed ports (the tests plan theirs before vitest starts the Workers pool); default free ones. */
  ports?: { proxy?: number; faultProxy?: number; upstash?: number };
  /** A second proxy to the same database, for tests that cut Postgres without touching anyone else. */
  faultProxy?: boolean;
  upstashToken?: string;
  /** AUTH_SECRET passed to the Worker; default none (wrangler reads .dev.vars). */
  authSecret?: string;
  /** A dialer stand-in that answers 204 to every lead, so the outbox behaves as in production. */
  acceptingDialer?: boolean;
  /** Build web/ into dist/web first (Vite), at this log level. */
  buildWeb?: "warn" | "error";
  /** The stack stops itself after this long, whatever happens (benches never leave a wrangler behind). */
  maxLifetimeMs?: number;
  log?: (line: string) => void;
}

export interface Stack {
  postgres: {
    mode: PostgresChoice["mode"];
    url: string;
    database: string;
    /** Where to read pg_stat_database from outside the database (the database itself when embedded). */
    adminUrl: string;
    /** One line for humans: where the data lives. */
    description: string;
  };
  proxy: WsProxy;
  faultProxy: WsProxy | null;
  /** The Redis in use, or null when none answered (optional mode). */
  redisUrl: string | null;
  upstash: { url: string; token: string } | null;
  dialer: { url: string; secret: string } | null;
  /** The Worker's bindings for this stack (overrides win). */
  vars(overrides?: Record<string, string>): Record<string, string>;
  /** `wrangler dev` bound to this stack; stopped with it. `opts.vars` are added to the stack's. */
  startWorker(opts: Omit<WranglerStart, "vars"> & { vars?: Record<string, string> }, wrangler?: WranglerDev): Promise<WranglerDev>;
  /** Something else to tear down with the stack (run before what the stack started itself). */
  onStop(stop: () => Promise<void> | void): void;
  stop(): Promise<void>;
}

/** One short node-pg connection for a unit of work (the stack's setup, benches' reads). */
export async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The Redis at `url` when it answers; else, if `required`, a throwaway redis-server from PATH. */
async function ensureRedis(url: string, required: boolean): Promise<{ url: string; stop: () => Promise<void> } | null> {
  const u = new URL(url);
  if (await canConnect(u.hostname, Number(u.port || 6379))) return { url, stop: async () => {} };
  if (!required) return null;
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const failed = new Promise<never>((_, reject) => child.once("error", (e) => reject(new Error(`no Redis at ${url} and redis-server could not start: ${e.message}`))));
  const deadline = Date.now() + 10_000;
  while (!(await Promise.race([canConnect("127.0.0.1", port), failed]))) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("redis-server did not start within 10 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `redis://127.0.0.1:${port}`, stop: async () => void child.kill("SIGTERM") };
}

async function startAcceptingDialer(): Promise<{ url: string; secret: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
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

async function buildWeb(logLevel: "warn" | "error"): Promise<void> {
  const child = spawn(path.join(ROOT, "node_modules/.bin/vite"), ["build", "--config", "web/vite.config.ts", "--logLevel", logLevel], { cwd: ROOT, stdio: "inherit" });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (code !== 0) throw new Error(`vite build of web/ exited with ${code}`);
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? (() => {});
  const quiet = () => {};
  const stops: (() => Promise<void> | void)[] = [];
  const extraStops: (() => Promise<void> | void)[] = [];
  const wranglers: WranglerDev[] = [];
  // Whatever ends this process, wrangler and workerd go with it (no waiting is possible in an exit hook).
  const killNow = () => wranglers.forEach((w) => w.killNow());
  process.once("exit", killNow);

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      clearTimeout(watchdog);
      for (const w of wranglers) await w.stop().catch(() => {});
      for (const s of [...extraStops.reverse(), ...stops.reverse()]) await Promise.resolve(s()).catch((err) => log(`teardown: ${String(err)}`));
      process.off("exit", killNow);
    })();
    return stopping;
  };
  const watchdog = options.maxLifetimeMs
    ? setTimeout(() => {
        log(`stack: lifetime of ${options.maxLifetimeMs! / 60_000} min reached; stopping it`);
        void stop();
      }, options.maxLifetimeMs)
    : undefined;
  watchdog?.unref();

  try {
    const choice = options.postgres;
    let postgres: Stack["postgres"];
    if (choice.mode === "embedded") {
      const pgl = await startEmbeddedPostgres({ dataDir: choice.dataDir, port: choice.port ?? 0, log: quiet });
      stops.push(() => pgl.close());
      const where = choice.dataDir ? `data in ${path.relative(ROOT, choice.dataDir) || choice.dataDir}` : "in memory";
      postgres = { mode: "embedded", url: pgl.url, database: "postgres", adminUrl: pgl.url, description: `embedded PGlite on 127.0.0.1:${pgl.port} (${where})` };
    } else if (choice.mode === "server") {
      const { adminUrl, database } = choice;
      await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${database}"`));
      stops.push(() => withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)).then(() => {}));
      postgres = { mode: "server", url: postgresUrl(choice), database, adminUrl, description: `database ${database} on ${new URL(adminUrl).host}` };
    } else {
      const u = new URL(choice.url);
      postgres = { mode: "url", url: choice.url, database: u.pathname.slice(1), adminUrl: choice.url, description: `${u.host} (DATABASE_URL)` };
    }
    await migrateDatabase(postgres.url);
    log(`postgres   ${postgres.description}`);

    const proxy = await startWsProxy({ port: options.ports?.proxy ?? 0, log: quiet });
    stops.push(() => proxy.close());
    let faultProxy: WsProxy | null = null;
    if (options.faultProxy) {
      faultProxy = await startWsProxy({ port: options.ports?.faultProxy ?? 0, log: quiet });
      stops.push(() => faultProxy!.close());
    }

    const wantedRedis = options.redis?.url ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
    const redisMode = options.redis?.mode ?? "optional";
    const redis = redisMode === "off" ? null : await ensureRedis(wantedRedis, redisMode === "required");
    let upstash: Stack["upstash"] = null;
    if (redis) {
      stops.push(() => redis.stop());
      const prefix = options.redisPrefix;
      if (prefix) stops.push(() => deleteKeys(redis.url, `${prefix}:*`));
      const token = options.upstashToken ?? `local-${randomBytes(8).toString("hex")}`;
      const server = await startUpstashServer({ redisUrl: redis.url, token, port: options.ports?.upstash ?? 0, log: quiet });
      stops.push(() => server.close());
      upstash = { url: server.url, token };
      log(`redis      ${new URL(redis.url).host} via a local Upstash REST server at ${server.url}`);
    } else if (redisMode !== "off") {
      log(`redis      NOT reachable at ${wantedRedis}: rate limiting and the cron's dirty-team set are off.`);
    }

    let dialer: Stack["dialer"] = null;
    if (options.acceptingDialer) {
      const d = await startAcceptingDialer();
      stops.push(() => d.close());
      dialer = { url: d.url, secret: d.secret };
    }

    if (options.buildWeb) await buildWeb(options.buildWeb);

    const vars = (overrides: Record<string, string> = {}) => ({
      ...workerVars({ databaseUrl: postgres.url, proxyPort: proxy.port, upstash, redisPrefix: options.redisPrefix, authSecret: options.authSecret, dialer }),
      ...overrides,
    });
    return {
      postgres, proxy, faultProxy, redisUrl: redis?.url ?? null, upstash, dialer, vars,
      async startWorker(opts, wrangler = new WranglerDev(ROOT)) {
        if (!wranglers.includes(wrangler)) wranglers.push(wrangler);
        await wrangler.start({ ...opts, vars: vars(opts.vars) });
        return wrangler;
      },
      onStop: (s) => void extraStops.push(s),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
