import { z } from "zod/mini";
import { backoffDelayMs, type BackoffSchedule } from "../../protocol/backoff.ts";
import { LIVE_PROTOCOL, liveMessage, PING, type ClientMessage, type LiveMessage } from "../../protocol/live.ts";
import type { ConnectionInfo, FrameCounts } from "./hooks.ts";

export interface Refusal {
  status: 401 | 403;
  code: string;
  message: string;
}

export interface LiveConnectionOptions {
  origin: string;
  token: string;
  onMessage(message: LiveMessage): void;
  onChange(info: ConnectionInfo): void;
  onRefused(refusal: Refusal): void;
}

const RECONNECT_BACKOFF: BackoffSchedule = { baseMs: 500, capMs: 30_000, jitter: "equal" };
/**
 * Pings keep proxies from idling the socket out and tell the page it is still connected; the server
 * answers them without waking the object, so they are cheap enough to send often.
 */
const PING_EVERY_MS = 4_000;
/** No frame (not even a pong) for this long: two pongs missed, the page is cut off — say so, dial again. */
const SILENT_LIMIT_MS = 9_000;
const WATCH_EVERY_MS = 1_000;
const PROBE_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 3_000;

/**
 * Exponential backoff with "equal jitter": half the ceiling fixed, half random, so a hundred managers
 * cut off by the same deploy do not all dial back in the same instant.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  // `attempt` counts from 0 here: the first redial already waits up to a whole base step.
  return backoffDelayMs(attempt + 1, RECONNECT_BACKOFF, random);
}

const errorReply = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/**
 * The manager's live socket: `Sec-WebSocket-Protocol: fieldpulse.v1, bearer.<token>`, every frame
 * checked against the protocol's schema, automatic reconnects. A browser hides why a handshake failed,
 * so a socket that never opened is followed by a plain HTTP request that tells 401/403 from an outage.
 */
