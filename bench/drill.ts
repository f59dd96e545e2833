/**
 * `npm run drill [-- --short] [--only outage,crash,burst]` — break things on purpose and check that no
 * event is lost or written twice. Each drill is bounded in time and ends with a PASS/FAIL line; the exit
 * code is non-zero if any failed. `--short` is the CI form: seconds, not minutes.
 *   outage  the Neon proxy refuses Postgres connections mid-run (60 s; short: 6 s), then comes back
 *   crash   wrangler is SIGKILLed between a flush's COMMIT and its DELETE, then restarted on the same state
 *   burst   10× the seed load against a small BUFFER_HIGH_WATER: 503 + Retry-After, phones back off
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { burstDrill } from "./drill-burst.ts";
import type { DrillContext, DrillResult } from "./drill-common.ts";
import { crashDrill } from "./drill-crash.ts";
import { outageDrill } from "./drill-outage.ts";
import { startBenchStack } from "./stack.ts";

export const DRILLS = { outage: outageDrill, crash: crashDrill, burst: burstDrill } as const;
export type DrillName = keyof typeof DRILLS;

export interface DrillRunOptions {
  short?: boolean;
  only?: DrillName[];
  embedded?: boolean;
  say?: (line: string) => void;
}

export function formatDrill(r: DrillResult): string {
  return [...r.lines.map((l) => `  ${l}`), `${r.pass ? "PASS" : "FAIL"} ${r.name} (${r.seconds.toFixed(1)} s)`].join("\n");
}

/** One stack (database, proxy, Redis prefix) for all drills; each drill starts its own wrangler. */
export async function runDrills(opts: DrillRunOptions = {}): Promise<DrillResult[]> {
  const say = opts.say ?? (() => {});
  const stack = await startBenchStack({ embedded: opts.embedded, log: say, maxLifetimeMs: (opts.short ? 5 : 20) * 60_000 });
  const ctx: DrillContext = { stack, short: opts.short ?? false, say };
  const results: DrillResult[] = [];
  try {
    for (const name of opts.only ?? (Object.keys(DRILLS) as DrillName[])) {
      const r = await DRILLS[name](ctx);
      say(formatDrill(r));
      results.push(r);
    }
  } finally {
    await stack.stop();
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { short: { type: "boolean", default: false }, only: { type: "string" }, embedded: { type: "boolean", default: false } } });
  const only = values.only?.split(",").map((s) => s.trim()) as DrillName[] | undefined;
  for (const n of only ?? []) if (!(n in DRILLS)) throw new Error(`unknown drill ${n} (drills: ${Object.keys(DRILLS).join(", ")})`);
  process.once("SIGINT", () => process.exit(130)); // the stack's exit hook kills wrangler
  const t0 = Date.now();
  const results = await runDrills({ short: values.short, only, embedded: values.embedded, say: (l) => console.log(l) });
  console.log(`\n${results.map((r) => `${r.pass ? "PASS" : "FAIL"}  ${r.name}  ${r.seconds.toFixed(1)} s`).join("\n")}`);
  console.log(`${results.filter((r) => r.pass).length}/${results.length} drills passed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exit(results.every((r) => r.pass) ? 0 : 1);
}
