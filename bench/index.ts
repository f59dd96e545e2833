/**
 * `npm run bench` — every docs/architecture.md "Targets" figure in one run on this machine, side by side:
 *   flush    the flush path vs one INSERT per event vs COPY (bench/flush.ts)
 *   cost     the TeamHub's billed rows, Redis commands and $ per million events at list prices (bench/cost.ts)
 *   seed     the seed story's load, compressed in time, through fieldpulse and through the naive route
 *   ceiling  events/s one TeamHub accepts (20-event batches) until p99 > 50 ms
 *   live     fix accepted → manager socket (bench/live.ts)
 * Prints one table and writes bench/results.json.
 *
 *   npm run bench -- [--parts flush,seed,ceiling,live] [--seed-wall-s 60] [--compression 5]
 *     [--ceiling-step-s 5] [--ceiling-max 64] [--live-managers 50] [--live-devices 1000] [--live-s 30] [--live-tick-ms 250]
 *     [--flush-events 100000] [--naive-events 5000] [--embedded] [--out bench/results.json]
 */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { progressLine, progressPrinter } from "../dev/sim/progress.ts";
import { runCeiling, type CeilingResult } from "./ceiling.ts";
import { formatCost, runCost, type CostResult } from "./cost.ts";
import { formatReport, runFlushBench, type FlushBenchResult } from "./flush.ts";
import { formatLive, runLiveBench, signedMs, type LiveResult } from "./live.ts";
import { runSeedScenario, type SeedResult } from "./seed.ts";
import { startBenchStack, type BenchStack } from "./stack.ts";
import { int, ms, renderTable, verdict, type Row } from "./table.ts";

const PARTS = ["flush", "cost", "seed", "ceiling", "live"] as const;
type Part = (typeof PARTS)[number];

