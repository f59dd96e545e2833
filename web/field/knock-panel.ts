import { KNOCK_OUTCOMES, type KnockEvent, type KnockOutcome } from "../../protocol/events.ts";
import { makeKnock, type Position } from "./event-factory.ts";
import { byId, OUTCOME_LABEL, showToast } from "./ui.ts";

/** One tap per outcome at the current position, then a few seconds to undo it. */
export interface KnockPanelDeps {
  position(): Promise<Position>;
  /** Store it (outbox first) and show it in the recent list. */
  record(event: KnockEvent, recent: { title: string; detail?: string }): Promise<void>;
  /** "undone" if it was still on the phone; "sent" if the server already has it. */
  undo(event: KnockEvent): Promise<"undone" | "sent">;
  undoSeconds(): number;
}

const isOutcome = (v: string | undefined): v is KnockOutcome => (KNOCK_OUTCOMES as readonly string[]).includes(v ?? "");

export function bindKnockPanel(deps: KnockPanelDeps): void {
  const hint = byId("knock-hint");
  const address = byId("knock-address", HTMLInputElement);
  const notes = byId("knock-notes", HTMLTextAreaElement);
  const extra = byId("knock-extra", HTMLDetailsElement);
  let busy = false;

  byId("outcomes").addEventListener("click", async (e) => {
    const button = (e.target as Element | null)?.closest<HTMLButtonElement>("button[data-outcome]");
    const outcome = button?.dataset.outcome;
    if (!button || !isOutcome(outcome) || busy) return;
    // One knock per tap: a double tap in a glove must not log the door twice.
    busy = true;
    try {
      hint.textContent = "Getting your position…";
      const position = await deps.position();
      const made = makeKnock(position, outcome, { address: address.value, notes: notes.value });
      if (!made.ok) {
        hint.textContent = `Could not log this knock: ${made.issues.map((i) => `${i.path} ${i.message}`).join("; ")}`;
        return;
      }
      const detail = [made.event.address, made.event.notes].filter(Boolean).join(" · ");
      await deps.record(made.event, { title: `Knock · ${OUTCOME_LABEL[outcome]}`, ...(detail ? { detail } : {}) });
      hint.textContent = "";
      address.value = "";
      notes.value = "";
      extra.open = false;
      const event = made.event;
      showToast(`Saved: ${OUTCOME_LABEL[outcome]}`, {
        seconds: deps.undoSeconds(),
        onUndo: () => {
          // The undo waits for a send in flight to finish (it takes the sender's lock): say so meanwhile.
          showToast("Undoing…");
          deps.undo(event).then(
            (result) => showToast(result === "undone" ? "Knock removed" : "Already sent to the office: marked as a mistake instead"),
            (err) => showToast(`Could not undo: ${err instanceof Error ? err.message : String(err)}`),
          );
        },
      });
    } catch (err) {
      hint.textContent = err instanceof Error ? err.message : String(err);
    } finally {
      busy = false;
    }
  });
}
