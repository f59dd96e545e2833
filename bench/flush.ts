/**
 * bench:flush — docs/architecture.md "Targets": the flush path (one transaction per batch, one unnest() INSERT)
 * must write ≥ 100× the rows/s of one INSERT per event and ≥ 0.5× the rows/s of COPY.
 * Same events, same schema (migrations/), a fresh database; the flush path runs the production code
 * (db/bulk.ts + db/client.ts) through the Neon driver and the local WebSocket proxy.
 *
 *   tsx bench/flush.ts [--events 100000] [--batch 5000] [--naive-events 5000]
 *                      [--out bench/flush-results.json] [--database-url postgres://…/postgres] [--embedded]
 */
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import ws from "ws";
import { neonConfig } from "@neondatabase/serverless";
import { COLUMNS, TABLE, type BufferedEvent } from "../db/bulk.ts";
import { withDb, type DbEnv } from "../db/client.ts";
import { writeBatch } from "../durable-objects/flush.ts";

// The production writer opens its own pools: in Node they need the ws package as their WebSocket.
neonConfig.webSocketConstructor = ws;
import { startEmbeddedPostgres } from "../dev/embedded-postgres.ts";
import { migrateDatabase } from "../dev/migrate.ts";
import { startWsProxy } from "../dev/ws-proxy.ts";
import { ingestEvent } from "../protocol/ingest.ts";

// pg-copy-streams ships no types (and we add no @types package): type the one function we use.
const { from: copyFrom } = createRequire(import.meta.url)("pg-copy-streams") as {
  from: (sql: string) => pg.Submittable & Writable;
};

export interface FlushBenchOptions {
  events?: number; // default 100,000
  batch?: number; // default 5,000 = FLUSH_BATCH_ROWS
  naiveEvents?: number; // default 5,000: the naive path manages only hundreds of rows/s, so it gets a sample
  databaseUrl?: string; // a server's admin URL; the bench creates and drops its own database there
  embedded?: boolean; // force PGlite even when a server is reachable
  signal?: AbortSignal; // checked between statements: Ctrl-C still drops the database
  onProgress?: (line: string, done: boolean) => void;
}
export interface MethodResult {
  method: string; transport: string; rows: number; seconds: number; rowsPerS: number; statements: number; statementsPer1000: number;
}
export interface FlushBenchResult {
  date: string;
  machine: { cpu: string; cores: number; node: string; server: string; postgres: string };
  options: { events: number; batch: number; naiveEvents: number };
  naive: MethodResult; flush: MethodResult; resend: MethodResult & { rowsAfter: number };
  copy: MethodResult | null; // null on embedded PGlite, whose socket server cannot do COPY FROM STDIN
  ratios: { flushVsNaive: number; flushVsCopy: number | null };
  targets: { flushVsNaive: { target: number; met: boolean }; flushVsCopy: { target: number; met: boolean | null } };
}

const EMBEDDED = "embedded PGlite";
const DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const MAX_EVENTS = 2_000_000; // a few minutes and ~1 GB of events in memory: the most a bench run may take
const MAX_NAIVE = 20_000; // ~1 min at the naive path's ~350 rows/s
const DEADLINE_MS = 15 * 60_000; // every loop checks it, so a stuck or crawling run stops by itself
const TABLE_NAME = TABLE.location;
const COLS = COLUMNS.location;
const NAMES = COLS.map((c) => `"${c.name}"`).join(", ");
// The naive path and COPY send timestamps as ISO text, as a plain client would.
const isTimestamp = (c: (typeof COLS)[number]) => c.wire.select("x") !== "x" && c.wire.param === "float8";
const rowValues = (b: BufferedEvent) => COLS.map((c) => (isTimestamp(c) ? new Date(c.value(b) as number).toISOString() : c.value(b)));

