/**
 * `npm run dev`: the whole system on one machine. Postgres (yours via DATABASE_URL, else an embedded
 * PGlite under .fieldpulse/), migrations, the Neon WebSocket proxy, the Upstash REST server over Redis
 * (REDIS_URL, default redis://127.0.0.1:6379; without Redis the Redis features are off), the web build,
 * `wrangler dev`, and a once-a-minute cron — all started by dev/stack.ts. Ctrl-C stops every child.
 */
import fs from "node:fs";
import path from "node:path";
import { signToken } from "../protocol/auth.ts";
import { loadDevVars, ensureLocalSecrets, ROOT } from "./dev-vars.ts";
import { freePort } from "./net.ts";
import { startStack, type Stack } from "./stack.ts";

const PORT = Number(process.env.PORT ?? 8787);
const STATE = path.join(ROOT, ".fieldpulse");
const say = (line: string) => process.stdout.write(`${line}\n`);

let stack: Stack | null = null;
let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await stack?.stop().catch(() => undefined);
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

async function main(): Promise<void> {
  fs.mkdirSync(STATE, { recursive: true });
  const secrets = ensureLocalSecrets();
  const devVars = loadDevVars();

  // Postgres: a URL you gave wins; else the embedded one, whose data survives restarts.
  // Redis is optional in development: without it, no rate limit and no cron safety net (alarms still flush).
  const databaseUrl = process.env.DATABASE_URL ?? devVars.DATABASE_URL;
  stack = await startStack({
    postgres: databaseUrl ? { mode: "url", url: databaseUrl } : { mode: "embedded", dataDir: path.join(STATE, "pgdata"), port: await freePort() },
    redis: { mode: "optional" },
    upstashToken: devVars.UPSTASH_REDIS_REST_TOKEN ?? "local-dev-token",
    buildWeb: "warn",
    log: say,
  });
  if (!stack.upstash) say(`           Start Redis (or set REDIS_URL) and restart to turn them on.`);

  // AUTH_SECRET and the dialer settings come from .dev.vars, which wrangler reads itself.
  const worker = await stack.startWorker({
    port: PORT,
    persistTo: path.join(STATE, "wrangler-state"),
    logLevel: "log",
    echo: (chunk) => process.stdout.write(chunk),
    // The platform runs the cron every minute in production; wrangler dev only on request.
    cronEveryMs: 60_000,
    onUnexpectedExit: (code) => {
      if (stopping) return;
      say(`wrangler dev exited (${code}); stopping.`);
      void stopAll(code ?? 1);
    },
  });

  const base = worker.url;
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
