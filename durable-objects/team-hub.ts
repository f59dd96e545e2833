import { DurableObject } from "cloudflare:workers";
import type { BufferedEvent } from "../db/bulk.ts";
import type { EventKind, IngestEvent, LeadEvent, LeadStatus } from "../protocol/events.ts";
import type { QueueFigures } from "../protocol/metrics.ts";
import { clientMessage, LIVE_PROTOCOL, PING, PONG, type KnocksPage, type LiveQueue, type Snapshot } from "../protocol/live.ts";
import { AccessList, type RevokeRequest, type TokenRef } from "./access.ts";
import { BatchBuffer, type TakenBatch } from "./buffer.ts";
import { readTunables, type Tunables } from "../common/config.ts";
import { loadCounters, saveCounters, type Counters } from "./counters.ts";
import { errorClass, isDataError } from "./db-errors.ts";
import { DialerOutbox } from "./dialer-outbox.ts";
import { writeBatch, writeLeadsNow } from "./flush.ts";
import { backoffMs, batchDueAt, flushDueAt, retryAfterSeconds, updateDrainRate } from "./flush-policy.ts";
import { readLiveHistory } from "./hydrate.ts";
import { LiveFanout, type SocketIdentity } from "./fanout.ts";
import { admitSocket, chargeFrame, CLOSE_POLICY_VIOLATION, type FrameKind } from "./socket-guard.ts";
import { liveDelta, LiveState, type LiveDelta } from "./live.ts";
import { errorMessage, log } from "../common/log.ts";
import { RecentIds } from "./recent-ids.ts";
import { markTeamClean, markTeamDirty, pushDialerPull } from "../common/redis.ts";
import { MetaStore, MeteredSql, migrateStorage } from "./storage.ts";
import { deliver } from "./webhook.ts";

/** How long one flush or delivery run may keep going before it yields to the next alarm. */
const TIME_BUDGET_MS = 20_000;
/** Delivery states reach Postgres with the next flush, or after this long on their own. */
const DIALER_SYNC_DELAY_MS = 30_000;
const DELIVERIES_AT_ONCE = 10;
/** Queue frames between flushes: at most one a second, so the panel shows the buffer filling. */
const QUEUE_FRAME_MIN_MS = 1_000;
/** An alarm that made no progress never re-arms sooner than this: no spinning on work that cannot move. */
const MIN_IDLE_REARM_MS = 1_000;
/** A resync is answered from a snapshot at most this old. */
const SNAPSHOT_CACHE_MS = 1_000;
const HOUR_MS = 3_600_000;
/** The hold on a new lead outlasts its write's own deadline (which starts a little later): release or refusal ends it sooner. */
const LEAD_HOLD_SLACK_MS = 5_000;
/** A map that connects waits this long at most for what Postgres holds; the rest arrives with the next snapshot. */
const HYDRATE_WAIT_MS = 2_000;
const HYDRATE_RETRY_MS = 30_000;

export interface IngestInput {
  teamId: string;
  userId: string;
  /** The token the request came with: a revoked one is refused here, where every ingest of the team passes. */
  token: TokenRef;
  /** The canvasser's display name, from the token: shown on the live map. */
  name?: string;
  events: IngestEvent[];
  receivedAt: number;
}

/** An event whose id already belongs to an event of another kind: `at` is its index in the ingest call's events. */
export interface IdConflict {
  at: number;
  id: string;
  kind: EventKind;
}

export interface HubIngestResult {
  /** The token was revoked: nothing was taken (the Worker answers 401). */
  revoked?: true;
  accepted: number;
  duplicates: number;
  refused: number;
  /** Ids of the refused events (backpressure), so a client knows exactly what to keep. */
  refusedIds: string[];
  leads: LeadStatus[];
  /** Events refused because their id is already another kind's event (`at`: index in `events`). */
  conflicts: IdConflict[];
  /** Set when buffered kinds were refused under backpressure. */
  retryAfterS?: number;
}

export interface FlushReport {
  ok: boolean;
  rows: number;
  /** Events Postgres refused for their content, now in its dead-letter table. */
  quarantined: number;
  batches: number;
  statements: number;
  ms: number;
  depth: number;
  error?: string;
}

const isLead = (e: IngestEvent): e is LeadEvent => e.type === "lead";

/**
 * One per team: the single writer for that team's events. A thin shell wiring plain modules — the batch
 * buffer and the dialer outbox (SQLite), the live picture (memory), the flush policy (pure), the batch
 * writer (Neon) — to alarms and sockets. One accepted request costs one batch row (+ one row per new lead).
 */
