import type { LiveKnock, LiveLead } from "../../protocol/live.ts";
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
  if (v.name) root.append(el("div", "popup-sub", userId));
  root.append(
    rows([
      ["Status", v.status],
      ["Last fix", `${fmt.clock(p.at)} · ${fmt.ago(now - p.at)}`],
      ["Speed", fmt.speed(p.speed)],
      ["Battery", fmt.battery(p.battery)],
      ["Accuracy", fmt.accuracy(p.accuracy)],
      ["Knocks today", fmt.count(state.knocksToday(userId, now))],
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

export function knockPopup(state: TeamState, k: LiveKnock, now = state.now()): HTMLElement {
  const root = el("div", "popup");
  root.append(el("div", "popup-title", `Knock · ${OUTCOME_LABELS[k.outcome]}`));
  root.append(
    rows([
      ["By", k.name ?? state.people.get(k.userId)?.name ?? k.userId],
      ["At", `${fmt.clock(k.at)} · ${fmt.ago(now - k.at)}`],
      ...(k.address ? [["Address", k.address] satisfies [string, string]] : []),
    ]),
  );
  return root;
}

export function leadPopup(state: TeamState, l: LiveLead, now = state.now()): HTMLElement {
  const root = el("div", "popup");
  root.append(el("div", "popup-title", `Lead · ${l.leadName}`));
  root.append(
    rows([
      ["Interest", l.interest ?? "—"],
      ["By", l.name ?? state.people.get(l.userId)?.name ?? l.userId],
      ["At", `${fmt.clock(l.at)} · ${fmt.ago(now - l.at)}`],
      ...(l.address ? [["Address", l.address] satisfies [string, string]] : []),
    ]),
  );
  return root;
}
