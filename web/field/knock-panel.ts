import { KNOCK_OUTCOMES, type KnockEvent, type KnockOutcome } from "../../protocol/events.ts";
import { makeKnock, type Position } from "./event-factory.ts";
import { ago, distance } from "./i18n/format.ts";
import { t } from "./i18n/index.ts";
import { gpsPlace, placeWithoutFix, type KnockPlace } from "./position.ts";
import { byId, clearNotice, outcomeLabel, say, showNotice, showToast } from "./ui.ts";

/** One tap per outcome, at a GPS fix, the typed address or the last known fix; then a few seconds to undo. */
export interface KnockPanelDeps {
  /** A GPS fix within a short wait, or a rejection (blocked, none yet). */
  position(): Promise<Position>;
  /** The last fix the phone saw, however old. */
  lastKnown(): Position | null;
  /** Store it (outbox first) and show it in the recent list. */
  record(event: KnockEvent, recent: { title: string; detail?: string }): Promise<void>;
  /** "undone" if it was still on the phone; "sent" if the server already has it. */
  undo(event: KnockEvent): Promise<"undone" | "sent">;
  undoSeconds(): number;
}

/** A second tap on the same outcome this soon after its knock was saved is the same knock (a double tap). */
export const SAME_KNOCK_MS = 1_500;

const isOutcome = (v: string | undefined): v is KnockOutcome => (KNOCK_OUTCOMES as readonly string[]).includes(v ?? "");

/** How the knock was placed, in words, when it was not a fresh fix. */
function placeNote(place: KnockPlace, address: string, now: number): string | undefined {
  if (place.source === "last_known") return t.knock.atLastKnown(ago(place.fixAt, now), distance(place.accuracy));
  if (place.source === "address") return t.knock.byAddress(address);
  return undefined;
}

export function bindKnockPanel(deps: KnockPanelDeps): void {
  const address = byId("knock-address", HTMLInputElement);
  const notes = byId("knock-notes", HTMLTextAreaElement);
  const extra = byId("knock-extra", HTMLDetailsElement);
  // Taps are placed one at a time, in order: a different outcome tapped while one is being saved is a real
  // choice and follows it. The last knock (being saved, or saved at `savedAt`) catches a double tap.
  let queue: Promise<void> = Promise.resolve();
  let last: { outcome: KnockOutcome; savedAt: number | null; toast?: { endsAt: number; onUndo(): void } } | null = null;

  /** The same outcome again within SAME_KNOCK_MS of its knock being saved (a tap made while it was saved counts): say so, log nothing. */
  const isRepeat = (outcome: KnockOutcome, tapAt: number) =>
    last !== null && last.outcome === outcome && last.savedAt !== null && tapAt - last.savedAt < SAME_KNOCK_MS;

  const sayAlreadySaved = (outcome: KnockOutcome) => {
    say(t.knock.alreadySavedSay(outcomeLabel(outcome)));
    const undo = last?.toast;
    const left = undo ? Math.ceil((undo.endsAt - Date.now()) / 1000) : 0;
    // Undo still takes back the one knock, for what is left of its time.
    showToast(t.knock.alreadySaved(outcomeLabel(outcome)), undo && left > 0 ? { seconds: left, onUndo: undo.onUndo } : undefined);
  };

  const placeNow = async (): Promise<KnockPlace | null> => {
    try {
      return gpsPlace(await deps.position());
    } catch {
      // No fix (blocked, none yet, indoors): the address or the last known fix, said plainly.
      return placeWithoutFix(address.value, deps.lastKnown(), Date.now());
    }
  };

  byId("outcomes").addEventListener("click", (e) => {
    const button = (e.target as Element | null)?.closest<HTMLButtonElement>("button[data-outcome]");
    const outcome = button?.dataset.outcome;
    if (!button || !isOutcome(outcome)) return;
    const tapAt = Date.now();
    // One knock per door: a double tap (in a glove, 100–300 ms apart) must not log it twice. Judged when its
    // turn comes, against the tap's own time: a tap made while the first was being saved is a repeat too.
    queue = queue
      .then(() => (isRepeat(outcome, tapAt) ? sayAlreadySaved(outcome) : logKnock(outcome)))
      .catch((err: unknown) => console.error("fieldpulse: knock", err));
  });

  const logKnock = async (outcome: KnockOutcome): Promise<void> => {
    document.body.dataset.knocking = "1";
    const mine: NonNullable<typeof last> = { outcome, savedAt: null };
    last = mine;
    try {
      showNotice(t.knock.locating, "info", 30_000);
      const place = await placeNow();
      if (!place) {
        showNotice(t.knock.noPosition, "error");
        say(t.knock.noPosition);
        extra.open = true;
        address.focus();
        return;
      }
      const made = makeKnock(place, outcome, { address: address.value, notes: notes.value });
      if (!made.ok) {
        const why = made.issues.map((i) => `${i.path} ${i.message}`).join("; ");
        showNotice(t.knock.failed(why), "error");
        say(t.knock.failed(why));
        return;
      }
      const note = placeNote(place, made.event.address ?? "", Date.now());
      const detail = [made.event.address, made.event.notes, place.source === "last_known" ? note : undefined].filter(Boolean).join(" · ");
      await deps.record(made.event, { title: t.recent.knockTitle(outcomeLabel(outcome)), ...(detail ? { detail } : {}) });
      mine.savedAt = Date.now();
      clearNotice();
      address.value = "";
      notes.value = "";
      extra.open = false;
      const event = made.event;
      const saved = [t.knock.saved(outcomeLabel(outcome)), note].filter(Boolean).join(" · ");
      say(t.knock.savedSay(outcomeLabel(outcome)));
      const onUndo = () => {
        // Undone: the next tap on this outcome is a new knock, however soon.
        if (last === mine) last = null;
        // The undo waits for a send in flight to finish (it takes the sender's lock): say so meanwhile.
        showToast(t.knock.undoing);
        deps.undo(event).then(
          (result) => showToast(result === "undone" ? t.knock.removed : t.knock.alreadySent),
          (err) => showToast(t.knock.undoFailed(err instanceof Error ? err.message : String(err))),
        );
      };
      mine.toast = { endsAt: Date.now() + deps.undoSeconds() * 1000, onUndo };
      showToast(saved, { seconds: deps.undoSeconds(), onUndo });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      showNotice(t.knock.failed(why), "error");
      say(t.knock.failed(why));
    } finally {
      // Not saved (no position, refused): the next tap is a retry, not a repeat.
      if (last === mine && mine.savedAt === null) last = null;
      delete document.body.dataset.knocking;
    }
  };
}
