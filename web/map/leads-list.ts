import type { LiveLead } from "../../protocol/live.ts";
import * as fmt from "./format.ts";
import { byId, span } from "./panel.ts";
import { dialerText } from "./popup-content.ts";
import type { TeamState } from "./team-state.ts";

const INTEREST_WORDS: Record<NonNullable<LiveLead["interest"]> | "none", string> = { hot: "Hot", warm: "Warm", cold: "Cold", none: "Interest not said" };
/** Deliveries an admin may push again. */
const REDELIVERABLE = new Set(["dead", "stopped", "retrying"]);

export interface LeadsListOptions {
  /** Fly to a positioned lead; false when it has no position. */
  onPick(id: string): boolean;
  /** Admins only: ask the server to send a lead to the dialer again. */
  redeliver: ((lead: LiveLead) => Promise<string>) | null;
}

/**
 * Every lead of the window, newest first, positioned or not: the one place a lead saved without a GPS
 * fix is seen. Rebuilt when leads change (a handful a minute), so no row reuse is needed.
 */
export class LeadsList {
  private readonly list = byId("leads-list", HTMLOListElement);
  private readonly empty = byId("leads-empty", HTMLParagraphElement);
  private readonly notes = new Map<string, string>();

  constructor(
    private readonly state: TeamState,
    private readonly options: LeadsListOptions,
  ) {
    this.list.replaceChildren();
  }

  render(now = this.state.now()): void {
    const leads = [...this.state.leads.values()].sort((a, b) => b.at - a.at);
    // A keyboard user's focus survives the rebuild: the same control of the same lead gets it back.
    const active = document.activeElement instanceof HTMLElement && this.list.contains(document.activeElement) ? document.activeElement : null;
    const focusedLead = active?.closest<HTMLElement>("li[data-lead-id]")?.dataset.leadId;
    const focusedClass = active?.className;
    this.list.replaceChildren(...leads.map((l) => this.row(l, now)));
    if (focusedLead) {
      const row = [...this.list.querySelectorAll<HTMLElement>("li[data-lead-id]")].find((li) => li.dataset.leadId === focusedLead);
      const again = (focusedClass ? row?.querySelector<HTMLElement>(`.${CSS.escape(focusedClass.split(" ")[0]!)}`) : null) ?? row?.querySelector<HTMLElement>("button");
      again?.focus({ preventScroll: true });
    }
    this.empty.hidden = leads.length > 0;
    byId("leads-total", HTMLElement).textContent = fmt.count(leads.length);
  }

  private row(l: LiveLead, now: number): HTMLLIElement {
    const li = document.createElement("li");
    li.className = "lead";
    li.dataset.leadId = l.id;
    li.dataset.dialer = l.dialer?.status ?? "none";
    const positioned = l.lat !== undefined && l.lng !== undefined;
    li.dataset.positioned = String(positioned);
    const open = document.createElement("button");
    open.type = "button";
    open.className = "lead-open";
    open.disabled = !positioned;
    const who = this.state.people.has(l.userId) ? this.state.labelOf(l.userId) : (l.name ?? l.userId);
    const interest = l.interest ?? "none";
    open.append(
      span("lead-name", l.leadName),
      span(`lead-interest interest-${interest}`, INTEREST_WORDS[interest]),
      span("lead-phone", l.phone ?? "no phone"),
      span("lead-by", `${who} · ${fmt.clock(l.at)} (${fmt.ago(now - l.at)})`),
      span("lead-where", positioned ? "Show on map" : "No position — saved by address only"),
    );
    open.setAttribute("aria-label", `${l.leadName}, ${INTEREST_WORDS[interest]}, by ${who}${positioned ? ", show on map" : ", no position"}`);
    open.addEventListener("click", () => this.options.onPick(l.id));
    const dialer = span(`lead-dialer dialer-${l.dialer?.status ?? "none"}`, dialerText(l.dialer, this.state.queue?.dialer.configured));
    li.append(open, dialer);
    if (this.options.redeliver && l.dialer && REDELIVERABLE.has(l.dialer.status)) {
      const again = document.createElement("button");
      again.type = "button";
      again.className = "small lead-redeliver";
      again.textContent = "Send again";
      again.addEventListener("click", () => {
        again.disabled = true;
        void this.options.redeliver!(l).then((note) => {
          this.notes.set(l.id, note);
          this.render();
        });
      });
      li.append(again);
    }
    const note = this.notes.get(l.id);
    if (note) li.append(span("lead-note", note));
    return li;
  }
}