/** Seed load: 200 canvassers walking around Austin, a fix every 5 s, each validated like ingest does. */
export function makeLocationEvents(n: number, devices = 200): BufferedEvent[] {
  // A seeded LCG so every run walks the same streets (ids stay random UUIDs, as devices make them).
  let seed = 20261128;
  const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
  const walkers = Array.from({ length: devices }, () => ({ lat: 30.2672 + gauss() * 0.04, lng: -97.7431 + gauss() * 0.04, heading: rand() * 360 }));
  const ticks = Math.ceil(n / devices);
  const start = Date.now() - ticks * 5_000 - 60_000; // all in the past: ingest refuses far-future times
  const out: BufferedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const d = i % devices, tick = Math.floor(i / devices), w = walkers[d]!;
    w.heading = (w.heading + gauss() * 25 + 360) % 360;
    const speed = Math.abs(1.4 + gauss() * 0.4); // walking, m/s
    const rad = (w.heading * Math.PI) / 180;
    w.lat += (Math.cos(rad) * speed * 5) / 111_320;
    w.lng += (Math.sin(rad) * speed * 5) / (111_320 * Math.cos((w.lat * Math.PI) / 180));
    const at = start + tick * 5_000 + Math.floor(rand() * 1_000);
    const event = ingestEvent.parse({
      id: randomUUID(), type: "location", at,
      lat: round(w.lat + gauss() * 0.00004, 7), lng: round(w.lng + gauss() * 0.00004, 7), // GPS noise ~4 m
      accuracy: round(3 + rand() * 25, 1), speed: round(speed, 2), heading: round(w.heading, 1),
      altitude: round(150 + gauss() * 4, 1), battery: round(Math.max(0.05, 0.98 - (d % 10) * 0.04 - tick * 0.0001), 2),
    });
    out.push({ teamId: "team-bench", userId: `user-${String(d).padStart(4, "0")}`, receivedAt: at + 200 + Math.floor(rand() * 2_800), event });
  }
  return out;
}

/** COPY text format: tab-separated, \N for null, backslash escapes. */
const copyField = (v: unknown) =>
  v === null || v === undefined ? "\\N" : String(v).replace(/[\\\t\n\r]/g, (c) => ({ "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" })[c]!);

const result = (method: string, transport: string, rows: number, ms: number, statements: number): MethodResult =>
  ({ method, transport, rows, seconds: ms / 1000, rowsPerS: rows / (ms / 1000), statements, statementsPer1000: (statements / rows) * 1000 });

async function connect(url: string, timeoutMs = 10_000): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on("error", () => {}); // a late server-side close must not crash the run
  await client.connect();
  return client;
}

/** A fresh, migrated database: on the given or local server, else an in-memory PGlite. */
async function openDatabase(opts: FlushBenchOptions): Promise<{ url: string; server: string; close: () => Promise<void> }> {
  if (!opts.embedded) {
    const adminUrl = opts.databaseUrl ?? DEFAULT_ADMIN_URL;
    // An explicit server that is down is an error; only the default one falls back to PGlite.
    const admin = await connect(adminUrl, 3_000).catch((err: unknown) => (opts.databaseUrl ? Promise.reject(err) : null));
    if (admin) {
      const name = `fieldpulse_bench_${randomUUID().slice(0, 8)}`;
      await admin.query(`CREATE DATABASE "${name}"`);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const close = () => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).then(() => {}).finally(() => admin.end());
      return { url: url.href, server: `postgres ${url.host}`, close };
    }
  }
  const embedded = await startEmbeddedPostgres({ log: () => {} });
  return { url: embedded.url, server: EMBEDDED, close: () => embedded.close() };
}

