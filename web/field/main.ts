import "../shared/zod-config.ts";
import type { EventKind } from "../../protocol/events.ts";
import { announce, listen } from "./bus.ts";
import { getMetaNumber, META, openFieldDb } from "./db.ts";
import { makeActivity, makeLocation, type Position } from "./event-factory.ts";
import { pruneDay } from "./day.ts";
import { bindDayView } from "./day-view.ts";
import { t, translatePage } from "./i18n/index.ts";
import { markRecent, problemsFor, pruneJournal, recentFor } from "./journal.ts";
import { bindKnockPanel } from "./knock-panel.ts";
import { bindLeadForm } from "./lead-form.ts";
import { enqueue, outboxIds, summarize, withdraw, type NewEvent } from "./outbox.ts";
import { asSoleSender, Sender, type SenderState } from "./sender.ts";
import { registerServiceWorker, requestBackgroundSync } from "./service-worker.ts";
import type { Session } from "../shared/session.ts";
import { lastKnownFix } from "./position.ts";
import { loadSettings } from "./settings.ts";
import { preloadLeads } from "./lazy-leads.ts";
import { bindSettingsPanel } from "./settings-panel.ts";
import { bindSignIn, loadSession } from "./sign-in.ts";
import { Shift } from "./shift.ts";
import { postEvents } from "./transport.ts";
import { byId, labelOutcomes, renderProblems, renderRecent, renderSession, renderShift, renderStatus, say } from "./ui.ts";

/** Read-only hooks for tests and for a developer at the console (plus one to inject raw events). */
interface FieldHooks {
  outboxCount(): Promise<number>;
  outboxIds(): Promise<string[]>;
  /** Store an event without client-side checks, as a bug or an old app version might have. */
  enqueueUnchecked(event: NewEvent & Record<string, unknown>): Promise<void>;
  sendNow(): Promise<void>;
}
declare global {
  interface Window {
    __fieldpulse?: FieldHooks;
  }
  interface Navigator {
    getBattery?(): Promise<{ level: number }>;
  }
}

const FRESH_FIX_MS = 60_000;
/** How long a knock waits for a GPS fix before it falls back to the address or the last known fix. */
const KNOCK_FIX_WAIT_MS = 6_000;

