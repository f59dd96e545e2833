import { DurableObject } from "cloudflare:workers";
import type { IngestEvent, LeadEvent, LeadStatus } from "../protocol/events.ts";
import type { QueueFigures } from "../protocol/metrics.ts";
import { PendingBuffer } from "./buffer.ts";
import { readTunables, type Tunables } from "./config.ts";
import { CounterStore } from "./counters.ts";
import { DialerOutbox } from "./dialer-outbox.ts";
import { writeBatch, writeLeadsNow } from "./flush.ts";
import { backoffMs, flushDueAt, retryAfterSeconds, updateDrainRate } from "./flush-policy.ts";
import { errorMessage, log } from "./log.ts";
import { LiveFanout, type SocketIdentity } from "./fanout.ts";
import { LiveState, liveDelta } from "./live.ts";
import { markTeamClean, markTeamDirty, pushDialerPull } from "./redis.ts";
import { deliver } from "./webhook.ts";
import { clientMessage, LIVE_PROTOCOL, PING, PONG, type LiveQueue, type Snapshot } from "../protocol/live.ts";

/** How long one flush or delivery run may keep going before it yields to the next alarm. */
const TIME_BUDGET_MS = 20_000;
/** Delivery states reach Postgres with the next flush, or after this long on their own. */
const DIALER_SYNC_DELAY_MS = 30_000;
const DELIVERIES_AT_ONCE = 10;
/** Queue frames between flushes: at most one a second, so the panel shows the buffer filling. */
const QUEUE_FRAME_MIN_MS = 1_000;

export interface IngestInput {
  teamId: string;
  userId: string;
  /** The canvasser's display name, from the token: shown on the live map. */
  name?: string;
  events: IngestEvent[];
  receivedAt: number;
}

export interface HubIngestResult {
  accepted: number;
  duplicates: number;
  refused: number;
  /** Ids of the refused events (backpressure), so a client knows exactly what to keep. */
  refusedIds: string[];
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

const isLead = (e: IngestEvent): e is LeadEvent => e.type === "lead";

/**
 * The crash drill (npm run drill) only: announce that a batch is committed but not yet deleted from the
 * buffer, then hold there so the drill can kill the whole process at exactly that point.
 */
async function drillPauseAfterCommit(teamId: string, rows: number): Promise<void> {
  log({ event: "drill_committed_not_deleted", teamId, rows });
  await new Promise((resolve) => setTimeout(resolve, 30_000));
}

/**
 * One per team: the single writer for that team's events. A thin shell wiring plain modules — the
 * buffer and the dialer outbox (SQLite), the flush policy (pure), the batch writer (Neon) — to alarms.
 */
export class TeamHub extends DurableObject<Env> {
  /** Read from wrangler vars; tests may narrow them on one object through runInDurableObject. */
  tunables: Tunables;
  /** Tests and drills only: runs after Postgres COMMIT, before the buffer DELETE. */
  afterCommit: (() => void | Promise<void>) | null = null;
  private buffer!: PendingBuffer;
  private counters!: CounterStore;
  private outbox!: DialerOutbox;
  private live!: LiveState;
  private readonly fanout: LiveFanout;
  private lastPruneAt = 0;
  private lastQueueSentAt = 0;
  /** The alarm as this object last set it: saves a storage read on every ingest. */
  private alarmAt: number | null = null;
  private flushing: Promise<FlushReport> | null = null;
  private delivering: Promise<number> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.tunables = readTunables(env);
    this.fanout = new LiveFanout(ctx, () => this.tunables.LIVE_TICK_MS);
    // Pings are answered by the runtime without waking a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    void ctx.blockConcurrencyWhile(async () => {
      this.buffer = new PendingBuffer(ctx.storage.sql);
      this.counters = new CounterStore(ctx.storage.sql);
      this.outbox = new DialerOutbox(ctx.storage.sql);
      this.live = new LiveState(ctx.storage.sql);
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  async ingest(input: IngestInput): Promise<HubIngestResult> {
    const { teamId, userId, receivedAt } = input;
    const wasEmpty = this.buffer.depth === 0;
    const leads = input.events.filter(isLead);
    // Backpressure refuses only the kinds that wait in the buffer: a lead is always taken.
    const others = input.events.filter((e) => !isLead(e));
    const refused = this.buffer.depth >= this.tunables.BUFFER_HIGH_WATER ? others.length : 0;

    // One storage transaction: buffer rows and outbox rows are accepted together or not at all.
    const { accepted, duplicates, newLeads, delta } = this.ctx.storage.transactionSync(() => {
      const fresh = this.outbox.add(leads, teamId, userId, receivedAt);
      const newLeads = leads.filter((l) => fresh.has(l.id));
      const taken = [...newLeads, ...(refused ? [] : others)];
      const appended = this.buffer.append(taken, userId, receivedAt);
      const duplicates = appended.duplicates + (leads.length - newLeads.length);
      // The live picture moves with what was accepted, before any flush: the map never waits for Postgres.
      const delta = liveDelta(taken.filter((e) => appended.accepted.has(e.id)), userId, input.name);
      this.live.record(delta);
      this.counters.update((c) => {
        c.teamId ??= teamId;
        c.acceptedTotal += appended.accepted.size;
        c.duplicatesTotal += duplicates;
        c.refusedTotal += refused;
      });
      return { accepted: appended.accepted.size, duplicates, newLeads, delta };
    });

    const serverTime = Date.now();
    this.fanout.positions(delta.points);
    for (const knock of delta.knocks) this.fanout.send({ type: "knock", serverTime, knock });
    for (const lead of delta.leads) this.fanout.send({ type: "lead", serverTime, lead });
    // Between flushes the queue panel would freeze: a throttled queue frame shows the buffer filling.
    if (serverTime - this.lastQueueSentAt > QUEUE_FRAME_MIN_MS && this.fanout.listeners > 0) this.sendQueue();
    if (serverTime - this.lastPruneAt > 60_000) {
      this.lastPruneAt = serverTime;
      this.live.prune(serverTime);
    }

    if (newLeads.length > 0) await this.storeLeadsNow(input, newLeads);
    await this.armAlarm({ onlyEarlier: true });
    if (wasEmpty && this.buffer.depth > 0) await markTeamDirty(this.env, teamId);
    if (newLeads.length > 0) await pushDialerPull(this.env, teamId, newLeads.map((l) => this.outbox.bodyOf(l.id)));

    const stored = this.outbox.storedAmong(leads.map((l) => l.id));
    const result: HubIngestResult = {
      accepted,
      duplicates,
      refused,
      refusedIds: refused ? others.map((e) => e.id) : [],
      leads: leads.map((l) => ({ id: l.id, status: stored.has(l.id) ? "stored" : "queued" })),
    };
    if (refused > 0) result.retryAfterS = this.retryAfter();
    return result;
  }

