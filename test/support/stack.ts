/**
 * The real parts the tests run against, planned once per `vitest` run (in vitest.config.ts, so the
 * Worker's bindings can name their ports) and started by globalSetup (test/support/global-setup.ts)
 * with the shared local stack (dev/stack.ts).
 */
import { randomBytes } from "node:crypto";
import { freePort } from "../../dev/net.ts";
import { pickPostgres, postgresUrl, workerVars, type PostgresChoice } from "../../dev/stack.ts";

export interface StackPlan {
  postgres: {
    /** "server": the machine's PostgreSQL (a fresh database per run); "embedded": PGlite in memory. */
    mode: "server" | "embedded";
    /** What dev/stack.ts starts. */
    choice: PostgresChoice;
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

  const suffix = randomBytes(4).toString("hex");
  const picked = await pickPostgres({ database: `fieldpulse_test_${suffix}`, embedded: process.env.FIELDPULSE_TEST_EMBEDDED_PG === "1" });
  // Embedded: the port is fixed now, so the Worker's DATABASE_URL can name it before the stack starts.
  const choice: PostgresChoice = picked.mode === "embedded" ? { mode: "embedded", port: await freePort() } : picked;
  const url = postgresUrl(choice);
  const postgres: StackPlan["postgres"] =
    choice.mode === "server"
      ? { mode: "server", choice, database: choice.database, adminUrl: choice.adminUrl, url }
      : { mode: "embedded", choice, database: "postgres", adminUrl: url, url };

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
  return workerVars({
    databaseUrl: plan.postgres.url,
    proxyPort,
    upstash: { url: `http://127.0.0.1:${plan.upstashPort}`, token: plan.upstashToken },
    redisPrefix: plan.redisPrefix,
    authSecret: plan.authSecret,
    // The control server's dialer stand-in: verifies signatures, answers as a test scripts it.
    dialer: { url: `http://127.0.0.1:${plan.controlPort}/dialer/hook`, secret: plan.dialerSecret },
  });
}
