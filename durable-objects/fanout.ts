import type { LiveMessage, LivePoint } from "../protocol/live.ts";
import { coalesceDelay } from "./live.ts";
import type { Budget } from "./socket-guard.ts";

/** Who is on the other end of a live socket; kept with the socket across hibernation. */
export interface SocketIdentity {
  userId: string;
  role: string;
  connectedAt: number;
  /** The token behind the socket (for a ticket, the token it was taken with): revocations close it. */
  jti: string;
  iat: number;
  /** What is left of the socket's message budget (durable-objects/socket-guard.ts). */
  budget?: Budget;
}

/**
 * Sends to every manager socket of the object. Positions are coalesced: at most one message per tick,
 * holding every point since the last one; knocks, leads and queue figures go out as they happen.
 * Sockets are never tracked in memory: ctx.getWebSockets() is the truth, even after hibernation.
 */
export class LiveFanout {
  private points: LivePoint[] = [];
  private lastSentAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly tickMs: () => number,
  ) {}

  get listeners(): number {
    return this.ctx.getWebSockets().length;
  }

  send(message: LiveMessage): void {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return;
    const text = JSON.stringify(message);
    for (const ws of sockets) {
      try {
        ws.send(text);
      } catch {
        // A socket closing right now: its close handler tidies up.
      }
    }
  }

  positions(points: readonly LivePoint[]): void {
    if (points.length === 0 || this.listeners === 0) return;
    this.points.push(...points);
    if (this.timer) return;
    const delay = coalesceDelay(this.lastSentAt, Date.now(), this.tickMs());
    if (delay === 0) this.flushPositions();
    else this.timer = setTimeout(() => this.flushPositions(), delay);
  }

  private flushPositions(): void {
    this.timer = null;
    if (this.points.length === 0) return;
    const points = this.points;
    this.points = [];
    this.lastSentAt = Date.now();
    this.send({ type: "positions", serverTime: this.lastSentAt, points });
  }
}
