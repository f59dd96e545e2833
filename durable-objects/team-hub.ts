import { DurableObject } from "cloudflare:workers";
import type { IngestEvent, LeadStatus } from "../protocol/events.ts";
import type { QueueFigures } from "../protocol/metrics.ts";
import { PendingBuffer } from "./buffer.ts";
import { readTunables, type Tunables } from "./config.ts";
import { CounterStore } from "./counters.ts";
import { writeBatch } from "./flush.ts";
import { backoffMs, flushDueAt, retryAfterSeconds, updateDrainRate } from "./flush-policy.ts";
import { markTeamClean, markTeamDirty } from "./redis.ts";
import { errorMessage, log } from "./log.ts";

/** How long one flush call may keep draining before it yields to the next alarm. */
const FLUSH_TIME_BUDGET_MS = 20_000;

export interface IngestInput {
  teamId: string;
  userId: string;
  events: IngestEvent[];
  receivedAt: number;
}

export interface HubIngestResult {
  accepted: number;
  duplicates: number;
  refused: number;
  leads: LeadStatus[];
  /** Set when buffered kinds were refused under backpressure. */
  retryAfterS?: number;
}

export interface FlushReport {
  ok: boolean;
  rows: number;
  batches: number;
  statements: number;
  ms: number;
  depth: number;
  error?: string;
}

/**
 * One per team: the single writer for that team's events. A thin shell over plain modules —
 * the buffer (SQLite), the flush policy (pure), the batch writer (Neon).
 */