  /**
   * Flush the buffer: everything pending (the cron, an operator, a test), or — for the alarm — only
   * while what is left is due. Concurrent callers share the flush in flight.
   */
  flush(scope: "all" | "due" = "all"): Promise<FlushReport> {
    this.flushing ??= this.drain(scope).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** Deliver every lead whose attempt is due at `now` (tests pass a later `now` instead of sleeping). */
  deliverDue(now = Date.now()): Promise<number> {
    this.delivering ??= this.deliverLoop(now).finally(() => {
      this.delivering = null;
    });
    return this.delivering;
  }

  /** An operator's redeliver: the lead goes back in line with a fresh 24 h window. */
  async redeliver(leadId: string): Promise<boolean> {
    const found = this.ctx.storage.transactionSync(() => this.outbox.redeliver(leadId, Date.now()));
    if (found) await this.armAlarm({ onlyEarlier: true });
    return found;
  }

  figures(): QueueFigures {
    const c = this.counters.value;
    const now = Date.now();
    const byKind: Record<string, number> = {};
    let oldest: number | null = null;
    for (const [kind, s] of Object.entries(this.buffer.stats())) {
      byKind[kind] = s.rows;
      if (oldest === null || s.oldestReceivedAt < oldest) oldest = s.oldestReceivedAt;
    }
    return {
      teamId: c.teamId ?? "",
      depth: this.buffer.depth,
      byKind,
      oldestAgeMs: oldest === null ? null : now - oldest,
      nextFlushAt: this.flushDueAt(now),
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
      dialer: { configured: this.dialerConfigured(), ...this.outbox.figures(now) },
      updatedAt: now,
    };
  }

  /** The live picture for a manager who just arrived (also GET /v1/positions/latest). */
  snapshot(): Snapshot {
    return this.live.snapshot(Date.now(), this.liveQueue());
  }

  /** GET /v1/live, already authenticated by the Worker: accept a hibernatable socket and send the snapshot. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const identity: SocketIdentity = {
      userId: request.headers.get("X-Fieldpulse-User") ?? "unknown",
      role: request.headers.get("X-Fieldpulse-Role") ?? "manager",
      connectedAt: Date.now(),
    };
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [identity.userId]);
    server.serializeAttachment(identity);
    server.send(JSON.stringify(this.snapshot()));
    // Echo the subprotocol only when offered: a browser fails a handshake that names one it did not ask for.
    const offered = (request.headers.get("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
    const headers: HeadersInit = offered.includes(LIVE_PROTOCOL) ? { "Sec-WebSocket-Protocol": LIVE_PROTOCOL } : {};
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    let parsed: ReturnType<typeof clientMessage.safeParse>;
    try {
      parsed = clientMessage.safeParse(JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message)));
    } catch {
      parsed = clientMessage.safeParse(undefined);
    }
    if (!parsed.success) {
      ws.send(JSON.stringify({ type: "error", code: "bad_message", message: "send {\"type\":\"ping\"} or {\"type\":\"resync\"}" }));
      return;
    }
    switch (parsed.data.type) {
      case "ping":
        ws.send(PONG);
        return;
      case "resync":
        ws.send(JSON.stringify(this.snapshot()));
        return;
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // 1005/1006 are reported, never sent: answer a clean close (TOOLCHAIN.md).
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      /* already closed */
    }
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null; // this one has fired
    try {
      const now = Date.now();
      const flushDue = this.flushDueAt(now);
      if (flushDue !== null && flushDue <= now) await this.flush("due");
      const deliveryDue = this.dialerConfigured() ? this.outbox.nextDueAt() : null;
      if (deliveryDue !== null && deliveryDue <= now) await this.deliverDue(now);
      this.outbox.prune(now);
    } finally {
      // Platform alarm retries stop after six: the object re-arms itself whatever happened.
      await this.armAlarm({ onlyEarlier: false });
    }
  }

