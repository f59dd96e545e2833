/**
 * The seed story's load — 200 devices, a fix every 5 s, 500 knocks and 50 leads an hour — compressed
 * in time, once through fieldpulse (POST /v1/events) and once through the naive baseline
 * (POST /v1/bench/naive-events: one INSERT per event inside the request). Postgres work per 1,000
 * events, API latency, and a check that every accepted event is in Postgres exactly once.
 *
 * Compression k: wall time stands for k× as much simulated time, so every rate is k× the seed's. The
 * server's per-kind max ages and the cron's period are divided by k as well, so a flush gathers the
 * same number of events as it would at real speed (row thresholds stay as they are).
 */
import { randomBytes } from "node:crypto";
import { runFleet, type FleetProgress } from "../dev/sim/fleet.ts";
import { checkExactlyOnce, counterDelta, settledCounters, statementsSource, type ExactlyOnce } from "./pg-stats.ts";
import type { BenchStack } from "./stack.ts";

export interface SeedOptions {
  wallS?: number;
  compression?: number;
  devices?: number;
  fixIntervalS?: number;
  knocksPerHour?: number;
  leadsPerHour?: number;
  onProgress?: (route: string, p: FleetProgress) => void;
  log?: (line: string) => void;
}

export interface SeedRun {
  route: "fieldpulse" | "naive";
  path: string;
  team: string;
  events: number;
  byKind: Record<string, number>;
  requests: number;
  byStatus: Record<string, number>;
  /** pg_stat_database.xact_commit delta (one per statement, plus one per new session). */
  transactions: number;
  sessions: number;
  statements: number;
  transactionsPer1000: number;
  statementsPer1000: number;
  p50: number;
  p99: number;
  drainMs: number | null;
  exactlyOnce: ExactlyOnce;
  /** From the Worker's log: flushes of this team and their statements; errors it answered 500 to. */
  server: ServerLog;
}

export interface ServerLog {
  flushes: number;
  flushStatements: number;
  flushedRows: number;
  errors: Record<string, number>;
}