export class TeamHub extends DurableObject<Env> {
  /** Read from wrangler vars; tests may narrow them on one object through runInDurableObject. */
  tunables: Tunables;
  private buffer!: PendingBuffer;
  private counters!: CounterStore;
  private inflight: Promise<FlushReport> | null = null;
  /** Tests and drills only: runs after Postgres COMMIT, before the buffer DELETE. */
  afterCommit: (() => void | Promise<void>) | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.tunables = readTunables(env);
    void ctx.blockConcurrencyWhile(async () => {
      this.buffer = new PendingBuffer(ctx.storage.sql);
      this.counters = new CounterStore(ctx.storage.sql);
    });
  }

  async ingest(input: IngestInput): Promise<HubIngestResult> {
    const t = this.tunables;
    const wasEmpty = this.buffer.depth === 0;
    // Backpressure refuses only the kinds that wait in the buffer: a lead is always taken.
    const overHighWater = this.buffer.depth >= t.BUFFER_HIGH_WATER;
    const taken = overHighWater ? input.events.filter((e) => e.type === "lead") : input.events;
    const refused = input.events.length - taken.length;

    const { accepted, duplicates } = this.ctx.storage.transactionSync(() => {
      const result = this.buffer.append(taken, input.userId, input.receivedAt);
      this.counters.update((c) => {
        c.teamId ??= input.teamId;
        c.acceptedTotal += result.accepted;
        c.duplicatesTotal += result.duplicates;
        c.refusedTotal += refused;
      });
      return result;
    });

    await this.armAlarm({ onlyEarlier: true });
    if (wasEmpty && this.buffer.depth > 0) await markTeamDirty(this.env, input.teamId);

    const leads = taken.filter((e) => e.type === "lead").map((e): LeadStatus => ({ id: e.id, status: "queued" }));
    const result: HubIngestResult = { accepted, duplicates, refused, leads };
    if (refused > 0) {
      const c = this.counters.value;
      result.retryAfterS = retryAfterSeconds({
        depth: this.buffer.depth,
        highWater: t.BUFFER_HIGH_WATER,
        drainRowsPerS: c.drainRowsPerS,
        retryInMs: c.consecutiveFailures > 0 && c.retryAt ? Math.max(0, c.retryAt - Date.now()) : null,
      });
    }
    return result;
  }

  /**
   * Flush the buffer: everything pending (the cron, an operator, a test), or — for the alarm — only
   * while what is left is due. Concurrent callers share the flush in flight.
   */
  flush(scope: "all" | "due" = "all"): Promise<FlushReport> {
    this.inflight ??= this.drain(scope).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  figures(): QueueFigures {
    const c = this.counters.value;
    const now = Date.now();
    const stats = this.buffer.stats();
    const byKind: Record<string, number> = {};
    let oldest: number | null = null;
    for (const [kind, s] of Object.entries(stats)) {
      byKind[kind] = s.rows;
      if (oldest === null || s.oldestReceivedAt < oldest) oldest = s.oldestReceivedAt;
    }
    return {
      teamId: c.teamId ?? "",
      depth: this.buffer.depth,
      byKind,
      oldestAgeMs: oldest === null ? null : now - oldest,
      nextFlushAt: this.nextFlushAt(now),
      lastFlushAt: c.lastFlushAt,
      lastFlushRows: c.lastFlushRows,
      lastFlushMs: c.lastFlushMs,
      flushedTotal: c.flushedTotal,
      flushesTotal: c.flushesTotal,
      acceptedTotal: c.acceptedTotal,
      duplicatesTotal: c.duplicatesTotal,
      refusedTotal: c.refusedTotal,
      consecutiveFailures: c.consecutiveFailures,
      lastError: c.lastError,
      lastErrorAt: c.lastErrorAt,
      drainRowsPerS: c.drainRowsPerS,
      updatedAt: now,
    };
  }

  override async alarm(): Promise<void> {
    try {
      // The alarm is only ever set for the earliest deadline (or a backoff retry): firing means due.
      if (this.buffer.depth > 0) await this.flush("due");
    } finally {
      // Platform alarm retries stop after six: the object re-arms itself whatever happened.
      await this.armAlarm({ onlyEarlier: false });
    }
  }

  private async drain(scope: "all" | "due"): Promise<FlushReport> {
    const started = Date.now();
    const report: FlushReport = { ok: true, rows: 0, batches: 0, statements: 0, ms: 0, depth: this.buffer.depth };
    const teamId = this.counters.value.teamId;
    try {
      while (teamId && this.buffer.depth > 0) {
        const batch = this.buffer.take(this.tunables.FLUSH_BATCH_ROWS);
        const t0 = Date.now();
        const written = await writeBatch(this.env, teamId, batch.rows);
        await this.afterCommit?.();
        const ms = Date.now() - t0;
        this.ctx.storage.transactionSync(() => {
          this.buffer.remove(batch);
          this.counters.update((c) => {
            c.lastFlushAt = Date.now();
            c.lastFlushRows = written.rows;
            c.lastFlushMs = ms;
            c.flushedTotal += written.rows;
            c.flushesTotal += 1;
            c.consecutiveFailures = 0;
            c.retryAt = null;
            c.drainRowsPerS = updateDrainRate(c.drainRowsPerS, written.rows, ms);
          });
        });
        report.rows += written.rows;
        report.statements += written.statements;
        report.batches += 1;
        log({ event: "flush", teamId, rows: written.rows, statements: written.statements, ms, depth: this.buffer.depth });
        if (Date.now() - started > FLUSH_TIME_BUDGET_MS) break;
        // The alarm keeps going only while what is left is already due: a small remainder waits to
        // join later rows in one statement instead of costing a transaction of its own.
        const due = flushDueAt(this.buffer.stats(), this.tunables, Date.now());
        if (scope === "due" && (due === null || due > Date.now())) break;
      }
    } catch (err) {
      const message = errorMessage(err);
      this.ctx.storage.transactionSync(() => {
        this.counters.update((c) => {
          c.consecutiveFailures += 1;
          c.lastError = message;
          c.lastErrorAt = Date.now();
          c.retryAt = Date.now() + backoffMs(c.consecutiveFailures, this.tunables.FLUSH_MAX_BACKOFF_S);
        });
      });
      log({ event: "flush_failed", teamId, error: message, failures: this.counters.value.consecutiveFailures });
      report.ok = false;
      report.error = message;
    }
    report.ms = Date.now() - started;
    report.depth = this.buffer.depth;
    // Whoever asked for this flush, the next one is scheduled from what is left (or the backoff).
    await this.armAlarm({ onlyEarlier: false });
    if (report.depth === 0 && report.rows > 0 && teamId) {
      await markTeamClean(this.env, teamId);
      // An ingest may have slipped in while SREM was in flight: its SADD could have landed first.
      if (this.buffer.depth > 0) await markTeamDirty(this.env, teamId);
    }
    return report;
  }

  /** The next time the buffer wants a flush: the policy's deadline, held back while a failure backs off. */
  private nextFlushAt(now: number): number | null {
    const due = flushDueAt(this.buffer.stats(), this.tunables, now);
    if (due === null) return null;
    const c = this.counters.value;
    return c.consecutiveFailures > 0 && c.retryAt !== null ? Math.max(due, c.retryAt) : due;
  }

  /** One alarm per object, computed from state. Ingest only ever moves it earlier. */
  private async armAlarm({ onlyEarlier }: { onlyEarlier: boolean }): Promise<void> {
    const storage = this.ctx.storage;
    const due = this.nextFlushAt(Date.now());
    const current = await storage.getAlarm();
    if (due === null) {
      if (!onlyEarlier && current !== null) await storage.deleteAlarm();
      return;
    }
    if (onlyEarlier && current !== null && current <= due) return;
    if (current !== due) await storage.setAlarm(due);
  }
}
