import type { LeadDialer, LiveKnock, LiveLead } from "../../protocol/live.ts";
import * as fmt from "./format.ts";
import type { TeamState } from "./team-state.ts";

/** Popup bodies, built as DOM nodes with textContent: names come from tokens and are never HTML. */

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function rows(pairs: [string, string][]): HTMLDListElement {
  const dl = el("dl", "popup-facts");
  for (const [term, value] of pairs) {
    dl.append(el("dt", "", term), el("dd", "", value));
  }
  return dl;
}

export function personPopup(state: TeamState, userId: string, now = state.now()): HTMLElement | null {
  const p = state.people.get(userId);
  if (!p) return null;
  const v = state.view(p, now);
  const root = el("div", "popup");
  root.dataset.userId = userId;
  const title = el("div", "popup-title");
  title.append(el("span", `status-dot status-${v.status}`), el("strong", "", v.label));
  root.append(title);
  if (v.name && v.label === v.name) root.append(el("div", "popup-sub", userId));
  root.append(
    rows([
      ["Status", state.frozenAt === null ? v.status : `${v.status} (as of ${fmt.shortClock(state.frozenAt)})`],
      ["Last fix", `${fmt.clock(p.at)} · ${fmt.ago(now - p.at)}`],
      ["Speed", fmt.speed(p.speed)],
      ["Battery", fmt.battery(p.battery)],
      ["Accuracy", fmt.accuracy(p.accuracy)],
      ["Knocks (24 h)", fmt.count(state.knockCount(userId))],
    ]),
  );
  return root;
}

const OUTCOME_LABELS: Record<LiveKnock["outcome"], string> = {
  interested: "Interested",
  callback: "Call back",
  no_answer: "No answer",
  not_interested: "Not interested",
  do_not_knock: "Do not knock",
  other: "Other",
};

export const outcomeLabel = (o: LiveKnock["outcome"]) => OUTCOME_LABELS[o];

export function knockPopup(state: TeamState, k: Pick<LiveKnock, "id" | "userId" | "at" | "outcome" | "address" | "notes" | "name">, now = state.now()): HTMLElement {
  const root = el("div", "popup");
  root.dataset.knockId = k.id;
  root.append(el("div", "popup-title", `Knock · ${OUTCOME_LABELS[k.outcome]}`));
  root.append(
    rows([
      ["By", state.people.has(k.userId) ? state.labelOf(k.userId) : (k.name ?? k.userId)],
      ["At", `${fmt.clock(k.at)} · ${fmt.ago(now - k.at)}`],
      ...optional("Address", k.address),
      ...optional("Notes", k.notes),
    ]),
  );
  return root;
}

const optional = (term: string, value: string | undefined): [string, string][] => (value ? [[term, value]] : []);

/** A lead's delivery to the dialer in a manager's words. */
export function dialerText(d: LeadDialer | undefined, configured?: boolean): string {
  // No delivery on record: with no dialer set up there is nothing to wait for, so say that.
  if (!d) return configured === false ? "Dialer not connected" : "Not sent yet";
  switch (d.status) {
    case "pending":
      return "Waiting to send";
    case "retrying":
      return `Retrying · ${fmt.plural(d.attempts, "attempt")} so far${d.lastError ? ` (${d.lastError})` : ""}`;
    case "delivered":
      return d.deliveredAt ? `Delivered ${fmt.shortClock(d.deliveredAt)}` : "Delivered";
    case "stopped":
      return `Stopped — the dialer refused it${d.lastError ? ` (${d.lastError})` : ""}`;
    case "dead":
      return `Failed — gave up after ${fmt.plural(d.attempts, "attempt")}`;
    case "off":
      return "Dialer not connected";
  }
}

export function leadPopup(state: TeamState, l: LiveLead, now = state.now()): HTMLElement {
  const root = el("div", "popup");
  root.dataset.leadId = l.id;
  root.append(el("div", "popup-title", `Lead · ${l.leadName}`));
  root.append(
    rows([
      ["Interest", l.interest ?? "—"],
      ...optional("Phone", l.phone),
      ...optional("Email", l.email),
      ...optional("Address", l.address),
      ...optional("Notes", l.notes),
      ["By", state.people.has(l.userId) ? state.labelOf(l.userId) : (l.name ?? l.userId)],
      ["At", `${fmt.clock(l.at)} · ${fmt.ago(now - l.at)}`],
      ["Dialer", dialerText(l.dialer, state.queue?.dialer.configured)],
    ]),
  );
  return root;
}