const { values } = parseArgs({
  options: {
    parts: { type: "string", default: PARTS.join(",") },
    "seed-wall-s": { type: "string", default: "60" },
    compression: { type: "string", default: "5" },
    "ceiling-step-s": { type: "string", default: "5" },
    "ceiling-max": { type: "string", default: "64" },
    "live-managers": { type: "string", default: "50" },
    "live-devices": { type: "string", default: "1000" },
    "live-s": { type: "string", default: "30" },
    "live-tick-ms": { type: "string" },
    "flush-events": { type: "string", default: "100000" },
    "naive-events": { type: "string", default: "5000" },
    embedded: { type: "boolean", default: false },
    out: { type: "string", default: "bench/results.json" },
  },
});
const parts = values.parts.split(",").map((p) => p.trim()) as Part[];
for (const p of parts) if (!PARTS.includes(p)) throw new Error(`unknown part ${p} (parts: ${PARTS.join(", ")})`);
const numberFlag = (name: keyof typeof values, min: number, max: number) => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be in ${min}..${max}`);
  return v;
};
const opts = {
  seedWallS: numberFlag("seed-wall-s", 5, 3600), compression: numberFlag("compression", 1, 100),
  ceilingStepS: numberFlag("ceiling-step-s", 1, 120), ceilingMax: numberFlag("ceiling-max", 1, 1024),
  liveManagers: numberFlag("live-managers", 1, 1000), liveDevices: numberFlag("live-devices", 1, 20_000), liveS: numberFlag("live-s", 5, 3600),
  flushEvents: numberFlag("flush-events", 1, 2_000_000), naiveEvents: numberFlag("naive-events", 1, 20_000),
};

const say = (line: string) => process.stderr.write(`${line}\n`);
const printer = progressPrinter(process.stderr, 5_000);
const abort = new AbortController();
let stack: BenchStack | null = null;
process.once("SIGINT", () => {
  say("\ninterrupted: stopping…");
  abort.abort(new Error("interrupted"));
  void (stack?.stop() ?? Promise.resolve()).then(() => process.exit(130));
});

const machine = { date: new Date().toISOString(), cpu: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length, memGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAvgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100) };
const results: { machine: typeof machine; flush?: FlushBenchResult; cost?: CostResult; seed?: SeedResult; ceiling?: CeilingResult; live?: LiveResult; errors: Record<string, string>; loadAvg: Record<string, number[]> } = { machine, errors: {}, loadAvg: {} };
const rows: Row[] = [];
const notes: string[] = [];

async function part<T>(name: Part, run: () => Promise<T>): Promise<T | null> {
  if (!parts.includes(name)) return null;
  say(`\n== ${name}`);
  const t0 = Date.now();
  try {
    const r = await run();
    results.loadAvg[name] = os.loadavg().map((x) => Math.round(x * 100) / 100);
    say(`== ${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s, load average ${results.loadAvg[name]!.join(" ")}`);
    return r;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    printer.done();
    say(`== ${name} failed: ${message}`);
    results.errors[name] = message;
    rows.push({ part: name, figure: "(part failed)", measured: message.split("\n")[0]!.slice(0, 60), target: "", verdict: "error" });
    return null;
  }
}

const started = Date.now();
try {
  const flush = await part("flush", () => runFlushBench({
    events: opts.flushEvents, naiveEvents: opts.naiveEvents, embedded: values.embedded, signal: abort.signal,
    onProgress: (text, done) => (done ? (printer.done(text)) : printer.update(text)),
  }));
  if (flush) {
    results.flush = flush;
    say(formatReport(flush));
    rows.push(
      { part: "flush", figure: "flush rows/s ÷ one-INSERT-per-event rows/s", measured: `${flush.ratios.flushVsNaive.toFixed(0)}× (${int(flush.flush.rowsPerS)} vs ${int(flush.naive.rowsPerS)} rows/s)`, target: "≥ 100×", verdict: verdict(flush.targets.flushVsNaive.met) },
      { part: "flush", figure: "flush rows/s ÷ COPY rows/s", measured: flush.ratios.flushVsCopy === null ? "n/a (PGlite)" : `${flush.ratios.flushVsCopy.toFixed(2)} (COPY ${int(flush.copy!.rowsPerS)} rows/s)`, target: "≥ 0.5", verdict: verdict(flush.targets.flushVsCopy.met) },
    );
  }

  if (parts.some((p) => p !== "flush")) stack = await startBenchStack({ embedded: values.embedded, log: say, maxLifetimeMs: 30 * 60_000 });

  const cost = await part("cost", async () => {
    await stack!.startWorker({});
    try {
      return await runCost(stack!);
    } finally {
      await stack!.stopWorker();
    }
  });
  if (cost) {
    results.cost = cost;
    say(formatCost(cost));
    const fp = cost.lines[0]!;
    rows.push(
      { part: "cost", figure: "TeamHub rows written per event (incl. alarms), 20-event batches", measured: `${fp.rowsWrittenPerEvent.toFixed(3)} (first version: 7.0 + ~2)`, target: "≤ 0.2", verdict: verdict(fp.rowsWrittenPerEvent <= 0.2) },
      { part: "cost", figure: "Redis commands per event", measured: cost.redisCommands === null ? "n/a (no Redis)" : fp.redisCommandsPerEvent.toFixed(4), target: "≤ 0.02", verdict: verdict(cost.redisCommands === null ? null : fp.redisCommandsPerEvent <= 0.02) },
      { part: "cost", figure: "$ per million events, list prices (Workers, DO, SQLite, Upstash)", measured: `$${fp.dollarsPerMillion.toFixed(3)} (first version $${cost.lines[1]!.dollarsPerMillion.toFixed(2)}, naive $${cost.lines[2]!.dollarsPerMillion.toFixed(2)})`, target: "≤ $0.30", verdict: verdict(fp.dollarsPerMillion <= 0.3) },
    );
  }

  const seed = await part("seed", () => runSeedScenario(stack!, {
    wallS: opts.seedWallS, compression: opts.compression, log: say,
    onProgress: (route, p) => printer.update(`seed ${route}: ${progressLine(p, opts.seedWallS * 1000)}`),
  }).finally(() => printer.done()));
  if (seed) {
    results.seed = seed;
    const fp = seed.runs.find((r) => r.route === "fieldpulse")!, naive = seed.runs.find((r) => r.route === "naive")!;
    rows.push(
      { part: "seed", figure: "Postgres statements / 1,000 events", measured: `${fp.statementsPer1000.toFixed(2)} (naive: ${int(naive.statementsPer1000)})`, target: "≤ 2", verdict: verdict(seed.statsMeaningful ? fp.statementsPer1000 <= 2 : null) },
      { part: "seed", figure: "Postgres transactions / 1,000 events (incl. session starts)", measured: `${fp.transactionsPer1000.toFixed(2)} (naive: ${int(naive.transactionsPer1000)})`, target: "—", verdict: "info" },
      { part: "seed", figure: "POST p50 / p99, fieldpulse", measured: `${ms(fp.p50)} / ${ms(fp.p99)}`, target: "—", verdict: "info" },
      { part: "seed", figure: "POST p50 / p99, naive route", measured: `${ms(naive.p50)} / ${ms(naive.p99)}`, target: "—", verdict: "info" },
      { part: "seed", figure: "accepted events in Postgres exactly once", measured: `fieldpulse ${fp.exactlyOnce.ok ? "yes" : "NO"} (${int(fp.exactlyOnce.rows)}), naive ${naive.exactlyOnce.ok ? "yes" : "NO"} (${int(naive.exactlyOnce.rows)})`, target: "0 lost, 0 duplicated", verdict: verdict(fp.exactlyOnce.ok) },
    );
    notes.push(
      `seed: ${seed.devices} devices, a fix every 5 s (${int(seed.rates.fixesPerMin)}/min), ${seed.rates.knocksPerHour} knocks/h, ${seed.rates.leadsPerHour} leads/h; ` +
        `time ×${seed.compression}: ${seed.wallS} s of wall time stand for ${seed.simulatedMinutes.toFixed(1)} min, so requests come ${seed.compression}× as fast; ` +
        `server max ages and the cron period scaled by 1/${seed.compression} (${Object.entries(seed.serverVars).map(([k, v]) => `${k}=${v}`).join(" ")}).`,
      `seed: ${seed.statsNote}. fieldpulse: ${fp.statements} statements (${fp.server.flushes} flushes in the Worker's log, ${fp.server.flushStatements} statements), ${fp.sessions} sessions, ${int(fp.events)} events, answers ${JSON.stringify(fp.byStatus)}; ` +
        `naive: ${int(naive.statements)} statements, ${int(naive.sessions)} sessions, answers ${JSON.stringify(naive.byStatus)}${Object.keys(naive.server.errors).length ? `, server errors ${JSON.stringify(naive.server.errors)}` : ""}.`,
    );
  }

  const ceiling = await part("ceiling", async () => {
    await stack!.startWorker({ vars: {} });
    try {
      return await runCeiling(stack!, { stepS: opts.ceilingStepS, maxConcurrency: opts.ceilingMax, onProgress: say, budgetS: Math.max(60, opts.ceilingStepS * 12) });
    } finally {
      await stack!.stopWorker();
    }
  });
  if (ceiling) {
    results.ceiling = ceiling;
    const at = ceiling.ceilingAt;
    const top = ceiling.steps.reduce((a, s) => (s.eventsPerS > a.eventsPerS ? s : a), ceiling.steps[0]!);
    rows.push({
      part: "ceiling", figure: "events/s one TeamHub accepts, p99 ≤ 50 ms",
      measured: at ? `${int(at.eventsPerS)}/s at ${at.concurrency} concurrent (p99 ${ms(at.p99)})` : `none (1 client: p99 ${ms(ceiling.steps[0]?.p99 ?? NaN)})`,
      target: "≥ 20,000/s", verdict: verdict(at !== null && at.eventsPerS >= 20_000),
    });
    rows.push({ part: "ceiling", figure: "events/s at any latency", measured: `${int(top.eventsPerS)}/s at ${top.concurrency} concurrent (p99 ${ms(top.p99)})`, target: "—", verdict: "info" });
    notes.push(`ceiling: ${ceiling.batch}-event batches, a pool of 2,000 device tokens so the per-device limit (still consulted) never refuses; steps of ${opts.ceilingStepS} s; stopped: ${ceiling.stoppedBecause}.`);
  }

  const live = await part("live", async () => {
    await stack!.startWorker({ vars: { ...(values["live-tick-ms"] ? { LIVE_TICK_MS: values["live-tick-ms"] } : {}) } });
    try {
      const r = await runLiveBench(stack!, { managers: opts.liveManagers, devices: opts.liveDevices, seconds: opts.liveS, onProgress: (l) => printer.update(l) });
      printer.done();
      if (stack!.reloads() > 0) notes.push(`live: wrangler reloaded the Worker ${stack!.reloads()}× during the part (a source file changed under it): sockets may have dropped.`);
      return r;
    } finally {
      await stack!.stopWorker();
    }
  });
  if (live) {
    results.live = live;
    notes.push(`live: LIVE_TICK_MS=${values["live-tick-ms"] ?? "150 (wrangler.toml)"}: positions are coalesced into one frame per tick, so a fix waits up to one tick on top of its request.`);
    say(formatLive(live));
    rows.push({ part: "live", figure: `fix → manager socket p99 (${live.managers} managers, ${int(live.devices)} devices)`, measured: `${ms(live.p99)} from send (p50 ${ms(live.p50)}; from the 202: p99 ${signedMs(live.acceptP99)}), ${(live.delivered * 100).toFixed(1)} % delivered`, target: "≤ 300 ms", verdict: verdict(live.p99 <= 300 && live.delivered >= 0.99 && live.socketsClosedEarly.length === 0) });
    rows.push({ part: "live", figure: "frames/s received (all sockets)", measured: `${int(live.framesPerS)} frames/s, ${int(live.pointsPerS)} points/s`, target: "—", verdict: "info" });
  }
} finally {
  await stack?.stop();
}

const table = renderTable(rows);
const footer = [
  `date ${machine.date} · ${machine.cpu} × ${machine.cores} · ${machine.memGb} GB · node ${machine.node} · load average at start ${machine.loadAvgAtStart.join(" ")} (other work on the machine counts)`,
  ...notes,
  `total ${((Date.now() - started) / 1000).toFixed(0)} s`,
];
console.log(`\n${table}\n\n${footer.join("\n")}`);
await mkdir(path.dirname(path.resolve(values.out)), { recursive: true });
await writeFile(values.out, JSON.stringify({ ...results, table: rows, notes }, null, 2) + "\n");
console.log(`results: ${values.out}`);
process.exit(Object.keys(results.errors).length > 0 ? 1 : 0);