  private async storeLeadsNow(input: IngestInput, leads: LeadEvent[]): Promise<void> {
    const ids = leads.map((l) => l.id);
    try {
      await writeLeadsNow(this.env, input.teamId, input.userId, input.receivedAt, leads, this.tunables.LEAD_WRITE_TIMEOUT_MS);
      this.ctx.storage.transactionSync(() => {
        this.buffer.removeLeads(ids);
        this.outbox.markStored(ids);
      });
    } catch (err) {
      // Still buffered: the flush retries them first, with backoff.
      log({ event: "lead_write_deferred", teamId: input.teamId, leads: ids.length, error: errorMessage(err) });
    }
  }

  private async drain(scope: "all" | "due"): Promise<FlushReport> {
    const started = Date.now();
    const report: FlushReport = { ok: true, rows: 0, batches: 0, statements: 0, ms: 0, depth: this.buffer.depth };
    const teamId = this.counters.value.teamId;
    try {
      while (teamId) {
        const batch = this.buffer.depth > 0 ? this.buffer.take(this.tunables.FLUSH_BATCH_ROWS) : null;
        const batchLeads = batch ? batch.rows.filter((r) => r.event.type === "lead").map((r) => r.event.id) : [];
        const sync = this.outbox.unsynced(1_000, batchLeads);
        if (!batch && sync.length === 0) break;
        const t0 = Date.now();
        const written = await writeBatch(this.env, teamId, batch?.rows ?? [], sync);
        await this.afterCommit?.();
        if (this.env.DRILL_PAUSE_AFTER_COMMIT === "1" && written.rows > 0) await drillPauseAfterCommit(teamId, written.rows);
        const ms = Date.now() - t0;
        this.ctx.storage.transactionSync(() => {
          if (batch) this.buffer.remove(batch);
          this.outbox.markStored(batchLeads);
          this.outbox.markSynced(sync.filter((s) => written.synced.has(s.leadId)));
          if (written.rows > 0) {
            this.counters.update((c) => {
              c.lastFlushAt = Date.now();
              c.lastFlushRows = written.rows;
              c.lastFlushMs = ms;
              c.flushedTotal += written.rows;
              c.flushesTotal += 1;
              c.drainRowsPerS = updateDrainRate(c.drainRowsPerS, written.rows, ms);
            });
          }
          this.counters.update((c) => {
            c.consecutiveFailures = 0;
            c.retryAt = null;
          });
        });
        report.rows += written.rows;
        report.statements += written.statements;
        report.batches += 1;
        log({ event: "flush", teamId, rows: written.rows, dialerSynced: written.synced.size, statements: written.statements, ms, depth: this.buffer.depth });
        if (!batch) break; // a sync-only pass: nothing more to do
        if (Date.now() - started > TIME_BUDGET_MS) break;
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
    if (report.depth === 0 && report.rows > 0 && teamId) {
      await markTeamClean(this.env, teamId);
      // An ingest may have slipped in while SREM was in flight: its SADD could have landed first.
      if (this.buffer.depth > 0) await markTeamDirty(this.env, teamId);
    }
    // Whoever asked for this flush, the next one is scheduled from what is left (or the backoff).
    await this.armAlarm({ onlyEarlier: false });
    this.sendQueue();
    return report;
  }

  private async deliverLoop(now: number): Promise<number> {
    const url = this.env.DIALER_WEBHOOK_URL;
    const secret = this.env.DIALER_WEBHOOK_SECRET;
    if (!url || !secret) return 0;
    const started = Date.now();
    let attempts = 0;
    for (;;) {
      const due = this.outbox.due(now, DELIVERIES_AT_ONCE);
      if (due.length === 0) break;
      // Signed with the real clock (the receiver checks it); scheduled on `now`.
      const results = await Promise.all(due.map((d) => deliver(url, secret, d.leadId, d.body)));
      this.ctx.storage.transactionSync(() => {
        due.forEach((d, i) => {
          const status = this.outbox.record(d, results[i]!, now);
          log({ event: "dialer_delivery", leadId: d.leadId, attempt: d.attempts + 1, status, http: results[i]!.status, error: results[i]!.error });
        });
      });
      attempts += due.length;
      if (Date.now() - started > TIME_BUDGET_MS) break;
    }
    await this.armAlarm({ onlyEarlier: false });
    if (attempts > 0) this.sendQueue();
    return attempts;
  }

  private sendQueue(): void {
    if (this.fanout.listeners === 0) return;
    this.lastQueueSentAt = Date.now();
    this.fanout.send({ type: "queue", serverTime: this.lastQueueSentAt, queue: this.liveQueue() });
  }

  private liveQueue(): LiveQueue {
    const { depth, oldestAgeMs, lastFlushAt, lastFlushRows, consecutiveFailures, lastError, dialer } = this.figures();
    return { depth, oldestAgeMs, lastFlushAt, lastFlushRows, consecutiveFailures, lastError, dialer };
  }

  private dialerConfigured(): boolean {
    return Boolean(this.env.DIALER_WEBHOOK_URL && this.env.DIALER_WEBHOOK_SECRET);
  }

  private retryAfter(): number {
    const c = this.counters.value;
    return retryAfterSeconds({
      depth: this.buffer.depth,
      highWater: this.tunables.BUFFER_HIGH_WATER,
      drainRowsPerS: c.drainRowsPerS,
      // A fresh team has no drain rate yet: the next flush (due now at the mark, or the backoff) is the best guess.
      retryInMs: Math.max(0, (this.flushDueAt(Date.now()) ?? Date.now()) - Date.now()),
    });
  }

  /** When Postgres next wants a write: the buffer's deadline or pending dialer states, held back while a failure backs off. */
  private flushDueAt(now: number): number | null {
    const buffered = flushDueAt(this.buffer.stats(), this.tunables, now);
    const changed = this.outbox.oldestUnsyncedChange();
    const sync = changed === null ? null : changed + DIALER_SYNC_DELAY_MS;
    const due = buffered === null ? sync : sync === null ? buffered : Math.min(buffered, sync);
    if (due === null) return null;
    const c = this.counters.value;
    return c.consecutiveFailures > 0 && c.retryAt !== null ? Math.max(due, c.retryAt) : due;
  }

  /** One alarm per object, the earliest of what is due. Ingest only ever moves it earlier. */
  private async armAlarm({ onlyEarlier }: { onlyEarlier: boolean }): Promise<void> {
    const storage = this.ctx.storage;
    const candidates = [this.flushDueAt(Date.now()), this.dialerConfigured() ? this.outbox.nextDueAt() : null];
    const due = candidates.reduce<number | null>((a, b) => (b === null ? a : a === null ? b : Math.min(a, b)), null);
    const current = this.alarmAt;
    if (due === null) {
      if (!onlyEarlier && current !== null) {
        await storage.deleteAlarm();
        this.alarmAt = null;
      }
      return;
    }
    if (onlyEarlier && current !== null && current <= due) return;
    if (current !== due) {
      await storage.setAlarm(due);
      this.alarmAt = due;
    }
  }
}
