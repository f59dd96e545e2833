// The fault drills of `npm run drill`, in their short CI form, each against a real wrangler dev, Postgres
// (a fresh fieldpulse_bench_* database), the Neon proxy and Redis: lose nothing, write nothing twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DrillContext, DrillResult } from "../../bench/drill-common.ts";
import { DRILLS, formatDrill } from "../../bench/drill.ts";
import { startBenchStack, type BenchStack } from "../../bench/stack.ts";

let stack: BenchStack;
const log: string[] = [];
const ctx = (): DrillContext => ({ stack, short: true, say: (l) => log.push(l) });

/** The drill's own lines and everything it said: what a failing run needs to be understood. */
const explain = (r: DrillResult) => `${formatDrill(r)}\n--- log\n${log.slice(-40).join("\n")}`;

beforeAll(async () => {
  stack = await startBenchStack({ maxLifetimeMs: 4 * 60_000, log: (l) => log.push(l) });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

// Each drill bounds itself (60 s in the short form) and stops its wrangler before returning.
describe("drills, short form", () => {
  it("Postgres outage: every accepted event lands exactly once after the proxy comes back", async () => {
    const r = await DRILLS.outage(ctx());
    expect(r.pass, explain(r)).toBe(true);
    expect(r.figures.drainMs).toBeTypeOf("number");
  }, 75_000);

  it("crash between COMMIT and DELETE: the re-sent rows are ignored, exactly once", async () => {
    const r = await DRILLS.crash(ctx());
    expect(r.pass, explain(r)).toBe(true);
  }, 75_000);

  it("burst over a small high-water mark: 503 + Retry-After, phones wait, exactly once", async () => {
    const r = await DRILLS.burst(ctx());
    expect(r.pass, explain(r)).toBe(true);
  }, 75_000);
});
