/**
 * `npm run dev`: the whole system on one machine. Postgres (yours via DATABASE_URL, else an embedded
 * PGlite under .fieldpulse/), migrations, the Neon WebSocket proxy, the Upstash REST server over Redis
 * (REDIS_URL, default redis://127.0.0.1:6379; without Redis the Redis features are off), the web build,
 * `wrangler dev`, and a once-a-minute cron — all started by dev/stack.ts. Ctrl-C stops every child.
 */
import fs from "node:fs";
import path from "node:path";
import { maxTtl } from "../common/config.ts";
import { signToken } from "../protocol/auth.ts";
import { loadDevVars, ensureLocalSecrets, ROOT } from "./dev-vars.ts";
import { freePort, portInUse, portInUseMessage } from "./net.ts";
import { startStack, type Stack } from "./stack.ts";

const PORT = Number(process.env.PORT || 8787);
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

/** "12 h, until Sun 6 Dec 19:04" for a token's exp. */
function expiry(token: string): string {
  const { iat, exp } = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as { iat: number; exp: number };
  const s = exp - iat;
  const span = s % 86400 === 0 ? `${s / 86400} day${s === 86400 ? "" : "s"}` : s % 3600 === 0 ? `${s / 3600} h` : `${Math.round(s / 60)} min`;
  const until = new Date(exp * 1000).toLocaleString("en-GB", { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  return `(valid ${span}, until ${until})`;
}

async function main(): Promise<void> {
  // Before anything is built or started: a second `npm run dev` would otherwise rebuild dist/web under the
  // first one (which reloads it) and read the first one's /healthz as its own.
  if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) {
    process.stderr.write(`PORT=${process.env.PORT} is not a port number (1-65535)\n`);
    process.exit(2);
  }
  if (await portInUse(PORT)) {
    process.stderr.write(`${portInUseMessage(PORT)}\n`);
    process.exit(1);
  }
  fs.mkdirSync(STATE, { recursive: true });
  const secrets = ensureLocalSecrets(undefined, (keys, file) => say(`secrets    ${keys.join(" and ")} generated into ${path.relative(process.cwd(), file) || file} (wrangler dev reads it)`));
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
    // Up, but /healthz 503: say what is wrong below rather than stop (the settings are yours to fix).
    acceptMisconfigured: true,
    onUnexpectedExit: (code) => {
      if (stopping) return;
      say(`wrangler dev exited (${code}); stopping.`);
      void stopAll(code ?? 1);
    },
  });

  const base = worker.url;
  const secret = secrets.AUTH_SECRET!;
  // As long as the Worker lets each role's token live (TOKEN_MAX_TTL_S / _FIELD_S), field at most 7 days.
  const caps = maxTtl(devVars);
  const manager = await signToken({ team: "demo", sub: "manager-1", role: "manager", name: "Demo Manager", ttlSeconds: caps.manager }, secret, caps);
  const field = await signToken({ team: "demo", sub: "canvasser-1", role: "field", name: "Demo Canvasser", ttlSeconds: Math.min(7 * 86400, caps.field) }, secret, caps);
  say("");
  say(`fieldpulse is up at ${base}`);
  if (worker.health?.status === "misconfigured") {
    const problems = Array.isArray(worker.health.problems) ? worker.health.problems : [];
    say(`  BUT /healthz says misconfigured (503), so API calls may fail: ${problems.join("; ") || "see /healthz"}`);
  }
  say(`  health        ${base}/healthz`);
  say(`  field app     ${base}/field/#token=${field}  ${expiry(field)}`);
  say(`  manager map   ${base}/map/#token=${manager}  ${expiry(manager)}`);
  say(`  manager token ${manager}  ${expiry(manager)}`);
  say(`  field token   ${field}  ${expiry(field)}`);
  say(`  more tokens   npm run token -- --team demo --user u2 --role field`);
  say("Ctrl-C stops everything.");
}

main().catch((err) => {
  process.stderr.write(`npm run dev failed: ${err instanceof Error ? err.message : String(err)}\n`);
  void stopAll(1);
});
