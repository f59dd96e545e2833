/**
 * Starts the real parts once per test run: a fresh database (migrated) on the machine's Postgres or an
 * embedded PGlite, the Neon WebSocket proxies, the Upstash REST server over Redis, and a small control
 * server through which workerd tests read Postgres with node `pg` and cut the fault proxy.
 */
import { deleteKeys } from "../../dev/redis-keys.ts";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../dev/embedded-postgres.ts";
import { migrateDatabase } from "../../dev/migrate.ts";
import { startUpstashServer } from "../../dev/upstash-server.ts";
import { startWsProxy } from "../../dev/ws-proxy.ts";
import { startControlServer } from "./control-server.ts";
import { planStack, type StackPlan } from "./stack.ts";
import { ensureRedis } from "./redis.ts";
import { spawnSync } from "node:child_process";
import path from "node:path";
import pg from "pg";

type Running = { refs: number; stop: () => Promise<void> };
const g = globalThis as typeof globalThis & { __fieldpulseStack?: Promise<Running> };

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}


function buildWeb(): void {
  const root = path.resolve(import.meta.dirname, "../..");
  const result = spawnSync(path.join(root, "node_modules/.bin/vite"), ["build", "--config", "web/vite.config.ts", "--logLevel", "error"], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.status !== 0) throw new Error("vite build of web/ failed");
}

async function start(plan: StackPlan): Promise<Running> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => console.error("teardown:", err));
  };
  try {
    if (plan.postgres.mode === "embedded") {
      const pgl = await startEmbeddedPostgres({ port: plan.postgres.port });
      stops.push(() => pgl.close());
    } else {
      await adminQuery(plan.postgres.adminUrl, `CREATE DATABASE "${plan.postgres.database}"`);
      stops.push(() => adminQuery(plan.postgres.adminUrl, `DROP DATABASE IF EXISTS "${plan.postgres.database}" WITH (FORCE)`));
    }
    await migrateDatabase(plan.postgres.url);

    const proxy = await startWsProxy({ port: plan.proxyPort });
    stops.push(() => proxy.close());
    const faultProxy = await startWsProxy({ port: plan.faultProxyPort });
    stops.push(() => faultProxy.close());

    const redis = await ensureRedis(plan.redisUrl);
    stops.push(() => redis.stop());
    stops.push(() => deleteKeys(redis.url, `${plan.redisPrefix}:*`));
    const upstash = await startUpstashServer({ redisUrl: redis.url, token: plan.upstashToken, port: plan.upstashPort });
    stops.push(() => upstash.close());

    // The browser tests serve the built pages through wrangler dev.
    buildWeb();
    const control = await startControlServer({ port: plan.controlPort, databaseUrl: plan.postgres.url, faultProxy, redisUrl: redis.url, dialerSecret: plan.dialerSecret });
    stops.push(() => control.close());
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { refs: 0, stop: stopAll };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const plan = await planStack();
  g.__fieldpulseStack ??= start(plan);
  const running = await g.__fieldpulseStack;
  running.refs += 1;
  project.provide("controlUrl", `http://127.0.0.1:${plan.controlPort}`);
  return async () => {
    running.refs -= 1;
    if (running.refs === 0) {
      g.__fieldpulseStack = undefined;
      await running.stop();
    }
  };
}
