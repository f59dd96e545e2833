/**
 * `npm run simulate -- --devices 200 --minutes 10 [--url http://127.0.0.1:8787] [--team demo] [--fix-interval-s 5]`
 *
 * Simulated canvassers walk a street grid, knock on doors, submit leads and send it all to a local
 * fieldpulse the way the PWA does. With `npm run dev` running, the manager map fills with moving people.
 * Tokens are minted from .dev.vars' AUTH_SECRET. Stops by itself after --minutes; Ctrl-C stops cleanly.
 */
import { parseArgs } from "node:util";
import { signToken } from "../protocol/auth.ts";
import { ensureLocalSecrets } from "./dev-vars.ts";
import { runFleet } from "./sim/fleet.ts";
import { DEFAULT_GRID } from "./sim/geo.ts";
import { progressLine, progressPrinter } from "./sim/progress.ts";
import { fmtInt, fmtMs } from "./sim/stats.ts";
import { assertLocalUrl, createTransport } from "./sim/transport.ts";

const USAGE = `usage: npm run simulate -- [--devices 200] [--minutes 10] [--url http://127.0.0.1:8787] [--team demo]
       [--fix-interval-s 5] [--knocks-per-hour 20] [--lead-share 0.1] [--activities-per-hour 1]
       [--offline-per-hour 0.5] [--lat 30.2672 --lng -97.7431] [--blocks 12] [--block-m 110]
       [--time-scale 1] [--seed 1]`;

function num(name: string, raw: string | undefined, min: number, max: number): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be a number in ${min}..${max} (got ${raw})`);
  return v;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      devices: { type: "string", default: "200" },
      minutes: { type: "string", default: "10" },
      url: { type: "string", default: process.env.FIELDPULSE_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8787}` },
      team: { type: "string", default: "demo" },
      "fix-interval-s": { type: "string", default: "5" },
      "knocks-per-hour": { type: "string", default: "20" },
      "lead-share": { type: "string", default: "0.1" },
      "activities-per-hour": { type: "string", default: "1" },
      "offline-per-hour": { type: "string", default: "0.5" },
      lat: { type: "string", default: String(DEFAULT_GRID.origin.lat) },
      lng: { type: "string", default: String(DEFAULT_GRID.origin.lng) },
      blocks: { type: "string", default: String(DEFAULT_GRID.blocks) },
      "block-m": { type: "string", default: String(DEFAULT_GRID.blockM) },
      "time-scale": { type: "string", default: "1" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let opts;
  try {
    assertLocalUrl(values.url);
    opts = {
      devices: num("devices", values.devices, 1, 20_000),
      minutes: num("minutes", values.minutes, 0.01, 24 * 60),
      fixIntervalS: num("fix-interval-s", values["fix-interval-s"], 0.2, 3600),
      knocksPerHour: num("knocks-per-hour", values["knocks-per-hour"], 0, 600),
      leadShare: num("lead-share", values["lead-share"], 0, 0.2),
      activitiesPerHour: num("activities-per-hour", values["activities-per-hour"], 0, 600),
      offlinePerHour: num("offline-per-hour", values["offline-per-hour"], 0, 60),
      lat: num("lat", values.lat, -85, 85),
      lng: num("lng", values.lng, -180, 180),
      blocks: num("blocks", values.blocks, 1, 200),
      blockM: num("block-m", values["block-m"], 20, 1000),
      timeScale: num("time-scale", values["time-scale"], 0.01, 1000),
      seed: num("seed", values.seed, 0, 2 ** 31),
    };
    if (!Number.isInteger(opts.devices)) throw new Error("--devices must be a whole number");
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }

  // Is anyone there? A clear message beats a screen of network errors.
  const probe = createTransport(values.url, { timeoutMs: 3_000 });
  const { reply } = await probe.get("/healthz");
  probe.close();
  if (reply.kind === "network") {
    console.error(`no fieldpulse at ${values.url} (${reply.error}). Start it with \`npm run dev\`, or pass --url.`);
    return 1;
  }

  const { AUTH_SECRET } = ensureLocalSecrets();
  // Tokens are signed with .dev.vars' secret: a server started with another one would answer 401 forever.
  const check = createTransport(values.url, { timeoutMs: 5_000 });
  const manager = await signToken({ team: values.team, sub: "sim-manager", role: "manager", ttlSeconds: 300 }, AUTH_SECRET!);
  const auth = await check.get("/v1/metrics", manager);
  check.close();
  if (auth.reply.kind === "http" && auth.reply.status === 401) {
    console.error(`${values.url} refuses tokens signed with .dev.vars' AUTH_SECRET: was it started with another secret?`);
    return 1;
  }
  const durationMs = Math.round(opts.minutes * 60_000);
  const abort = new AbortController();
  let interrupts = 0;
  process.on("SIGINT", () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stderr.write("\nstopping: sending what the phones still hold (Ctrl-C again to quit at once)…\n");
    abort.abort();
  });
  process.on("SIGTERM", () => abort.abort());

  console.log(`simulating ${opts.devices} canvassers of team "${values.team}" for ${opts.minutes} min against ${values.url}` +
    (opts.timeScale !== 1 ? ` (time ×${opts.timeScale})` : "") +
    ` — a fix every ${opts.fixIntervalS} s, ~${opts.knocksPerHour} knocks/h each, leads for ${Math.round(opts.leadShare * 100)} % of knocks`);
  const printer = progressPrinter();
  const report = await runFleet({
    url: values.url,
    team: values.team,
    devices: opts.devices,
    durationMs,
    authSecret: AUTH_SECRET!,
    timeScale: opts.timeScale,
    seed: opts.seed,
    grid: { origin: { lat: opts.lat, lng: opts.lng }, blocks: opts.blocks, blockM: opts.blockM },
    canvasser: {
      fixIntervalS: opts.fixIntervalS,
      knocksPerHour: opts.knocksPerHour,
      leadShare: opts.leadShare,
      activitiesPerHour: opts.activitiesPerHour,
      offlinePerHour: opts.offlinePerHour,
    },
    metricsEveryMs: 2_000,
    signal: abort.signal,
    onProgress: (p) => printer.update(progressLine(p, durationMs)),
  });
  printer.done();
  const c = report.counts;
  console.log(
    `done in ${(report.wallMs / 1000).toFixed(1)} s${report.aborted ? " (interrupted)" : ""}: ` +
      `${fmtInt(c.generated)} events made, ${fmtInt(c.accepted)} accepted (${fmtInt(c.duplicates)} already there), ` +
      `${fmtInt(c.rejected)} rejected, ${fmtInt(c.refused)} refused then retried, ${fmtInt(report.stillQueued)} still on the phones; ` +
      `${fmtInt(c.requests)} requests, p50 ${fmtMs(report.p50)} ms, p99 ${fmtMs(report.p99)} ms; ` +
      `answers ${Object.entries(c.byStatus).map(([s, n]) => `${s}×${n}`).join(" ")}`,
  );
  return report.stillQueued === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`simulate failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
