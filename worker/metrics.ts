import { Hono } from "hono";
import { redisError, redisFrom, redisKeys } from "../common/redis.ts";
import { errorMessage, log } from "../common/log.ts";
import { queueFigures, type QueueFigures } from "../protocol/metrics.ts";
import { requireRole, scopedTeam, type AuthVars } from "./auth.ts";

export const metrics = new Hono<{ Bindings: Env; Variables: AuthVars }>();

async function liveFigures(env: Env, team: string): Promise<QueueFigures> {
  // The team asked for, by name: an object that has seen nothing yet does not know its own.
  return { ...(await env.TEAM_HUB.get(env.TEAM_HUB.idFromName(team)).figures()), teamId: team };
}

/**
 * Undo what a Redis hash does to figures: @upstash/redis gives back long floats as strings (to keep
 * their precision) and JSON-looking strings as objects.
 */
function fromRedisHash(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    out[k] = typeof v === "string" && k !== "teamId" && k !== "lastError" && v !== "" && !Number.isNaN(Number(v)) ? Number(v) : v;
  }
  if (typeof out.byKind === "string") out.byKind = JSON.parse(out.byKind);
  if (typeof out.dialer === "string") out.dialer = JSON.parse(out.dialer);
  out.teamId = String(raw.teamId ?? "");
  return out;
}

/** Every known team's figures as the cron last published them: reading them wakes no object. */
async function publishedFigures(env: Env): Promise<QueueFigures[]> {
  const redis = redisFrom(env);
  if (!redis) return [];
  try {
    const keys = redisKeys(env);
    const teams = await redis.smembers(keys.knownTeams);
    if (teams.length === 0) return [];
    const p = redis.pipeline();
    for (const t of teams) p.hgetall(keys.queue(t));
    const rows = await p.exec<(Record<string, unknown> | null)[]>();
    return rows.flatMap((raw) => {
      if (!raw) return [];
      const parsed = queueFigures.safeParse(fromRedisHash(raw));
      return parsed.success ? [parsed.data] : [];
    });
  } catch (err) {
    log({ event: "metrics_redis_unavailable", error: redisError(err) });
    return [];
  }
}

type FiguresContext = { env: Env; get(k: "claims"): AuthVars["claims"]; req: { query(k: string): string | undefined } };

/**
 * Team roles read their own team only (naming another is 403), fresh from its TeamHub. An operator reads
 * the team it names, or every known team as the cron last published them.
 */
async function figuresFor(c: FiguresContext): Promise<QueueFigures[]> {
  const team = scopedTeam(c.get("claims"), c.req.query("team"));
  if (team) return [await liveFigures(c.env, team)];
  return (await publishedFigures(c.env)).filter((f) => f.teamId !== "");
}

/** Managers and admins: their own team. Operators: any `?team=`, or every known team. */
metrics.get("/v1/metrics", requireRole("manager", "admin", "operator"), async (c) => {
  return c.json({ teams: await figuresFor(c) });
});

const gauges: [name: string, help: string, type: "gauge" | "counter", read: (f: QueueFigures) => number | null][] = [
  ["fieldpulse_queue_depth", "Rows buffered in the team's TeamHub, waiting for a flush.", "gauge", (f) => f.depth],
  ["fieldpulse_queue_oldest_age_seconds", "Age of the oldest buffered row.", "gauge", (f) => (f.oldestAgeMs === null ? null : f.oldestAgeMs / 1000)],
  ["fieldpulse_flush_consecutive_failures", "Flushes failed in a row (0 when healthy).", "gauge", (f) => f.consecutiveFailures],
  ["fieldpulse_last_flush_timestamp_seconds", "When the last successful flush committed.", "gauge", (f) => (f.lastFlushAt === null ? null : f.lastFlushAt / 1000)],
  ["fieldpulse_drain_rows_per_second", "Recent flush throughput.", "gauge", (f) => f.drainRowsPerS],
  ["fieldpulse_flushed_rows_total", "Rows written to Postgres by flushes.", "counter", (f) => f.flushedTotal],
  ["fieldpulse_flushes_total", "Successful flush batches.", "counter", (f) => f.flushesTotal],
  ["fieldpulse_accepted_events_total", "Events accepted into the buffer.", "counter", (f) => f.acceptedTotal],
  ["fieldpulse_duplicate_events_total", "Events ignored as already buffered.", "counter", (f) => f.duplicatesTotal],
  ["fieldpulse_refused_events_total", "Events refused under backpressure.", "counter", (f) => f.refusedTotal],
  ["fieldpulse_quarantined_events_total", "Events Postgres refused for their content, moved to rejected_events.", "counter", (f) => f.quarantinedTotal],
  ["fieldpulse_storage_rows_written_total", "SQLite rows the team's TeamHub wrote (billed per row, index rows included).", "counter", (f) => f.storageRowsWritten],
  ["fieldpulse_storage_rows_read_total", "SQLite rows the team's TeamHub read.", "counter", (f) => f.storageRowsRead],
  ["fieldpulse_alarms_set_total", "setAlarm() calls of the team's TeamHub (each billed as a row written).", "counter", (f) => f.alarmsSet],
  ["fieldpulse_dialer_pending", "Leads waiting for webhook delivery (first try or retrying).", "gauge", (f) => f.dialer.pending],
  ["fieldpulse_dialer_retrying", "Leads whose delivery failed at least once and will be retried.", "gauge", (f) => f.dialer.retrying],
  ["fieldpulse_dialer_dead", "Leads given up on after 24 h of failed deliveries (redeliver them).", "gauge", (f) => f.dialer.dead],
  ["fieldpulse_dialer_oldest_pending_seconds", "Age of the oldest lead not yet delivered.", "gauge", (f) => (f.dialer.oldestPendingAgeMs === null ? null : f.dialer.oldestPendingAgeMs / 1000)],
];

export function prometheusText(all: QueueFigures[]): string {
  const lines: string[] = [];
  for (const [name, help, type, read] of gauges) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const f of all) {
      const v = read(f);
      if (v !== null) lines.push(`${name}{team="${f.teamId}"} ${v}`);
    }
  }
  lines.push("# HELP fieldpulse_queue_depth_by_kind Buffered rows per event kind.", "# TYPE fieldpulse_queue_depth_by_kind gauge");
  for (const f of all) {
    for (const [kind, n] of Object.entries(f.byKind)) lines.push(`fieldpulse_queue_depth_by_kind{team="${f.teamId}",kind="${kind}"} ${n}`);
  }
  return lines.join("\n") + "\n";
}

/** Prometheus text for the deployment: operators only (`?team=` narrows it to one team). */
metrics.get("/metrics", requireRole("operator"), async (c) => {
  const all = await figuresFor(c);
  return c.text(prometheusText(all), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
});
