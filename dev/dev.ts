/**
 * `npm run dev`: the whole system on one machine. Postgres (yours via DATABASE_URL, else an embedded
 * PGlite under .fieldpulse/), migrations, the Neon WebSocket proxy, the Upstash REST server over Redis
 * (REDIS_URL, default redis://127.0.0.1:6379; without Redis the Redis features are off), the web build,
 * `wrangler dev`, and a once-a-minute cron. Ctrl-C stops every child.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { signToken } from "../protocol/auth.ts";
import { loadDevVars, ensureLocalSecrets, ROOT } from "./dev-vars.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { migrateDatabase } from "./migrate.ts";
import { canConnect, freePort } from "./net.ts";
import { startUpstashServer } from "./upstash-server.ts";
import { startWsProxy } from "./ws-proxy.ts";

const PORT = Number(process.env.PORT ?? 8787);
const STATE = path.join(ROOT, ".fieldpulse");
const quiet = () => {};
const say = (line: string) => process.stdout.write(`${line}\n`);

const stops: (() => Promise<void> | void)[] = [];
let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

/** Start a child in its own process group, so stopping it stops wrangler's workerd too. */
function startGroup(cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit"], detached: true });
  stops.push(() => {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    }
  });
  return child;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: "inherit" });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${code}`);
}

async function main(): Promise<void> {
  fs.mkdirSync(STATE, { recursive: true });
  const secrets = ensureLocalSecrets();
  const devVars = loadDevVars();

  // Postgres: a URL you gave wins; else the embedded one, whose data survives restarts.
  let databaseUrl = process.env.DATABASE_URL ?? devVars.DATABASE_URL;
  if (databaseUrl) {
    say(`postgres   ${new URL(databaseUrl).host} (DATABASE_URL)`);
  } else {
    const pg = await startEmbeddedPostgres({ dataDir: path.join(STATE, "pgdata"), port: await freePort(), log: quiet });
    stops.push(() => pg.close());
    databaseUrl = pg.url;
    say(`postgres   embedded PGlite on 127.0.0.1:${pg.port} (data in .fieldpulse/pgdata)`);
  }
  await migrateDatabase(databaseUrl);
  const proxy = await startWsProxy({ port: await freePort(), log: quiet });
  stops.push(() => proxy.close());

  // Redis: optional in development. Without it: no rate limit, no cron safety net (alarms still flush).
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const redisAddr = new URL(redisUrl);
  let upstash: { url: string; token: string } | null = null;
  if (await canConnect(redisAddr.hostname, Number(redisAddr.port || 6379))) {
    const token = devVars.UPSTASH_REDIS_REST_TOKEN ?? "local-dev-token";
    const server = await startUpstashServer({ redisUrl, token, port: await freePort(), log: quiet });
    stops.push(() => server.close());
    upstash = { url: server.url, token };
    say(`redis      ${redisAddr.host} via a local Upstash REST server at ${server.url}`);
  } else {
    say(`redis      NOT reachable at ${redisUrl}: rate limiting and the cron's dirty-team set are off.`);
    say(`           Start Redis (or set REDIS_URL) and restart to turn them on.`);
  }

  await run("npx", ["vite", "build", "--config", "web/vite.config.ts", "--logLevel", "warn"]);

  const vars: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    NEON_WS_PROXY: `127.0.0.1:${proxy.port}`,
    UPSTASH_REDIS_REST_URL: upstash?.url ?? "",
    UPSTASH_REDIS_REST_TOKEN: upstash?.token ?? "",
  };
  const wrangler = startGroup(
    "npx",
    ["wrangler", "dev", "--ip", "127.0.0.1", "--port", String(PORT), "--test-scheduled", "--show-interactive-dev-session=false",
      "--persist-to", path.join(STATE, "wrangler-state"), ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])],
    {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      XDG_CONFIG_HOME: path.join(STATE, "config"),
    },
  );
  wrangler.on("exit", (code) => {
    if (!stopping) {
      say(`wrangler dev exited (${code}); stopping.`);
      void stopAll(code ?? 1);
    }
  });

  const base = `http://127.0.0.1:${PORT}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const health = await fetch(`${base}/healthz`).then((r) => r.json() as Promise<{ postgres: { ok: boolean } }>).catch(() => null);
    if (health) break;
    if (Date.now() > deadline) throw new Error("wrangler dev did not answer /healthz within 60 s");
    await new Promise((r) => setTimeout(r, 250));
  }

  // The platform runs the cron every minute in production; wrangler dev only on request.
  const cron = setInterval(() => {
    fetch(`${base}/__scheduled?cron=*+*+*+*+*`).catch(() => undefined);
  }, 60_000);
  stops.push(() => clearInterval(cron));

  const secret = secrets.AUTH_SECRET!;
  const manager = await signToken({ team: "demo", sub: "manager-1", role: "manager", name: "Demo Manager", ttlSeconds: 7 * 86400 }, secret);
  const field = await signToken({ team: "demo", sub: "canvasser-1", role: "field", name: "Demo Canvasser", ttlSeconds: 7 * 86400 }, secret);
  say("");
  say(`fieldpulse is up at ${base}`);
  say(`  health        ${base}/healthz`);
  say(`  field app     ${base}/field/#token=${field}`);
  say(`  manager map   ${base}/map/#token=${manager}`);
  say(`  manager token ${manager}`);
  say(`  field token   ${field}`);
  say(`  more tokens   npm run token -- --team demo --user u2 --role field`);
  say("Ctrl-C stops everything.");
}

main().catch((err) => {
  process.stderr.write(`npm run dev failed: ${err instanceof Error ? err.message : String(err)}\n`);
  void stopAll(1);
});