export async function runFlushBench(options: FlushBenchOptions = {}): Promise<FlushBenchResult> {
  const events = options.events ?? 100_000, batch = options.batch ?? 5_000;
  const naiveEvents = Math.min(options.naiveEvents ?? 5_000, events);
  const intOk = (x: number, max: number) => Number.isInteger(x) && x >= 1 && x <= max;
  if (!intOk(events, MAX_EVENTS)) throw new Error(`events must be an integer in 1..${MAX_EVENTS}`);
  if (!intOk(batch, 50_000)) throw new Error("batch must be an integer in 1..50000");
  if (!intOk(naiveEvents, MAX_NAIVE)) throw new Error(`naive-events must be an integer in 1..${MAX_NAIVE}`);
  const deadline = Date.now() + DEADLINE_MS;
  const say = options.onProgress ?? (() => {});
  let lastSaid = 0;
  const progress = (label: string, done: number, total: number, t0: number) => {
    options.signal?.throwIfAborted();
    if (Date.now() > deadline) throw new Error(`bench:flush ran past ${DEADLINE_MS / 60_000} min; stopping`);
    if (done < total && Date.now() - lastSaid < 250) return;
    lastSaid = Date.now();
    const rate = Math.round(done / Math.max((performance.now() - t0) / 1000, 1e-3));
    say(`${label}: ${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")} rows, ${rate.toLocaleString("en-US")} rows/s`, done === total);
  };

  say(`generating ${events.toLocaleString("en-US")} location events…`, true);
  const rows = makeLocationEvents(events);
  const db = await openDatabase(options);
  const proxy = await startWsProxy({ port: 0, log: () => {} });
  let check: pg.Client | undefined; // node pg on the bench database: counts, TRUNCATE, COPY
  try {
    await migrateDatabase(db.url);
    const admin = (check = await connect(db.url));
    const postgres = (await admin.query<{ v: string }>("SELECT version() AS v")).rows[0]!.v;
    const env: DbEnv = { DATABASE_URL: db.url, NEON_WS_PROXY: `127.0.0.1:${proxy.port}` };
    const verify = async (label: string, expected: number) => {
      const r = await admin.query<{ n: string; d: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM "${TABLE_NAME}"`);
      const n = Number(r.rows[0]!.n), d = Number(r.rows[0]!.d);
      if (n !== expected || d !== expected) throw new Error(`${label}: expected ${expected} rows with distinct ids, "${TABLE_NAME}" holds ${n} rows, ${d} distinct ids`);
      return n;
    };
    // Each method starts from an empty table, with no checkpoint debt left by the one before.
    const reset = async () => {
      await admin.query(`TRUNCATE "${TABLE_NAME}"`);
      await admin.query("CHECKPOINT").catch(() => {});
    };

    // 1. naive: the seed story's one INSERT per event, autocommit (one connection, reused: its best case).
    await reset();
    const naiveSql = `INSERT INTO "${TABLE_NAME}" (${NAMES}) VALUES (${COLS.map((_, i) => `$${i + 1}`).join(", ")}) ON CONFLICT ("team_id", "id") DO NOTHING`;
    let t0 = performance.now();
    await withDb(env, async ({ client }) => {
      for (let i = 0; i < naiveEvents; i++) {
        await client.query(naiveSql, rowValues(rows[i]!));
        progress("naive", i + 1, naiveEvents, t0);
      }
    }, { webSocket: ws });
    const naive = result("naive (1/stmt)", "Neon driver → ws proxy", naiveEvents, performance.now() - t0, naiveEvents);
    await verify("naive", naiveEvents);

    // 2. flush: the production writer itself (durable-objects/flush.ts), a pool and one statement per batch.
    let flushStatements = 0;
    const flushAll = async (label: string) => {
      const start = performance.now();
      flushStatements = 0;
      for (let i = 0; i < events; i += batch) {
        flushStatements += (await writeBatch(env, "team-bench", rows.slice(i, i + batch))).statements;
        progress(label, Math.min(i + batch, events), events, start);
      }
      return performance.now() - start;
    };
    await reset();
    const flush = result(`flush (unnest×${batch})`, "Neon driver → ws proxy", events, await flushAll("flush"), flushStatements);
    await verify("flush", events);

    // The same events again: ON CONFLICT (team_id, id) DO NOTHING must make the re-send (a crash between COMMIT and DELETE) a no-op.
    const resendMs = await flushAll("flush re-send");
    const resend = { ...result("flush re-send (no-op)", "Neon driver → ws proxy", events, resendMs, flushStatements), rowsAfter: await verify("flush re-send", events) };

    // 3. COPY … FROM STDIN: the ceiling. Node pg over plain TCP, no WebSocket proxy in between.
    // pglite-socket breaks the COPY sub-protocol (electric-sql/pglite#911, fix pending in #1028): skip it there.
    // Rows are encoded while they stream, as the flush path's time includes building its statement.
    async function* copyText() {
      let chunk = "";
      for (let i = 0; i < events; i++) {
        chunk += rowValues(rows[i]!).map(copyField).join("\t") + "\n";
        if (chunk.length < 256 * 1024 && i < events - 1) continue;
        yield chunk;
        chunk = "";
        progress("COPY (sent)", i + 1, events, t0); // the last rows/s here excludes the server's tail
      }
    }
    let copy: MethodResult | null = null;
    if (db.server !== EMBEDDED) {
      await reset();
      t0 = performance.now();
      await pipeline(Readable.from(copyText()), admin.query(copyFrom(`COPY "${TABLE_NAME}" (${NAMES}) FROM STDIN`)));
      copy = result("COPY (text)", "node pg, plain TCP", events, performance.now() - t0, 1);
      await verify("COPY", events);
    }

    const flushVsNaive = flush.rowsPerS / naive.rowsPerS, flushVsCopy = copy ? flush.rowsPerS / copy.rowsPerS : null;
    return {
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length, node: process.version, server: db.server, postgres },
      options: { events, batch, naiveEvents },
      naive, flush, resend, copy,
      ratios: { flushVsNaive, flushVsCopy },
      targets: { flushVsNaive: { target: 100, met: flushVsNaive >= 100 }, flushVsCopy: { target: 0.5, met: flushVsCopy === null ? null : flushVsCopy >= 0.5 } },
    };
  } finally {
    await check?.end().catch(() => {});
    await proxy.close().catch(() => {});
    await db.close();
  }
}

/** The plain-text report: one row per method, then the two target ratios. */
export function formatReport(r: FlushBenchResult): string {
  const num = (x: number, d = 0) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd([24, 10, 10, 10, 10, 9, 16][i]!)).join("").trimEnd();
  const row = (m: MethodResult) =>
    line([m.method, String(m.rows), m.seconds.toFixed(2), String(Math.round(m.rowsPerS)),
      `${(m.rowsPerS / r.naive.rowsPerS).toFixed(1)}×`, r.copy ? (m.rowsPerS / r.copy.rowsPerS).toFixed(2) : "n/a", num(m.statementsPer1000, 2)]);
  const met = (ok: boolean | null) => (ok === null ? "not measured" : ok ? "met" : "NOT MET");
  return [
    line(["method", "rows", "seconds", "rows/s", "vs naive", "vs COPY", "stmts/1k events"]),
    row(r.naive), row(r.flush), row(r.resend), r.copy ? row(r.copy) : line(["COPY (text)", "n/a: PGlite's socket server cannot COPY FROM STDIN"]),
    "",
    `flush ÷ naive = ${r.ratios.flushVsNaive.toFixed(1)}×  (target ≥ 100×)  ${met(r.targets.flushVsNaive.met)}`,
    `flush ÷ COPY = ${r.ratios.flushVsCopy?.toFixed(2) ?? "n/a"}  (target ≥ 0.5)  ${met(r.targets.flushVsCopy.met)}`,
    "",
    `naive: a sample of ${num(r.options.naiveEvents)} events (--naive-events), one connection, one autocommit INSERT each; its rows/s stands for all ${num(r.options.events)}.`,
    `naive and flush: Neon serverless driver → local WebSocket proxy → Postgres, a fresh pool per flush batch as in production.`,
    `re-send: the same ${num(r.options.events)} events flushed again; table still holds ${num(r.resend.rowsAfter)} rows (ON CONFLICT no-op).`,
    `COPY: node pg + pg-copy-streams over plain TCP (no proxy): the ceiling.`,
    `server: ${r.machine.server} · ${r.machine.postgres.split(" on ")[0]} · ${r.machine.cpu} × ${r.machine.cores} · node ${r.machine.node}`,
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "100000" }, batch: { type: "string", default: "5000" },
      "naive-events": { type: "string", default: "5000" }, out: { type: "string", default: "bench/flush-results.json" },
      "database-url": { type: "string" }, embedded: { type: "boolean", default: false },
    },
  });
  const tty = process.stderr.isTTY;
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort(new Error("interrupted")));
  try {
    const result = await runFlushBench({
      events: Number(values.events), batch: Number(values.batch), naiveEvents: Number(values["naive-events"]),
      databaseUrl: values["database-url"], embedded: values.embedded, signal: abort.signal,
      // On a terminal one line is rewritten in place; in a log, only each step's final line is kept.
      onProgress: (text, done) => {
        if (tty) process.stderr.write(`\r\x1b[K${text}${done ? "\n" : ""}`);
        else if (done) process.stderr.write(`${text}\n`);
      },
    });
    console.log(formatReport(result));
    await mkdir(path.dirname(path.resolve(values.out)), { recursive: true });
    await writeFile(values.out, JSON.stringify(result, null, 2) + "\n");
    console.log(`results: ${values.out}`);
  } catch (err) {
    console.error(`\nbench:flush failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