async function main(): Promise<void> {
  translatePage();
  labelOutcomes();
  const db = await openFieldDb();
  let settings = loadSettings();
  let session: Session | null = loadSession();
  let authRefused = false;

  // Status, as last read from IndexedDB and the sender.
  let unsent: Record<EventKind, number> = { location: 0, knock: 0, lead: 0, activity: 0 };
  let lastSendAt: number | null = null;
  let sendingHere = false;
  let sendingElsewhere = false;
  let senderState: SenderState = { state: "idle" };
  let wakeLock = false;
  const day = bindDayView(db, () => session?.owner ?? null);

  const online = () => navigator.onLine;
  const drawStatus = () => renderStatus({ online: online(), sending: sendingHere || sendingElsewhere, unsent, lastSendAt, sender: senderState });
  const drawShift = (): void => renderShift({ onShift: shift.on, geo: shift.geo, lastFix: shift.lastFix, kept: shift.kept, wakeLock });

  // Re-reading IndexedDB is coalesced: a burst of changes costs one read.
  let refreshing: Promise<void> | null = null;
  let refreshAgain = false;
  const refresh = (): Promise<void> => {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = (async () => {
      if (!session) return;
      const owner = session.owner;
      const [summary, last, refused, recent, problems] = await Promise.all([
        summarize(db, owner),
        getMetaNumber(db, META.lastSendAt(owner)),
        db.get("meta", META.authRefused(owner)),
        recentFor(db, owner),
        problemsFor(db, owner),
      ]);
      unsent = { location: summary.location?.count ?? 0, knock: summary.knock?.count ?? 0, lead: summary.lead?.count ?? 0, activity: summary.activity?.count ?? 0 };
      lastSendAt = last;
      authRefused = refused !== undefined;
      renderSession(session, authRefused);
      renderRecent(recent);
      renderProblems(problems);
      drawStatus();
      await day.refresh();
    })()
      .catch((err) => console.error("fieldpulse: reading the outbox failed", err))
      .finally(() => {
        refreshing = null;
        if (refreshAgain) {
          refreshAgain = false;
          void refresh();
        }
      });
    return refreshing;
  };

  const sender = new Sender({
    db,
    session: () => session,
    policy: () => settings.send,
    online,
    post: (token, events) => postEvents(location.origin, token, events),
    onSending: (on) => {
      sendingHere = on;
      announce({ type: "sending", on });
      drawStatus();
    },
    onSettled: () => {
      announce({ type: "outbox" });
      void refresh();
    },
    onState: (state) => {
      // Heard once when sending starts failing, not on every retry.
      const failing = (s: SenderState) => s.state === "scheduled" && s.why === "backoff";
      if (failing(state) && !failing(senderState)) say(t.say.sendFailed);
      senderState = state;
      if (state.state === "sign-in") void refresh();
      drawStatus();
    },
    onFailure: () => void requestBackgroundSync(),
  });

  /** Every event goes to the outbox first; only then is anything shown or sent. */
  async function record(event: NewEvent, recent?: { title: string; detail?: string }): Promise<void> {
    if (!session) throw new Error("Sign in first.");
    await enqueue(db, session.owner, event, recent);
    announce({ type: "outbox" });
    void refresh();
    void sender.schedule();
    // Offline now, and the app may be closed before the network returns: the service worker can send it then.
    if (!online()) void requestBackgroundSync();
  }

  async function recordActivity(kind: string, meta?: Record<string, string | number | boolean>): Promise<void> {
    const made = makeActivity(kind, meta ? { meta } : {});
    if (made.ok) await record(made.event);
  }

  let battery: { level: number } | null = null;
  void navigator.getBattery?.().then((b) => (battery = b)).catch(() => {});

  const shift: Shift = new Shift({
    filter: () => settings.fix,
    onFix: () => drawShift(),
    onKeep: async (position: Position) => {
      if (!session) return;
      const made = makeLocation(position, battery?.level);
      if (!made.ok) return console.warn("fieldpulse: unusable GPS fix", made.issues);
      await record(made.event).catch((err) => console.error("fieldpulse: could not store a GPS fix", err));
      drawShift();
    },
    onGeo: () => drawShift(),
    onWakeLock: (held) => {
      wakeLock = held;
      drawShift();
    },
  });

  const unsentCount = () => unsent.location + unsent.knock + unsent.lead + unsent.activity;

  await bindSignIn({
    db,
    unsentCount,
    signedIn: async (next) => {
      session = next;
      announce({ type: "session" });
      renderSession(session, false);
      shift.resume();
      await refresh();
      void sender.schedule();
    },
    beforeSignOut: async () => {
      if (!shift.on) return;
      await recordActivity("shift_end", { fixes: shift.kept });
      shift.stop();
    },
    signedOut: async () => {
      session = null;
      announce({ type: "session" });
      renderSession(null, false);
      void sender.schedule();
    },
  });

  byId("shift-btn").addEventListener("click", async () => {
    if (shift.on) {
      const fixes = shift.kept;
      shift.stop();
      await recordActivity("shift_end", { fixes });
    } else {
      shift.start();
      await recordActivity("shift_start");
    }
    drawShift();
  });

  bindKnockPanel({
    position: () => shift.currentPosition(KNOCK_FIX_WAIT_MS),
    lastKnown: () => lastKnownFix(),
    record,
    undoSeconds: () => settings.undoS,
    undo: async (knock) => {
      // Under the sender's lock: a batch in flight either already holds the knock, or never will.
      const withdrawn = await asSoleSender(() => withdraw(db, knock.id));
      if (!withdrawn) {
        await recordActivity("knock_undo", { knockId: knock.id, outcome: knock.outcome });
        await markRecent(db, knock.id, "undone");
      }
      announce({ type: "outbox" });
      void refresh();
      void sender.schedule();
      return withdrawn ? "undone" : "sent";
    },
  });

  bindLeadForm({
    position: () => (shift.lastFix && Date.now() - shift.lastFix.at < FRESH_FIX_MS ? shift.lastFix : null),
    phoneRegionSetting: () => settings.phoneRegion,
    record: async (lead, recent) => {
      await record(lead, recent);
    },
  });

  bindSettingsPanel(() => settings, (next) => (settings = next));
  // The lead form's phone-number metadata, after the first screen: never in its way, ready before a lead.
  preloadLeads();

  byId("send-now").addEventListener("click", () => void sender.sendNow());

  // Resume sending whenever there is a reason to believe it may work now.
  window.addEventListener("online", () => {
    say(t.say.backOnline);
    sender.resetBackoff();
    drawStatus();
    void sender.schedule();
  });
  window.addEventListener("offline", () => {
    drawStatus();
    void sender.schedule();
    if (unsentCount() > 0) void requestBackgroundSync();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      shift.onVisible();
      sender.resetBackoff();
      void refresh();
      void sender.schedule();
    } else if (unsentCount() > 0) {
      // The page may be frozen or killed from here on: let the service worker finish the job.
      void requestBackgroundSync();
    }
  });
  listen((message) => {
    switch (message.type) {
      case "outbox":
        void refresh();
        void sender.schedule();
        break;
      case "sending":
        sendingElsewhere = message.on;
        drawStatus();
        break;
      case "session":
        session = loadSession();
        // Signed out in another tab: this one stops recording too.
        if (!session && shift.on) shift.stop();
        renderSession(session, false);
        void refresh();
        void sender.schedule();
        break;
    }
  });

  void navigator.permissions?.query({ name: "geolocation" }).then((status) => {
    status.addEventListener("change", () => {
      if (status.state === "granted") shift.onPermissionGranted();
    });
  }).catch(() => {});

  setInterval(() => {
    drawStatus();
    drawShift();
  }, 1_000);

  window.__fieldpulse = Object.freeze({
    outboxCount: async () => (await outboxIds(db)).length,
    outboxIds: () => outboxIds(db),
    enqueueUnchecked: (event: NewEvent & Record<string, unknown>) => record(event),
    sendNow: () => sender.sendNow(),
  } satisfies FieldHooks);

  renderSession(session, false);
  drawShift();
  drawStatus();
  if (session) shift.resume();
  await pruneJournal(db).catch(() => {});
  await pruneDay(db).catch(() => {});
  await refresh();
  void sender.schedule();

  const registration = await registerServiceWorker();
  const markControlled = () => (document.body.dataset.sw = navigator.serviceWorker?.controller ? "controlled" : registration ? "registered" : "none");
  markControlled();
  navigator.serviceWorker?.addEventListener("controllerchange", markControlled);
}

void main().catch((err) => {
  console.error("fieldpulse: the app failed to start", err);
  document.body.dataset.error = String(err);
});

