/**
 * Built on its own into `/field/sw-sync.js` and loaded by the generated service worker (importScripts):
 * on Background Sync, drain the outbox with the same code the page uses, under the same lock. A failed
 * drain throws, and the browser schedules the sync again later.
 */
import "../shared/zod-config.ts";
import { parseToken } from "../shared/session.ts";
import { announce } from "./bus.ts";
import { META, openFieldDb } from "./db.ts";
import { DEFAULT_BATCH_LIMITS, DEFAULT_SEND_POLICY } from "./send-policy.ts";
import { asSoleSender, drainOutbox } from "./sender.ts";
import { SYNC_TAG } from "./service-worker.ts";
import { postEvents } from "./transport.ts";

interface SyncEventLike extends Event {
  readonly tag: string;
  waitUntil(work: Promise<unknown>): void;
}

// The project's DOM typings know no ServiceWorkerGlobalScope: just the two members used here.
const worker = globalThis as unknown as {
  addEventListener(type: "sync", listener: (event: SyncEventLike) => void): void;
  location: { origin: string };
};

async function drainInBackground(): Promise<void> {
  const db = await openFieldDb();
  const token = await db.get("meta", META.token);
  // Past `exp` too: the outbox still belongs to it, and the server will say 401.
  const parsed = typeof token === "string" ? parseToken(token, {}, 0) : null;
  if (!parsed?.ok) return;
  const { session } = parsed;
  const result = await asSoleSender(() =>
    drainOutbox(
      {
        db,
        owner: session.owner,
        post: (events) => postEvents(worker.location.origin, session.token, events),
        policy: DEFAULT_SEND_POLICY,
        limits: { ...DEFAULT_BATCH_LIMITS },
        onSending: (on) => announce({ type: "sending", on }),
        onSettled: () => announce({ type: "outbox" }),
      },
      { force: true },
    ),
  );
  if (result.stop === "sign-in") announce({ type: "session" });
  if (result.stop === "failed" || result.stop === "waiting") throw new Error(`fieldpulse: outbox not drained (${result.stop}); the browser will retry`);
}

worker.addEventListener("sync", (event) => {
  if (event.tag === SYNC_TAG) event.waitUntil(drainInBackground());
});
