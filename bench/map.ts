/**
 * bench:map — the manager's map in Chromium with 1,000 and 5,000 simulated people. A local server
 * serves the built page (dist/web) and plays the live socket: a synthetic snapshot, then `positions`
 * frames (each person moves every 5 s, sent 4 times a second, as the TeamHub coalesces them). Side by side
 * in one run, so the machine's speed cancels out:
 *   - first dots: navigation → the first rendered frame with people drawn, against the same page's first
 *     idle with nobody (the target: ≤ 1.5× at 1,000, ≤ 2× at 5,000);
 *   - main-thread ms per positions frame: the page's own handling + draw (User Timing), and all
 *     main-thread work (CDP TaskDuration) over the stream divided by frames, rendering included;
 *   - dropped frames: animation frames missed while the stream runs (60 Hz expected).
 *
 *   npm run build && tsx bench/map.ts [--people 1000,5000] [--seconds 10] [--runs 1]
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";
import { chromium, type Browser } from "playwright-core";
import { WebSocketServer, type WebSocket } from "ws";
import { signToken } from "../protocol/auth.ts";
import { LIVE_PROTOCOL, PONG, snapshotMessage, type LiveKnock, type LivePoint, type Snapshot } from "../protocol/live.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const WEB = path.join(ROOT, "dist/web");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CENTER = { lat: 52.52, lng: 13.405 };
const FRAME_EVERY_MS = 250;
const MOVE_EVERY_MS = 5_000;
const OUTCOMES = ["interested", "callback", "no_answer", "not_interested", "do_not_knock", "other"] as const;
const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json", ".woff2": "font/woff2", ".webmanifest": "application/manifest+json" };

/** A small seeded generator: the same people in every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

interface Person {
  userId: string;
  name: string;
  lat: number;
  lng: number;
}

function team(n: number): Person[] {
  const r = rng(n + 7);
  // Spread over ~10 km: a city's field team.
  return Array.from({ length: n }, (_, i) => ({ userId: `u-${i}`, name: `Person ${i}`, lat: CENTER.lat + (r() - 0.5) * 0.09, lng: CENTER.lng + (r() - 0.5) * 0.15 }));
}

function snapshotFor(people: Person[], now: number): Snapshot {
  const r = rng(people.length + 11);
  const users: LivePoint[] = people.map((p, i) => ({ userId: p.userId, name: p.name, lat: p.lat, lng: p.lng, at: now - (i % 10 === 0 ? 5 * 60_000 : 20_000), accuracy: 8, battery: 0.7 }));
  const trails: Snapshot["trails"] = {};
  for (const p of people) trails[p.userId] = Array.from({ length: 10 }, (_, k) => [p.lng - (10 - k) * 0.00005, p.lat, now - (10 - k) * 60_000] as [number, number, number]);
  // Two knocks per person over the day, at most what a snapshot carries.
  const knocks: LiveKnock[] = Array.from({ length: Math.min(5_000, people.length * 2) }, (_, i) => {
    const p = people[i % people.length]!;
    return { id: `k-${i}`, userId: p.userId, lat: p.lat + (r() - 0.5) * 0.002, lng: p.lng + (r() - 0.5) * 0.002, at: now - Math.floor(r() * 8 * 3_600_000), outcome: OUTCOMES[i % OUTCOMES.length]! };
  });
  const knockCounts: Snapshot["knockCounts"] = {};
  for (const k of knocks) {
    const c = (knockCounts[k.userId] ??= {});
    c[k.outcome] = (c[k.outcome] ?? 0) + 1;
  }
  const snapshot: Snapshot = {
    type: "snapshot",
    serverTime: now,
    users,
    trails,
    knocks,
    knocksTotal: knocks.length,
    knockCounts,
    leads: [],
    queue: { depth: 0, oldestAgeMs: null, lastFlushAt: now - 2_000, lastFlushRows: 0, consecutiveFailures: 0, lastError: null, quarantinedTotal: 0, dialer: { configured: false, pending: 0, retrying: 0, delivered: 0, stopped: 0, dead: 0, oldestPendingAgeMs: null, lastError: null } },
  };
  // The page drops frames that do not match the protocol: fail here instead, loudly.
  const checked = snapshotMessage.safeParse(snapshot);
  if (!checked.success) throw new Error(`bench snapshot does not match the protocol: ${JSON.stringify(checked.error.issues.slice(0, 3))}`);
  return checked.data;
}

/** The page and a fake live socket on one origin. `onSocket` gets each manager connection. */
function serve(onSocket: (ws: WebSocket) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let file = path.join(WEB, decodeURIComponent(url.pathname));
    if (!file.startsWith(WEB)) return void res.writeHead(403).end();
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
    if (!fs.existsSync(file)) return void res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"code":"not_found","message":"no"}}');
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  const wss = new WebSocketServer({ server, path: "/v1/live", handleProtocols: (protocols) => (protocols.has(LIVE_PROTOCOL) ? LIVE_PROTOCOL : false) });
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      if (String(data).includes('"ping"')) ws.send(PONG);
    });
    onSocket(ws);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { wss.close(); server.closeAllConnections(); server.close(() => r()); }) });
    }),
  );
}