function collectServerLog(stack: BenchStack, team: string): { stop: () => ServerLog } {
  const out: ServerLog = { flushes: 0, flushStatements: 0, flushedRows: 0, errors: {} };
  return stack.onOutputLine((line) => {
    if (!line.startsWith("{")) return;
    let entry: { event?: string; teamId?: string; statements?: number; rows?: number; error?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (entry.event === "flush" && entry.teamId === team) {
      out.flushes += 1;
      out.flushStatements += entry.statements ?? 0;
      out.flushedRows += entry.rows ?? 0;
    } else if (entry.event === "unhandled_error" || entry.event === "flush_failed") {
      const key = `${entry.event}: ${(entry.error ?? "?").slice(0, 120)}`;
      out.errors[key] = (out.errors[key] ?? 0) + 1;
    }
  }, () => out);
}

export interface SeedResult {
  wallS: number;
  compression: number;
  simulatedMinutes: number;
  devices: number;
  rates: { fixesPerMin: number; knocksPerHour: number; leadsPerHour: number };
  statsNote: string;
  /** False on embedded PGlite: its counters say nothing about a Postgres server's work. */
  statsMeaningful: boolean;
  serverVars: Record<string, string>;
  runs: SeedRun[];
}

/** wrangler vars for a compressed seed run: each kind's max age (and the flush backoff) shrinks with the clock. */
export function seedVars(k: number): Record<string, string> {
  const s = (x: number) => String(Math.max(0.05, Math.round((x / k) * 1000) / 1000));
  return { LOCATION_MAX_AGE_S: s(30), KNOCK_MAX_AGE_S: s(5), ACTIVITY_MAX_AGE_S: s(30), FLUSH_MAX_BACKOFF_S: s(60) };
}

export async function runSeedScenario(stack: BenchStack, opts: SeedOptions = {}): Promise<SeedResult> {
  const wallS = opts.wallS ?? 60, k = opts.compression ?? 5, devices = opts.devices ?? 200;
  const fixIntervalS = opts.fixIntervalS ?? 5, knocksPerHour = opts.knocksPerHour ?? 500, leadsPerHour = opts.leadsPerHour ?? 50;
  const log = opts.log ?? (() => {});
  const vars = seedVars(k);
  // "log": the Worker's own lines (flushes, errors) are read back as a cross-check of Postgres' counters.
  await stack.startWorker({ vars, logLevel: "log" });
  const source = await statementsSource(stack);
  const runs: SeedRun[] = [];
  try {
    for (const [route, path] of [["fieldpulse", "/v1/events"], ["naive", "/v1/bench/naive-events"]] as const) {
      const team = `seed-${route}-${randomBytes(3).toString("hex")}`;
      const serverLog = collectServerLog(stack, team);
      if (source.available) await stack.query("SELECT pg_stat_statements_reset()");
      const before = await settledCounters(stack, source);
      // The platform's cron runs every minute; here every 60/k s of wall time.
      const cron = setInterval(() => void stack.triggerCron().catch(() => {}), (60 / k) * 1000);
      let report;
      try {
        report = await runFleet({
          url: stack.url, team, devices, durationMs: wallS * 1000, authSecret: stack.authSecret, timeScale: k, seed: 7,
          canvasser: { fixIntervalS, knocksPerHour: knocksPerHour / devices, leadShare: knocksPerHour > 0 ? leadsPerHour / knocksPerHour : 0, activitiesPerHour: 0, offlinePerHour: 0 },
          path, trackIds: true, drainMs: 60_000, metricsEveryMs: route === "fieldpulse" ? 2_000 : 0,
          onProgress: (p) => opts.onProgress?.(route, p),
        });
      } finally {
        clearInterval(cron);
      }
      let drainMs: number | null = null;
      if (route === "fieldpulse") {
        // What is still buffered goes to Postgres now (the cron), and the reading waits for it.
        await stack.triggerCron();
        drainMs = await stack.waitDrained(team, 60_000, 5_000);
      }
      const after = await settledCounters(stack, source);
      const server = serverLog.stop();
      const { transactions, sessions, statements } = counterDelta(before, after);
      const exactlyOnce = await checkExactlyOnce(stack, team, report.acceptedIds!, report.generatedIds);
      const events = report.counts.accepted;
      const byKind: Record<string, number> = {};
      const kinds = await stack.query<{ kind: string; n: string }>(
        `SELECT 'location' AS kind, count(*)::text AS n FROM locations WHERE team_id = $1 UNION ALL SELECT 'knock', count(*)::text FROM knocks WHERE team_id = $1
         UNION ALL SELECT 'lead', count(*)::text FROM leads WHERE team_id = $1 UNION ALL SELECT 'activity', count(*)::text FROM activities WHERE team_id = $1`,
        [team],
      );
      for (const r of kinds) byKind[r.kind] = Number(r.n);
      const run: SeedRun = {
        route, path, team, events, byKind, requests: report.counts.requests, byStatus: report.counts.byStatus,
        transactions, sessions, statements,
        transactionsPer1000: events > 0 ? (transactions / events) * 1000 : Number.NaN,
        statementsPer1000: events > 0 ? (statements / events) * 1000 : Number.NaN,
        p50: report.p50, p99: report.p99, drainMs, exactlyOnce, server,
      };
      if (route === "fieldpulse") log(`seed ${route}: the Worker logged ${server.flushes} flushes of this team, ${server.flushStatements} statements, ${server.flushedRows} rows`);
      for (const [e, n] of Object.entries(server.errors)) log(`seed ${route}: server logged ${n}× ${e}`);
      log(`seed ${route}: ${events} events (${Object.entries(byKind).map(([k2, n]) => `${n} ${k2}`).join(", ")}), ${statements} statements = ${run.statementsPer1000.toFixed(2)}/1k events (${transactions} commits over ${sessions} sessions), p50 ${report.p50.toFixed(1)} ms, p99 ${report.p99.toFixed(1)} ms; ${exactlyOnce.summary}`);
      for (const [status, bodies] of Object.entries(report.samples)) log(`seed ${route}: ${status} answers, e.g. ${bodies.join(" | ")}`);
      runs.push(run);
    }
  } finally {
    await stack.stopWorker();
  }
  return {
    wallS, compression: k, simulatedMinutes: (wallS * k) / 60, devices,
    rates: { fixesPerMin: (devices * 60) / fixIntervalS, knocksPerHour, leadsPerHour },
    statsNote: source.note, statsMeaningful: stack.postgresMode === "server", serverVars: vars, runs,
  };
}
