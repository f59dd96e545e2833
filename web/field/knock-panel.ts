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
  let busy = false;

  const placeNow = async (): Promise<KnockPlace | null> => {
    try {
      return gpsPlace(await deps.position());
    } catch {
      // No fix (blocked, none yet, indoors): the address or the last known fix, said plainly.
      return placeWithoutFix(address.value, deps.lastKnown(), Date.now());
    }
  };

  byId("outcomes").addEventListener("click", async (e) => {
    const button = (e.target as Element | null)?.closest<HTMLButtonElement>("button[data-outcome]");
    const outcome = button?.dataset.outcome;
    if (!button || !isOutcome(outcome) || busy) return;
    // One knock per tap: a double tap in a glove must not log the door twice.
    busy = true;
    document.body.dataset.knocking = "1";
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
      clearNotice();
      address.value = "";
      notes.value = "";
      extra.open = false;
      const event = made.event;
      const saved = [t.knock.saved(outcomeLabel(outcome)), note].filter(Boolean).join(" · ");
      say(t.knock.savedSay(outcomeLabel(outcome)));
      showToast(saved, {
        seconds: deps.undoSeconds(),
        onUndo: () => {
          // The undo waits for a send in flight to finish (it takes the sender's lock): say so meanwhile.
          showToast(t.knock.undoing);
          deps.undo(event).then(
            (result) => showToast(result === "undone" ? t.knock.removed : t.knock.alreadySent),
            (err) => showToast(t.knock.undoFailed(err instanceof Error ? err.message : String(err))),
          );
        },
      });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      showNotice(t.knock.failed(why), "error");
      say(t.knock.failed(why));
    } finally {
      busy = false;
      delete document.body.dataset.knocking;
    }
  });
}