export class LiveConnection {
  readonly frames: FrameCounts = { snapshot: 0, positions: 0, knock: 0, lead: 0, unknock: 0, lead_dialer: 0, queue: 0, pong: 0, error: 0, invalid: 0, total: 0 };
  private info: ConnectionInfo = { state: "connecting", attempt: 0, retryAt: null, opened: 0, lastFrameAt: null, lastError: null, disconnectedSince: null };
  private ws: WebSocket | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly options: LiveConnectionOptions) {}

  get state(): Readonly<ConnectionInfo> {
    return this.info;
  }

  start(): void {
    this.dial();
  }

  stop(): void {
    this.set({ state: "stopped", retryAt: null });
    this.teardown(1000, "signed out");
  }

  /** Dial now instead of waiting out the backoff (the browser came back online, or the manager asked). */
  retryNow(): void {
    if (this.info.state === "waiting") this.dial();
  }

  send(message: ClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** The browser says it lost the network: no need to wait for missed pongs. */
  networkLost(): void {
    this.markDisconnected(Date.now());
    if (this.ws) this.drop("the browser went offline");
  }

  /** Close the socket as a network drop would (tests, and the half-open watchdog): the page reconnects. */
  drop(reason = "dropped"): void {
    const ws = this.ws;
    if (!ws) return;
    this.markDisconnected(Date.now());
    ws.close(4000, reason);
    // A half-open socket may never finish its closing handshake: give up on it rather than wait.
    setTimeout(() => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopPings();
      this.set({ lastError: reason });
      this.scheduleRetry();
    }, CLOSE_GRACE_MS);
  }

  /** From this moment the page shows data as last known, until a fresh snapshot arrives. */
  private markDisconnected(since: number): void {
    if (this.info.disconnectedSince === null && this.info.opened > 0) this.set({ disconnectedSince: since });
  }

  private set(patch: Partial<ConnectionInfo>): void {
    this.info = { ...this.info, ...patch };
    this.options.onChange(this.info);
  }

  private dial(): void {
    this.clearRetry();
    // The browser is sure it has no network: wait for its "online" event (or the next try) instead.
    if (!navigator.onLine) {
      this.set({ lastError: "the browser is offline" });
      this.scheduleRetry();
      return;
    }
    this.set({ state: "connecting", retryAt: null });
    const url = new URL("/v1/live", this.options.origin);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, [LIVE_PROTOCOL, `bearer.${this.options.token}`]);
    } catch (err) {
      this.set({ lastError: err instanceof Error ? err.message : String(err) });
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      this.set({ state: "open", opened: this.info.opened + 1, lastError: null, lastFrameAt: Date.now() });
      this.startPings(ws);
    });
    ws.addEventListener("message", (e: MessageEvent<unknown>) => this.receive(e.data));
    ws.addEventListener("close", (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopPings();
      if (this.info.state === "stopped" || this.info.state === "refused") return;
      this.markDisconnected(Date.now());
      this.set({ lastError: opened ? `closed (${e.code}${e.reason ? `: ${e.reason}` : ""})` : "could not connect" });
      if (opened) this.scheduleRetry();
      else void this.probeThenRetry();
    });
  }

  private receive(data: unknown): void {
    this.frames.total++;
    this.info.lastFrameAt = Date.now();
    let json: unknown;
    try {
      json = typeof data === "string" ? JSON.parse(data) : undefined;
    } catch {
      json = undefined;
    }
    const parsed = liveMessage.safeParse(json);
    if (!parsed.success) {
      this.frames.invalid++;
      console.warn("fieldpulse map: ignored a frame that does not match the protocol", parsed.error.issues.slice(0, 3));
      return;
    }
    this.frames[parsed.data.type]++;
    // A snapshot means the server has us whole again: the next drop starts the backoff from the bottom.
    if (parsed.data.type === "snapshot" && (this.info.attempt !== 0 || this.info.disconnectedSince !== null)) this.set({ attempt: 0, disconnectedSince: null });
    this.options.onMessage(parsed.data);
  }

  /** Why did the handshake fail? POST /v1/live/ticket checks the same token and role, cheaply. */
  private async probeThenRetry(): Promise<void> {
    let refusal: Refusal | null = null;
    try {
      const res = await fetch(new URL("/v1/live/ticket", this.options.origin), {
        method: "POST",
        headers: { Authorization: `Bearer ${this.options.token}` },
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
        cache: "no-store",
      });
      if (res.status === 401 || res.status === 403) {
        const body = errorReply.safeParse(await res.json().catch(() => null));
        refusal = { status: res.status, code: body.success ? body.data.error.code : "refused", message: body.success ? body.data.error.message : res.statusText };
      }
    } catch {
      // No answer at all: the network or the server is down; keep trying.
    }
    if (this.info.state === "stopped") return;
    if (refusal) {
      this.set({ state: "refused", retryAt: null, lastError: refusal.message });
      this.options.onRefused(refusal);
      return;
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const delay = reconnectDelay(this.info.attempt);
    this.set({ state: "waiting", attempt: this.info.attempt + 1, retryAt: Date.now() + delay });
    this.retryTimer = setTimeout(() => this.dial(), delay);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private startPings(ws: WebSocket): void {
    this.stopPings();
    let pingedAt = Date.now();
    this.pingTimer = setInterval(() => {
      const lastFrameAt = this.info.lastFrameAt ?? 0;
      if (Date.now() - lastFrameAt > SILENT_LIMIT_MS) {
        // Cut off since the last thing the server said, not since we noticed.
        this.markDisconnected(lastFrameAt);
        this.drop("no answer to pings");
        return;
      }
      if (Date.now() - pingedAt >= PING_EVERY_MS && ws.readyState === WebSocket.OPEN) {
        ws.send(PING);
        pingedAt = Date.now();
      }
    }, WATCH_EVERY_MS);
  }

  private stopPings(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private teardown(code: number, reason: string): void {
    this.clearRetry();
    this.stopPings();
    const ws = this.ws;
    this.ws = null;
    ws?.close(code, reason);
  }
}