/** In the page before its scripts: note the first idle map, the first frame with people drawn, and animation frames. */
const PROBE = `
window.__bench = { idleAt: null, dotsAt: null, rafs: [] };
(function watch() {
  const map = window.__map;
  if (!map) return void requestAnimationFrame(watch);
  map.once("idle", () => { window.__bench.idleAt = performance.now(); });
  const onRender = () => {
    if (window.__bench.dotsAt !== null || !map.getLayer("people-circle")) return;
    if (map.queryRenderedFeatures({ layers: ["people-circle", "people-clusters"] }).length > 0) {
      window.__bench.dotsAt = performance.now();
      map.off("render", onRender);
    }
  };
  map.on("render", onRender);
})();
`;

interface RunResult {
  people: number;
  firstIdleMs: number | null;
  firstDotsMs: number | null;
  frames: number;
  handleMs: number;
  drawMs: number;
  taskMsPerFrame: number;
  droppedFrames: number;
  rafFrames: number;
}

async function run(browser: Browser, n: number, seconds: number): Promise<RunResult> {
  const people = team(n);
  const sockets = new Set<WebSocket>();
  const server = await serve((ws) => {
    sockets.add(ws);
    ws.on("close", () => sockets.delete(ws));
    ws.send(JSON.stringify(snapshotFor(people, Date.now())));
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  try {
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`  page error: ${e.message}`));
    await page.addInitScript(PROBE);
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    const token = await signToken({ team: "bench", sub: "mgr", role: "manager", name: "Bench" }, "bench-secret-not-checked-by-the-page");
    await page.goto(`${server.url}/map/?style=none#token=${token}`);
    // With nobody, "first dots" never comes: the first idle is the page's baseline.
    await page.waitForFunction((n) => window.__bench?.idleAt !== null && (n === 0 || window.__bench.dotsAt !== null), n, { timeout: 120_000, polling: 50 });
    const first = await page.evaluate(() => ({ idleAt: window.__bench.idleAt, dotsAt: window.__bench.dotsAt }));
    if (n === 0) return { people: 0, firstIdleMs: first.idleAt, firstDotsMs: null, frames: 0, handleMs: 0, drawMs: 0, taskMsPerFrame: 0, droppedFrames: 0, rafFrames: 0 };
    // Settle: the snapshot's whole first render done before the stream is measured.
    await page.evaluate(() => new Promise<void>((r) => window.__map!.once("idle", () => r())));

    // Strings, not functions: tsx's helpers (__name) do not exist in the page.
    await page.evaluate(`(() => {
      performance.clearMeasures();
      const b = window.__bench;
      b.rafs = [];
      const loop = (t) => {
        b.rafs.push(t);
        if (b.rafs.length < 100000) requestAnimationFrame(loop);
      };
      requestAnimationFrame(loop);
    })()`);
    const taskBefore = await taskDuration(cdp);
    const perFrame = Math.max(1, Math.round(n * (FRAME_EVERY_MS / MOVE_EVERY_MS)));
    let frames = 0;
    let cursor = 0;
    const r = rng(n + 3);
    const end = Date.now() + seconds * 1_000;
    while (Date.now() < end) {
      const now = Date.now();
      const points: LivePoint[] = [];
      for (let i = 0; i < perFrame; i++) {
        const p = people[cursor++ % n]!;
        p.lat += (r() - 0.5) * 0.0004;
        p.lng += (r() - 0.5) * 0.0006;
        points.push({ userId: p.userId, lat: p.lat, lng: p.lng, at: now, accuracy: 8 });
      }
      const frame = JSON.stringify({ type: "positions", serverTime: now, points });
      for (const ws of sockets) ws.send(frame);
      frames++;
      await new Promise((res) => setTimeout(res, FRAME_EVERY_MS - (Date.now() - now)));
    }
    // Let the last frame be drawn before counting.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const taskAfter = await taskDuration(cdp);
    const timing = await page.evaluate<{ handle: number; handled: number; draw: number; dropped: number; rafFrames: number }>(`(() => {
      const sum = (name) => performance.getEntriesByName(name, "measure").reduce((a, e) => a + e.duration, 0);
      const count = (name) => performance.getEntriesByName(name, "measure").length;
      const rafs = window.__bench.rafs;
      let dropped = 0;
      for (let i = 1; i < rafs.length; i++) dropped += Math.max(0, Math.round((rafs[i] - rafs[i - 1]) / (1000 / 60)) - 1);
      return { handle: sum("fieldpulse:frame:positions"), handled: count("fieldpulse:frame:positions"), draw: sum("fieldpulse:draw"), dropped, rafFrames: rafs.length };
    })()`);
    const handled = Math.max(1, timing.handled);
    return {
      people: n,
      firstIdleMs: first.idleAt,
      firstDotsMs: first.dotsAt,
      frames: timing.handled,
      handleMs: timing.handle / handled,
      // Draws coalesce frames (one per animation frame): their total over the frames handled.
      drawMs: timing.draw / handled,
      taskMsPerFrame: ((taskAfter - taskBefore) * 1000) / Math.max(1, frames),
      droppedFrames: timing.dropped,
      rafFrames: timing.rafFrames,
    };
  } finally {
    await context.close();
    await server.close();
  }
}

