/**
 * Starts the real parts once per test run with the shared local stack (dev/stack.ts), as planned in
 * test/support/stack.ts: a fresh database (migrated) on the machine's Postgres or an embedded PGlite, the
 * Neon WebSocket proxy and the fault proxy, the Upstash REST server over Redis (a throwaway redis-server when
 * none answers), the web build the browser tests serve, and a small control server through which workerd
 * tests read Postgres with node `pg` and cut the fault proxy. `wrangler dev` is started per browser test file.
 */
import type { TestProject } from "vitest/node";
import { startStack, type Stack } from "../../dev/stack.ts";
import { startControlServer } from "./control-server.ts";
import { planStack, type StackPlan } from "./stack.ts";

type Running = { refs: number; stop: () => Promise<void> };
const g = globalThis as typeof globalThis & { __fieldpulseStack?: Promise<Running> };

async function start(plan: StackPlan): Promise<Running> {
  const stack: Stack = await startStack({
    postgres: plan.postgres.choice,
    redis: { url: plan.redisUrl, mode: "required" },
    redisPrefix: plan.redisPrefix,
    ports: { proxy: plan.proxyPort, faultProxy: plan.faultProxyPort, upstash: plan.upstashPort },
    faultProxy: true,
    upstashToken: plan.upstashToken,
    buildWeb: "error",
    // Only what went wrong: a test run's output is the tests'.
    log: (line) => line.startsWith("teardown") && console.error(line),
  });
  try {
    const control = await startControlServer({ port: plan.controlPort, databaseUrl: plan.postgres.url, faultProxy: stack.faultProxy!, redisUrl: stack.redisUrl!, dialerSecret: plan.dialerSecret });
    stack.onStop(() => control.close());
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return { refs: 0, stop: () => stack.stop() };
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
