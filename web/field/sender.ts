import { getMetaNumber, META, type FieldDb } from "./db.ts";
import { leadStatusesOf, type Reply } from "./ingest-reply.ts";
import { settle, summarize, takeBatch } from "./outbox.ts";
import {
  backoffMs, DEFAULT_BACKOFF, DEFAULT_BATCH_LIMITS, interpretReply, sendDueAt,
  type Backoff, type BatchLimits, type SendOutcome, type SendPolicy,
} from "./send-policy.ts";
import type { Session } from "../shared/session.ts";

/** One sender per origin at a time — every tab and the service worker take this Web Lock to send. */
export const SENDER_LOCK = "fieldpulse-sender";

export async function asSoleSender<T>(fn: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(SENDER_LOCK, fn) : fn();
}

export interface DrainContext {
  db: FieldDb;
  owner: string;
  post(events: unknown[]): Promise<Reply>;
  policy: SendPolicy;
  /** Shrinks for the rest of the session if the server ever answers 413. */
  limits: BatchLimits;
  onSending?(on: boolean): void;
  onSettled?(outcome: SendOutcome): void;
  now?(): number;
}

export type DrainResult = { batches: number } & (
  | { stop: "idle"; dueAt: number | null }
  | { stop: "waiting"; until: number }
  | { stop: "failed"; reason: string }
  | { stop: "sign-in" }
);

/**
 * Send batches while a send is due (or until the outbox is empty, with `force`). Call it holding the
 * sender lock: it reads each batch fresh from IndexedDB, so whoever held the lock before is accounted for.
 */
export async function drainOutbox(ctx: DrainContext, { force }: { force: boolean }): Promise<DrainResult> {
  const now = ctx.now ?? Date.now;
  const { db, owner } = ctx;
  let batches = 0;
  if (await db.get("meta", META.authRefused(owner))) return { batches, stop: "sign-in" };
  for (;;) {
    const notBefore = await getMetaNumber(db, META.notBefore(owner));
    if (notBefore !== null && notBefore > now()) return { batches, stop: "waiting", until: notBefore };
    const dueAt = sendDueAt(await summarize(db, owner), ctx.policy, now());
    if (dueAt === null || (!force && dueAt > now())) return { batches, stop: "idle", dueAt };

    const batch = await takeBatch(db, owner, ctx.limits);
    ctx.onSending?.(true);
    let reply: Reply;
    try {
      reply = await ctx.post(batch.map((r) => r.event));
    } finally {
      ctx.onSending?.(false);
    }
    const outcome = interpretReply(batch, reply, now());
    await settle(db, owner, outcome, now(), leadStatusesOf(reply));
    for (const r of outcome.rejected) console.warn("fieldpulse: the server rejected an event; dropped", r);
    if (outcome.problem) console.warn("fieldpulse:", outcome.problem);
    ctx.onSettled?.(outcome);
    batches += 1;

    const next = outcome.next;
    switch (next.type) {
      case "continue":
        break;
      case "shrink":
        ctx.limits.events = Math.max(1, Math.floor(batch.length / 2));
        break;
      case "wait":
        return { batches, stop: "waiting", until: now() + next.ms };
      case "backoff":
        return { batches, stop: "failed", reason: next.reason };
      case "sign-in":
        await db.put("meta", next.status, META.authRefused(owner));
        return { batches, stop: "sign-in" };
    }
  }
}

export type SenderState =
  | { state: "idle" }
  | { state: "scheduled"; at: number; why: "due" | "waiting" | "backoff" }
  | { state: "offline" }
  | { state: "sign-in" }
  | { state: "signed-out" };

export interface SenderOptions {
  db: FieldDb;
  session(): Session | null;
  policy(): SendPolicy;
  online(): boolean;
  post(token: string, events: unknown[]): Promise<Reply>;
  onSending(on: boolean): void;
  /** A batch was settled: the outbox and the recent list changed. */
  onSettled(outcome: SendOutcome): void;
  onState(state: SenderState): void;
  /** A send failed for want of a network or a server: a chance to register Background Sync. */
  onFailure?(): void;
  backoff?: Backoff;
  random?(): number;
}

/**
 * The page's sender: a timer set for the next due send, and the drain run under the lock when it fires.
 * Network and server failures back off exponentially with full jitter; a server's Retry-After is kept in
 * IndexedDB so that a reload, another tab or the service worker honour it too.
 */
export class Sender {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | null = null;
  private again: { force: boolean } | null = null;
  private failures = 0;
  private backoffUntil = 0;
  private readonly limits: BatchLimits = { ...DEFAULT_BATCH_LIMITS };

  constructor(private readonly o: SenderOptions) {}

  /** The network came back, or the canvasser is looking: forget the failure backoff (not Retry-After). */
  resetBackoff(): void {
    this.failures = 0;
    this.backoffUntil = 0;
  }

  /** Re-read the outbox and set the timer for the next send. Call after anything that may change it. */
  async schedule(): Promise<void> {
    if (this.running) {
      this.again ??= { force: false };
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    const session = this.o.session();
    if (!session) return this.o.onState({ state: "signed-out" });
    if (!this.o.online()) return this.o.onState({ state: "offline" });
    const { db } = this.o;
    if (await db.get("meta", META.authRefused(session.owner))) return this.o.onState({ state: "sign-in" });
    const [summary, notBefore] = await Promise.all([summarize(db, session.owner), getMetaNumber(db, META.notBefore(session.owner))]);
    if (this.running) return; // a run started while we were reading; it reschedules when done
    const now = Date.now();
    const dueAt = sendDueAt(summary, this.o.policy(), now);
    if (dueAt === null) return this.o.onState({ state: "idle" });
    const at = Math.max(dueAt, this.backoffUntil, notBefore ?? 0);
    const why = at === dueAt ? "due" : at === notBefore ? "waiting" : "backoff";
    this.o.onState({ state: "scheduled", at, why });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(false), Math.max(0, at - now));
  }

  /** Send everything now, whatever its age (the "Send now" button). A Retry-After still holds. */
  sendNow(): Promise<void> {
    this.resetBackoff();
    return this.run(true);
  }

  private run(force: boolean): Promise<void> {
    if (this.running) {
      this.again = { force: force || (this.again?.force ?? false) };
      return this.running;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.attempt(force).finally(() => {
      this.running = null;
      const again = this.again;
      this.again = null;
      void (again?.force ? this.run(true) : this.schedule());
    });
    return this.running;
  }

  private async attempt(force: boolean): Promise<void> {
    const session = this.o.session();
    if (!session || !this.o.online()) return;
    let result: DrainResult;
    try {
      result = await asSoleSender(() =>
        drainOutbox(
          {
            db: this.o.db,
            owner: session.owner,
            post: (events) => this.o.post(session.token, events),
            policy: this.o.policy(),
            limits: this.limits,
            onSending: (on) => this.o.onSending(on),
            onSettled: (outcome) => this.o.onSettled(outcome),
          },
          { force },
        ),
      );
    } catch (err) {
      console.error("fieldpulse: sending failed", err);
      result = { batches: 0, stop: "failed", reason: String(err) };
    }
    if (result.stop === "failed") {
      this.failures += 1;
      this.backoffUntil = Date.now() + backoffMs(this.failures, this.o.backoff ?? DEFAULT_BACKOFF, this.o.random);
      this.o.onFailure?.();
    } else if (result.stop === "idle") {
      this.resetBackoff();
    }
  }
}