async function taskDuration(cdp: { send(m: "Performance.getMetrics"): Promise<{ metrics: { name: string; value: number }[] }> }): Promise<number> {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return metrics.find((m) => m.name === "TaskDuration")?.value ?? 0;
}

declare global {
  interface Window {
    __bench: { idleAt: number | null; dotsAt: number | null; rafs: number[] };
    __map?: import("maplibre-gl").Map;
  }
}

const fmt = (v: number | null, digits = 0) => (v === null ? "—" : v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { people: { type: "string", default: "1000,5000" }, seconds: { type: "string", default: "10" }, runs: { type: "string", default: "1" } } });
  if (!fs.existsSync(path.join(WEB, "map/index.html"))) throw new Error("dist/web is not built: run `npm run build` first");
  const sizes = values.people.split(",").map(Number).filter((n) => n > 0);
  const seconds = Number(values.seconds);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--use-gl=angle", "--use-angle=swiftshader", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  const rows: (RunResult & { ratio: number | null; baseline: number })[] = [];
  try {
    for (let runNo = 0; runNo < Number(values.runs); runNo++) {
      // The baseline first and between sizes: the same page, the same machine, moments apart.
      for (const n of sizes) {
        const base = await run(browser, 0, seconds);
        const r = await run(browser, n, seconds);
        const baseline = base.firstIdleMs ?? NaN;
        rows.push({ ...r, baseline, ratio: r.firstDotsMs === null ? null : r.firstDotsMs / baseline });
        console.error(`  ${n} people: first dots ${fmt(r.firstDotsMs)} ms vs empty idle ${fmt(baseline)} ms`);
      }
    }
  } finally {
    await browser.close();
  }
  console.log("\nbench:map — Chromium (software WebGL), positions frames every 250 ms, each person moving every 5 s\n");
  console.log("| people | empty page idle | first dots | ratio | frames | page ms/frame (handle + draw) | main thread ms/frame (all) | dropped frames |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${fmt(r.people)} | ${fmt(r.baseline)} ms | ${fmt(r.firstDotsMs)} ms | ${fmt(r.ratio, 2)}× | ${r.frames} | ${fmt(r.handleMs + r.drawMs, 2)} (${fmt(r.handleMs, 2)} + ${fmt(r.drawMs, 2)}) | ${fmt(r.taskMsPerFrame, 1)} | ${fmt(r.droppedFrames)} of ${fmt(r.rafFrames + r.droppedFrames)} |`,
    );
  }
}

await main();