export class TeamHub extends DurableObject<Env> {
  /** Read from wrangler vars once per object. */
  protected tunables: Tunables;
  private readonly sql: MeteredSql;
  private readonly fanout: LiveFanout;
  private buffer!: BatchBuffer;
  private outbox!: DialerOutbox;
  private meta!: MetaStore;
  private counters!: Counters;
  private live!: LiveState;
  private access!: AccessList;
  private readonly ids = new RecentIds();
  private hydrated: Promise<void> | null = null;
  /** Leads a request is writing to Postgres right now: the flush leaves them to it. */
  private readonly leadsInFlight = new Set<string>();
  private hydrateRetryAt = 0;
  private lastPruneAt = 0;
  private lastStoragePruneAt = 0;
  private lastQueueSentAt = 0;
  private snapshotCache: { at: number; text: string } | null = null;
  /** The alarm as this object last set it: saves a storage read on every ingest. */
  private alarmAt: number | null = null;
  private flushing: Promise<FlushReport> | null = null;
  private delivering: Promise<number> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.tunables = readTunables(env);
    this.sql = new MeteredSql(ctx.storage.sql);
    this.fanout = new LiveFanout(ctx, () => this.tunables.LIVE_TICK_MS);
    // Pings are answered by the runtime without waking a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.transactionSync(() => {
        const from = migrateStorage(this.sql, (events, receivedAt) => batchDueAt(events.map((e) => e.type), receivedAt, this.tunables));
        if (from === 1) log({ event: "storage_migrated", from, to: 2 });
      });
      this.meta = new MetaStore(this.sql);
      this.counters = loadCounters(this.meta);
      this.live = new LiveState((this.meta.read("names") as Record<string, string> | undefined) ?? {});
      this.outbox = new DialerOutbox(this.sql);
      this.access = new AccessList({
        exec: (query, ...bindings) => {
          const rows = this.sql.all(query, ...bindings);
          return { toArray: () => rows };
        },
      });
      const now = Date.now();
      // What Postgres does not hold yet: the id set and the live picture start from the buffer.
      this.buffer = new BatchBuffer(this.sql, (events, userId, receivedAt) => {
        for (const e of events) this.ids.add(e.id, e.type);
        this.live.apply(liveDelta(events, userId, undefined), now);
      });
      this.alarmAt = await ctx.storage.getAlarm();
      // Woken with work and no alarm (a reset between a write and its setAlarm): arm it now.
      if (this.alarmAt === null) await this.armAlarm({ onlyEarlier: true });
    });
  }

  async ingest(input: IngestInput): Promise<HubIngestResult> {
    const { teamId, userId, receivedAt } = input;
    if (this.access.isRevoked(input.token)) return { revoked: true, accepted: 0, duplicates: 0, refused: 0, refusedIds: [], leads: [], conflicts: [] };
    this.knowTeam(teamId);
    const wasEmpty = this.buffer.depth === 0;

    // The first occurrence of an id wins, in this batch and against everything recently seen. The same id
    // on an event of another kind is no resend: it is refused, never counted as a duplicate (a lead would be lost).
    const fresh: IngestEvent[] = [];
    const inBatch = new Map<string, EventKind>();
    const conflicts: IdConflict[] = [];
    let duplicates = 0;
    input.events.forEach((e, at) => {
      const seen = inBatch.get(e.id) ?? this.ids.kindOf(e.id);
      if (seen === undefined) {
        inBatch.set(e.id, e.type);
        fresh.push(e);
      } else if (seen === e.type) duplicates += 1;
      else conflicts.push({ at, id: e.id, kind: seen });
    });
    const leads = fresh.filter(isLead);
    // Backpressure refuses only the kinds that wait in the buffer: a lead is always taken.
    const others = fresh.filter((e) => !isLead(e));
    const refused = this.buffer.depth >= this.tunables.BUFFER_HIGH_WATER ? others.length : 0;
    const buffered = refused ? [] : others;
    const dueAt = batchDueAt(new Set(buffered.map((e) => e.type)), receivedAt, this.tunables);

    // One storage transaction: the batch row and the outbox rows are accepted together or not at all.
    const newLeads = this.ctx.storage.transactionSync(() => {
      // Held until this request has written them to Postgres: an alarm firing meanwhile must not deliver one it refuses.
      const added = this.outbox.add(leads, teamId, userId, receivedAt, Date.now() + this.tunables.LEAD_WRITE_TIMEOUT_MS + LEAD_HOLD_SLACK_MS);
      this.buffer.append(buffered, userId, receivedAt, dueAt);
      return leads.filter((l) => added.has(l.id));
    });
    duplicates += leads.length - newLeads.length;
    const accepted = [...newLeads, ...buffered];
    for (const e of accepted) this.ids.add(e.id, e.type);
    this.counters.acceptedTotal += accepted.length;
    this.counters.duplicatesTotal += duplicates;
    this.counters.refusedTotal += refused;

    // The live picture moves with what was accepted, before any flush: the map never waits for Postgres.
    this.broadcast(this.live.apply(liveDelta(accepted, userId, input.name), receivedAt));
    const serverTime = Date.now();
    // Between flushes the queue panel would freeze: a throttled queue frame shows the buffer filling.
    if (serverTime - this.lastQueueSentAt > QUEUE_FRAME_MIN_MS && this.fanout.listeners > 0) this.sendQueue();
    if (serverTime - this.lastPruneAt > 60_000) {
      this.lastPruneAt = serverTime;
      this.live.prune(serverTime);
    }

    // Armed before any wait on Postgres: a reset during the lead write must not strand the new batch.
    await this.armAlarm({ onlyEarlier: true });
    const rejectedLeads = newLeads.length > 0 ? await this.storeLeadsNow(input, newLeads) : new Set<string>();
    if (newLeads.length > 0) await this.armAlarm({ onlyEarlier: true });
    // Redis never holds a phone: the dirty mark and the pull list go out after the answer.
    // A lead Postgres did not take (an outage) also waits for the flush: the cron's safety net must know this team.
    const leadsQueued = newLeads.some((l) => !rejectedLeads.has(l.id)) && this.outbox.unstoredCount > 0;
    if ((wasEmpty && this.buffer.depth > 0) || leadsQueued) this.ctx.waitUntil(markTeamDirty(this.env, teamId));
    const pull = newLeads.filter((l) => !rejectedLeads.has(l.id)).map((l) => this.outbox.bodyOf(l.id)).filter((b): b is string => b !== null);
    if (pull.length > 0) this.ctx.waitUntil(pushDialerPull(this.env, teamId, pull));

    // Every lead of the request is reported, resent ones too: the phone learns where each stands. A lead
    // refused for its id (another kind's) is in `conflicts` instead.
    const conflicting = new Set(conflicts.map((c) => input.events[c.at]!));
    const leadIds = [...new Set(input.events.filter((e) => isLead(e) && !conflicting.has(e)).map((l) => l.id))];
    const status = this.outbox.storageStatus(leadIds);
    const result: HubIngestResult = {
      accepted: accepted.length,
      duplicates,
      refused,
      refusedIds: refused ? others.map((e) => e.id) : [],
      leads: leadIds.map((id) => ({ id, status: status.get(id) ?? "queued" })),
      conflicts,
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
    this.delivering ??= this.deliverLoop(now).finally(async () => {
      this.delivering = null;
      // Re-armed only now: while the run was on, every re-arm left deliveries out (they were in hand).
      await this.armAlarm({ onlyEarlier: false, progressed: true });
    });
    return this.delivering;
  }

  /** An operator's redeliver: the lead goes back in line with a fresh 24 h window. */
  async redeliver(leadId: string): Promise<boolean> {
    const found = this.ctx.storage.transactionSync(() => this.outbox.redeliver(leadId.toLowerCase(), Date.now()));
    if (found) await this.armAlarm({ onlyEarlier: true });
    return found;
  }

  /** Is this token still good? Answered from memory: the Worker asks on every manager and admin route. */
  authorize(token: TokenRef): boolean {
    return !this.access.isRevoked(token);
  }

  /** Revoke one token or everything issued to a user until now; their open sockets close at once. */
  revoke(what: RevokeRequest): { kind: "jti" | "user"; at: number; closedSockets: number } {
    const done = this.ctx.storage.transactionSync(() => this.access.revoke(what, Date.now()));
    let closedSockets = 0;
    for (const ws of this.ctx.getWebSockets()) {
      const id = this.identityOf(ws);
      if (id && this.access.isRevoked({ sub: id.userId, jti: id.jti, iat: id.iat })) {
        closeQuietly(ws, CLOSE_POLICY_VIOLATION, "token revoked");
        closedSockets += 1;
      }
    }
    log({ event: "token_revoked", teamId: this.counters.teamId, kind: done.kind, closedSockets });
    return { ...done, closedSockets };
  }

  figures(): QueueFigures {
    const c = this.counters;
    const now = Date.now();
    const stats = this.buffer.stats();
    const leadsWaiting = this.outbox.unstoredCount;
    const byKind: Record<string, number> = { ...stats.byKind };
    if (leadsWaiting > 0) byKind.lead = leadsWaiting;
    const oldestLead = this.outbox.oldestUnstoredAt();
    const oldest = stats.oldestReceivedAt === null ? oldestLead : oldestLead === null ? stats.oldestReceivedAt : Math.min(oldestLead, stats.oldestReceivedAt);
    return {
      teamId: c.teamId ?? "",
      depth: stats.events + leadsWaiting,
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
      quarantinedTotal: c.quarantinedTotal,
      lastQuarantineAt: c.lastQuarantineAt,
      consecutiveFailures: c.consecutiveFailures,
      lastError: c.lastError,
      lastErrorAt: c.lastErrorAt,
      drainRowsPerS: c.drainRowsPerS,
      storageRowsWritten: c.storageRowsWritten + this.sql.rowsWritten,
      storageRowsRead: c.storageRowsRead + this.sql.rowsRead,
      alarmsSet: c.alarmsSet,
      dialer: { configured: this.dialerConfigured(), ...this.outbox.figures(now) },
      updatedAt: now,
    };
  }

  /** The live picture for a manager who just arrived (also GET /v1/positions/latest). */
  async snapshot(teamId: string): Promise<Snapshot> {
    this.knowTeam(teamId);
    await this.hydratedOrSoon();
    return this.buildSnapshot();
  }

  /** GET /v1/knocks: older knocks of the window, in pages, for a map that wants the whole day. */
  async knocksPage(teamId: string, before: number, limit: number): Promise<KnocksPage> {
    // Like the socket and the snapshot: a freshly started object learns its team here and reads its day.
    this.knowTeam(teamId);
    await this.hydratedOrSoon();
    return this.live.knocksPage(before, limit);
  }

  /** GET /v1/live, already authenticated by the Worker: accept a hibernatable socket and send the snapshot. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const team = request.headers.get("X-Fieldpulse-Team");
    if (team) this.knowTeam(headerValue(team));
    const now = Date.now();
    const identity: SocketIdentity = {
      userId: headerValue(request.headers.get("X-Fieldpulse-User") ?? "unknown"),
      role: request.headers.get("X-Fieldpulse-Role") ?? "manager",
      connectedAt: now,
      jti: request.headers.get("X-Fieldpulse-Token-Jti") ?? "",
      iat: Number(request.headers.get("X-Fieldpulse-Token-Iat") ?? 0),
    };
    if (!identity.jti || this.access.isRevoked({ sub: identity.userId, jti: identity.jti, iat: identity.iat })) {
      return Response.json({ error: { code: "token_revoked", message: "the token has been revoked" } }, { status: 401 });
    }
    const ticketJti = request.headers.get("X-Fieldpulse-Ticket-Jti");
    if (ticketJti) {
      const exp = Number(request.headers.get("X-Fieldpulse-Ticket-Exp") ?? 0);
      const fresh = this.ctx.storage.transactionSync(() => this.access.useTicket(ticketJti, exp, now));
      if (!fresh) return Response.json({ error: { code: "ticket_used", message: "a ticket opens one socket, once; take a new one" } }, { status: 401 });
    }
    const open = this.ctx.getWebSockets().flatMap((ws) => {
      const id = this.identityOf(ws);
      return id ? [{ ws, jti: id.jti, connectedAt: id.connectedAt }] : [];
    });
    const admission = admitSocket(open, identity.jti);
    if (!admission.ok) return Response.json({ error: { code: "too_many_sockets", message: admission.reason } }, { status: 429, headers: { "Retry-After": "30" } });
    // A reloaded page's old sockets make way for the new one.
    for (const old of admission.evict) closeQuietly(old.ws, CLOSE_POLICY_VIOLATION, "too many sockets for one token: replaced by a newer one");
    await this.hydratedOrSoon();
    // A revocation may have landed while we waited.
    if (this.access.isRevoked({ sub: identity.userId, jti: identity.jti, iat: identity.iat })) {
      return Response.json({ error: { code: "token_revoked", message: "the token has been revoked" } }, { status: 401 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(identity);
    server.send(this.snapshotText());
    // Echo the subprotocol only when offered: a browser fails a handshake that names one it did not ask for.
    const offered = (request.headers.get("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
    const headers: HeadersInit = offered.includes(LIVE_PROTOCOL) ? { "Sec-WebSocket-Protocol": LIVE_PROTOCOL } : {};
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    let parsed: ReturnType<typeof clientMessage.safeParse>;
    try {
      // A frame larger than any honest message is junk without being parsed.
      const text = typeof message === "string" ? message : new TextDecoder().decode(message);
      parsed = clientMessage.safeParse(text.length > 1_024 ? undefined : JSON.parse(text));
    } catch {
      parsed = clientMessage.safeParse(undefined);
    }
    // Each socket spends from its own budget: a flood closes the flooder (1008), never slows the team.
    const identity = this.identityOf(ws);
    const kind: FrameKind = parsed.success ? parsed.data.type : "junk";
    const verdict = chargeFrame(identity?.budget, kind, Date.now());
    if (!verdict.ok) {
      log({ event: "socket_closed_for_flooding", teamId: this.counters.teamId, userId: identity?.userId, kind });
      closeQuietly(ws, verdict.close.code, verdict.close.reason);
      return;
    }
    if (identity) ws.serializeAttachment({ ...identity, budget: verdict.budget });
    if (!parsed.success) {
      ws.send(JSON.stringify({ type: "error", code: "bad_message", message: "send {\"type\":\"ping\"} or {\"type\":\"resync\"}" }));
      return;
    }
    switch (parsed.data.type) {
      case "ping":
        ws.send(PONG);
        return;
      case "resync":
        ws.send(this.snapshotText());
        return;
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // 1005/1006 are reported, never sent: answer a clean close.
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      /* already closed */
    }
  }

  /**
   * Two clocks, one alarm: the flush runs here when due; deliveries run beside it with their own budget,
   * so a slow dialer never holds a due flush (and a slow Postgres never holds a delivery).
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null; // this one has fired
    const before = this.progressMark();
    try {
      const now = Date.now();
      const deliveryDue = this.dialerConfigured() ? this.outbox.nextDueAt() : null;
      if (deliveryDue !== null && deliveryDue <= now && !this.delivering) this.ctx.waitUntil(this.deliverDue(now));
      const flushDue = this.flushDueAt(now);
      if (flushDue !== null && flushDue <= now) await this.flush("due");
      if (now - this.lastStoragePruneAt > HOUR_MS) {
        this.lastStoragePruneAt = now;
        this.ctx.storage.transactionSync(() => {
          this.outbox.prune(now);
          this.access.prune(now);
        });
      }
    } finally {
      // Platform alarm retries stop after six: the object re-arms itself whatever happened.
      await this.armAlarm({ onlyEarlier: false, progressed: this.progressMark() !== before });
    }
  }

  private identityOf(ws: WebSocket): SocketIdentity | null {
    try {
      return (ws.deserializeAttachment() as SocketIdentity | null) ?? null;
    } catch {
      return null;
    }
  }

  /**
   * Postgres has committed a flush batch; the buffer still holds it. Nothing to do here: the seam where the
   * crash drill (bench/worker.ts) and the tests (test/support/test-worker.ts) stop the object at that point.
   */
  protected async committed(_teamId: string, _rows: number): Promise<void> {}

  private knowTeam(teamId: string): void {
    if (this.counters.teamId !== teamId) {
      this.counters.teamId = teamId;
      this.ctx.storage.transactionSync(() => this.persistCounters());
    }
    if (!this.hydrated && Date.now() >= this.hydrateRetryAt) this.hydrated = this.hydrate(teamId);
  }

  /** The live picture, with what Postgres holds merged in when it answers quickly; never held up by a slow database. */
  private async hydratedOrSoon(): Promise<void> {
    if (!this.hydrated) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.hydrated, new Promise<void>((resolve) => (timer = setTimeout(resolve, HYDRATE_WAIT_MS)))]);
    if (timer !== undefined) clearTimeout(timer);
  }

  /** One bounded Postgres read at start: what was flushed before this object woke joins the live picture. */
  private async hydrate(teamId: string): Promise<void> {
    try {
      const history = await readLiveHistory(this.env, teamId, Date.now(), this.tunables.LEAD_WRITE_TIMEOUT_MS);
      this.live.merge(history, Date.now());
      for (const k of history.knocks) this.ids.add(k.id, "knock");
      for (const l of history.leads) this.ids.add(l.id, "lead");
      this.snapshotCache = null;
    } catch (err) {
      // The map still shows what the buffer holds; tried again after a pause, never once per request.
      log({ event: "live_hydrate_failed", teamId, error: errorMessage(err) });
      this.hydrated = null;
      this.hydrateRetryAt = Date.now() + HYDRATE_RETRY_MS;
    }
  }

  private broadcast(delta: LiveDelta): void {
    const serverTime = Date.now();
    if (delta.points.length + delta.knocks.length + delta.leads.length + delta.unknocks.length > 0) this.snapshotCache = null;
    this.fanout.positions(delta.points);
    for (const knock of delta.knocks) this.fanout.send({ type: "knock", serverTime, knock });
    for (const lead of delta.leads) this.fanout.send({ type: "lead", serverTime, lead });
    for (const u of delta.unknocks) this.fanout.send({ type: "unknock", serverTime, id: u.id, userId: u.userId });
  }

  private buildSnapshot(): Snapshot {
    return this.live.snapshot(Date.now(), this.liveQueue(), this.outbox.dialerStates(this.dialerConfigured()));
  }

  /** A resync storm costs one snapshot a second, not one per message. */
  private snapshotText(): string {
    const now = Date.now();
    if (!this.snapshotCache || now - this.snapshotCache.at > SNAPSHOT_CACHE_MS) {
      this.snapshotCache = { at: now, text: JSON.stringify(this.buildSnapshot()) };
    }
    return this.snapshotCache.text;
  }

  /** Leads go to Postgres inside the request; returns those it refused for their content (never delivered). */
  private async storeLeadsNow(input: IngestInput, leads: LeadEvent[]): Promise<Set<string>> {
    const ids = leads.map((l) => l.id);
    const batch: BufferedEvent<LeadEvent>[] = leads.map((event) => ({ teamId: input.teamId, userId: input.userId, receivedAt: input.receivedAt, event }));
    for (const id of ids) this.leadsInFlight.add(id);
    try {
      const rejected = await writeLeadsNow(this.env, batch, this.tunables.LEAD_WRITE_TIMEOUT_MS);
      const refused = new Set(rejected.map((r) => r.buffered.event.id));
      this.ctx.storage.transactionSync(() => {
        this.outbox.markStoredNow(ids.filter((id) => !refused.has(id)), Date.now());
        this.outbox.markRefused([...refused], Date.now());
      });
      if (refused.size > 0) this.countQuarantined(rejected.map((r) => ({ id: r.buffered.event.id, error: r.error, sqlstate: r.sqlstate })));
      return refused;
    } catch (err) {
      // Still in the outbox: the flush writes them first, with backoff; the dialer hears of them now.
      log({ event: "lead_write_deferred", teamId: input.teamId, leads: ids.length, error: errorMessage(err) });
      this.ctx.storage.transactionSync(() => this.outbox.release(ids, Date.now()));
      return new Set();
    } finally {
      for (const id of ids) this.leadsInFlight.delete(id);
    }
  }

  private countQuarantined(rows: { id: string; error: string; sqlstate: string | null }[]): void {
    this.counters.quarantinedTotal += rows.length;
    this.counters.lastQuarantineAt = Date.now();
    for (const r of rows) log({ event: "event_quarantined", teamId: this.counters.teamId, id: r.id, sqlstate: r.sqlstate, error: r.error });
    this.ctx.storage.transactionSync(() => this.persistCounters());
  }

  private async drain(scope: "all" | "due"): Promise<FlushReport> {
    const started = Date.now();
    const report: FlushReport = { ok: true, rows: 0, quarantined: 0, batches: 0, statements: 0, ms: 0, depth: this.buffer.depth };
    const teamId = this.counters.teamId;
    try {
      while (teamId) {
        const leads = this.outbox.unstored(teamId, this.tunables.FLUSH_BATCH_ROWS).filter((l) => !this.leadsInFlight.has(l.event.id));
        const taken: TakenBatch[] = this.buffer.depth > 0 ? this.buffer.take(Math.max(1, this.tunables.FLUSH_BATCH_ROWS - leads.length)) : [];
        const sync = this.outbox.unsynced(1_000);
        if (leads.length === 0 && taken.length === 0 && sync.length === 0) break;
        const events = firstOccurrences([...leads, ...taken.flatMap((b) => b.body.map((event) => ({ teamId, userId: b.userId, receivedAt: b.receivedAt, event })))]);
        const t0 = Date.now();
        const written = await writeBatch(this.env, teamId, events, sync);
        await this.committed(teamId, written.written.length);
        const ms = Date.now() - t0;
        const refusedLeads = written.rejected.filter((r) => r.buffered.event.type === "lead").map((r) => r.buffered.event.id);
        const rows = written.written.length;
        const c = this.counters;
        if (rows > 0) {
          c.lastFlushAt = Date.now();
          c.lastFlushRows = rows;
          c.lastFlushMs = ms;
          c.flushedTotal += rows;
          c.flushesTotal += 1;
          c.drainRowsPerS = updateDrainRate(c.drainRowsPerS, rows, ms);
        }
        c.consecutiveFailures = 0;
        c.retryAt = null;
        if (written.rejected.length > 0) {
          c.quarantinedTotal += written.rejected.length;
          c.lastQuarantineAt = Date.now();
          for (const r of written.rejected) log({ event: "event_quarantined", teamId, id: r.buffered.event.id, kind: r.buffered.event.type, sqlstate: r.sqlstate, error: r.error });
        }
        // After COMMIT: forget what Postgres now holds (or refused for good) — one row deleted per batch.
        this.ctx.storage.transactionSync(() => {
          this.buffer.remove(taken);
          this.outbox.markStored(written.written.filter((w) => w.event.type === "lead"));
          this.outbox.markRefused(refusedLeads, Date.now());
          this.outbox.markSynced(sync.filter((s) => written.synced.has(s.leadId)));
          this.persistCounters();
        });
        report.rows += rows;
        report.quarantined += written.rejected.length;
        report.statements += written.statements;
        report.batches += 1;
        log({ event: "flush", teamId, rows, quarantined: written.rejected.length, dialerSynced: written.synced.size, statements: written.statements, ms, depth: this.buffer.depth });
        if (taken.length === 0 && leads.length === 0) break; // a sync-only pass: nothing more to do
        if (Date.now() - started > TIME_BUDGET_MS) break;
        // The alarm keeps going only while what is left is already due: a small remainder waits to
        // join later rows in one statement instead of costing a transaction of its own.
        const due = flushDueAt(this.buffer.stats(), this.tunables, Date.now());
        // Leads written with a delivery state of their own get it synced by the next pass, not 30 s later.
        if (scope === "due" && (due === null || due > Date.now()) && this.waitingLeadsDue() === null && this.outbox.oldestUnsyncedChange() === null) break;
      }
    } catch (err) {
      const cls = errorClass(err);
      const c = this.counters;
      c.consecutiveFailures += 1;
      c.lastError = cls;
      c.lastErrorAt = Date.now();
      c.retryAt = Date.now() + backoffMs(c.consecutiveFailures, this.tunables.FLUSH_MAX_BACKOFF_S);
      this.ctx.storage.transactionSync(() => this.persistCounters());
      log({ event: "flush_failed", teamId, errorClass: cls, error: errorMessage(err), dataError: isDataError(err), failures: c.consecutiveFailures });
      report.ok = false;
      report.error = errorMessage(err);
    }
    report.ms = Date.now() - started;
    report.depth = this.buffer.depth;
    if (report.depth === 0 && report.rows > 0 && teamId) {
      await markTeamClean(this.env, teamId);
      // An ingest may have slipped in while SREM was in flight: its SADD could have landed first.
      if (this.buffer.depth > 0) await markTeamDirty(this.env, teamId);
    }
    if (this.hydrated === null && teamId && report.ok && report.rows > 0) {
      this.hydrateRetryAt = 0;
      this.knowTeam(teamId);
    }
    // Whoever asked for this flush, the next one is scheduled from what is left (or the backoff).
    await this.armAlarm({ onlyEarlier: false, progressed: true });
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
      const serverTime = Date.now();
      this.ctx.storage.transactionSync(() => {
        due.forEach((d, i) => {
          const status = this.outbox.record(d, results[i]!, now);
          log({ event: "dialer_delivery", leadId: d.leadId, attempt: d.attempts + 1, status, http: results[i]!.status, error: results[i]!.error });
        });
      });
      for (const d of due) {
        const dialer = this.outbox.dialerOf(d.leadId, true);
        if (dialer && this.live.hasLead(d.leadId)) this.fanout.send({ type: "lead_dialer", serverTime, id: d.leadId, dialer });
      }
      this.snapshotCache = null;
      attempts += due.length;
      if (Date.now() - started > TIME_BUDGET_MS) break;
    }
    if (attempts > 0) this.sendQueue();
    return attempts;
  }

  private persistCounters(): void {
    const c = this.counters;
    // Move the meter into the counters; the counters row's own write is counted with the next one.
    c.storageRowsWritten += this.sql.rowsWritten;
    c.storageRowsRead += this.sql.rowsRead;
    this.sql.rowsWritten = 0;
    this.sql.rowsRead = 0;
    saveCounters(this.meta, c);
    const names = this.live.takeNamesIfChanged();
    if (names) this.meta.write("names", names);
  }

  private progressMark(): string {
    const c = this.counters;
    return `${c.flushedTotal}/${c.quarantinedTotal}/${this.buffer.depth}/${c.consecutiveFailures}`;
  }

  private sendQueue(): void {
    if (this.fanout.listeners === 0) return;
    this.lastQueueSentAt = Date.now();
    this.fanout.send({ type: "queue", serverTime: this.lastQueueSentAt, queue: this.liveQueue() });
  }

  private liveQueue(): LiveQueue {
    const { depth, oldestAgeMs, lastFlushAt, lastFlushRows, consecutiveFailures, lastError, quarantinedTotal, dialer } = this.figures();
    return { depth, oldestAgeMs, lastFlushAt, lastFlushRows, consecutiveFailures, lastError, quarantinedTotal, dialer };
  }

  private dialerConfigured(): boolean {
    return Boolean(this.env.DIALER_WEBHOOK_URL && this.env.DIALER_WEBHOOK_SECRET);
  }

  private retryAfter(): number {
    return retryAfterSeconds({
      depth: this.buffer.depth,
      highWater: this.tunables.BUFFER_HIGH_WATER,
      // While Postgres fails, the last drain rate says nothing: the backoff decides.
      drainRowsPerS: this.counters.consecutiveFailures > 0 ? null : this.counters.drainRowsPerS,
      // A fresh team has no drain rate yet: the next flush (due now at the mark, or the backoff) is the best guess.
      retryInMs: Math.max(0, (this.flushDueAt(Date.now()) ?? Date.now()) - Date.now()),
    });
  }

  /** Leads waiting for the flush (not the ones a request is writing right now): due at once. */
  private waitingLeadsDue(): number | null {
    const waiting = this.outbox.unstoredCount;
    if (waiting === 0 || waiting <= this.leadsInFlight.size) return null;
    return this.outbox.oldestUnstoredAt();
  }

  /** When Postgres next wants a write: the buffer's deadline, waiting leads, or pending dialer states — held back while a failure backs off. */
  private flushDueAt(now: number): number | null {
    const candidates = [
      flushDueAt(this.buffer.stats(), this.tunables, now),
      this.waitingLeadsDue(),
      (() => {
        const changed = this.outbox.oldestUnsyncedChange();
        return changed === null ? null : changed + DIALER_SYNC_DELAY_MS;
      })(),
    ];
    const due = earliest(candidates);
    if (due === null) return null;
    const c = this.counters;
    return c.consecutiveFailures > 0 && c.retryAt !== null ? Math.max(due, c.retryAt) : due;
  }

  /**
   * One alarm per object, the earliest of what is due. Ingest only ever moves it earlier; a run that made
   * no progress never re-arms "due now" (an outbox pointing at leads Postgres does not hold once spun here).
   * setAlarm() is a billed write: it is called only when the alarm must move.
   */
  private async armAlarm({ onlyEarlier, progressed = true }: { onlyEarlier: boolean; progressed?: boolean }): Promise<void> {
    const storage = this.ctx.storage;
    const now = Date.now();
    const delivery = this.dialerConfigured() && !this.delivering ? this.outbox.nextDueAt() : null;
    let due = earliest([this.flushDueAt(now), delivery]);
    if (due !== null && !progressed) due = Math.max(due, now + MIN_IDLE_REARM_MS);
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
      this.counters.alarmsSet += 1;
    }
  }
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    /* already closing */
  }
}

/** Identity headers from the Worker are URI-encoded (a user id may hold any printable character). */
function headerValue(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function earliest(times: readonly (number | null)[]): number | null {
  return times.reduce<number | null>((a, b) => (b === null ? a : a === null ? b : Math.min(a, b)), null);
}

/** The first occurrence of an id wins everywhere: in one statement a later copy would be a silent no-op anyway. */
function firstOccurrences(events: BufferedEvent[]): BufferedEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => (seen.has(e.event.id) ? false : (seen.add(e.event.id), true)));
}
