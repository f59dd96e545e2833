/**
 * The real parts the tests run against, planned once per `vitest` run (in vitest.config.ts, so the
 * Worker's bindings can name their ports) and started by globalSetup (test/support/global-setup.ts).
 */
import { randomBytes } from "node:crypto";
import { canConnect, freePort } from "../../dev/net.ts";

export interface StackPlan {
  postgres: {
    /** "server": the machine's PostgreSQL (a fresh database per run); "embedded": PGlite in memory. */
    mode: "server" | "embedded";
    host: string;
    port: number;
    user: string;
    database: string;
    /** Where CREATE/DROP DATABASE is run (server mode). */
    adminUrl: string;
    url: string;
  };
  redisUrl: string;
  proxyPort: number;
  /** A second proxy to the same database that tests may cut, to play a Postgres outage. */
  faultProxyPort: number;
  upstashPort: number;
  upstashToken: string;
  controlPort: number;
  /** A port nothing listens on: the faults project's "Redis is down". */
  deadPort: number;
  authSecret: string;
  dialerSecret: string;
  /** Redis keys of this run, deleted at teardown. */
  redisPrefix: string;
}

const PLAN_ENV = "FIELDPULSE_TEST_STACK";

/** Plan once per process: vitest may evaluate the config more than once. */
export async function planStack(): Promise<StackPlan> {
  const existing = process.env[PLAN_ENV];
  if (existing) return JSON.parse(existing) as StackPlan;

  const host = process.env.PGHOST ?? "127.0.0.1";
  const serverPort = Number(process.env.PGPORT ?? 5432);
  const user = process.env.PGUSER ?? "postgres";
  const serverUp = process.env.FIELDPULSE_TEST_EMBEDDED_PG !== "1" && (await canConnect(host, serverPort));
  const suffix = randomBytes(4).toString("hex");
  const postgres: StackPlan["postgres"] = serverUp
    ? {
        mode: "server",
        host,
        port: serverPort,
        user,
        database: `fieldpulse_test_${suffix}`,
        adminUrl: `postgres://${user}@${host}:${serverPort}/postgres`,
        url: `postgres://${user}@${host}:${serverPort}/fieldpulse_test_${suffix}`,
      }
    : await (async () => {
        const port = await freePort();
        const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
        return { mode: "embedded" as const, host: "127.0.0.1", port, user: "postgres", database: "postgres", adminUrl: url, url };
      })();

  const plan: StackPlan = {
    postgres,
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    proxyPort: await freePort(),
    faultProxyPort: await freePort(),
    upstashPort: await freePort(),
    upstashToken: `test-${suffix}`,
    controlPort: await freePort(),
    deadPort: await freePort(),
    authSecret: `test-secret-${suffix}`,
    dialerSecret: `whsec_${randomBytes(24).toString("base64")}`,
    redisPrefix: `fp-test-${suffix}`,
  };
  process.env[PLAN_ENV] = JSON.stringify(plan);
  return plan;
}

/** The Worker's bindings in tests: same names as production, pointing at the local stand-ins. */
export function workerBindings(plan: StackPlan, proxyPort = plan.proxyPort): Record<string, string> {
  return {
    DATABASE_URL: plan.postgres.url,
    NEON_WS_PROXY: `127.0.0.1:${proxyPort}`,
    UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${plan.upstashPort}`,
    UPSTASH_REDIS_REST_TOKEN: plan.upstashToken,
    AUTH_SECRET: plan.authSecret,
    // The control server's dialer stand-in: verifies signatures, answers as a test scripts it.
    DIALER_WEBHOOK_URL: `http://127.0.0.1:${plan.controlPort}/dialer/hook`,
    DIALER_WEBHOOK_SECRET: plan.dialerSecret,
    REDIS_PREFIX: plan.redisPrefix,
  };
}
