import type { EventKind, KnockOutcome } from "../../protocol/events.ts";
import type { ProblemRecord, RecentRecord } from "./db.ts";
import type { Position } from "./event-factory.ts";
import { ago, count, dateTime, distance, seconds, speed, time } from "./i18n/format.ts";
import { t } from "./i18n/index.ts";
import type { SenderState } from "./sender.ts";
import type { Session } from "../shared/session.ts";
import type { GeoState } from "./shift.ts";

/** Rendering only: every function takes what to show and writes the DOM (and <body>'s data- attributes). */

export function byId(id: string): HTMLElement;
export function byId<T extends HTMLElement>(id: string, type: { new (): T }): T;
export function byId(id: string, type: { new (): HTMLElement } = HTMLElement): HTMLElement {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing from the page`);
  return el;
}

const body = () => document.body.dataset;

export const outcomeLabel = (o: KnockOutcome) => t.outcome[o];

/** Words that are not in the static HTML but never change: the outcome buttons. */
export function labelOutcomes(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>("button[data-outcome]")) {
    const o = b.dataset.outcome as KnockOutcome | undefined;
    if (o && o in t.outcome) b.textContent = t.outcome[o];
  }
}

/**
 * The only live region. Emptied first, so the same words said twice are heard twice. What goes here is
 * what a canvasser must hear; ticking status never does.
 */
export function say(text: string): void {
  const el = byId("announcer");
  el.textContent = "";
  requestAnimationFrame(() => (el.textContent = text));
}

export interface StatusView {
  online: boolean;
  sending: boolean;
  unsent: Record<EventKind, number>;
  lastSendAt: number | null;
  sender: SenderState;
}

/** A message for the status line that outranks the send status for a while (a knock problem, "locating"). */
let notice: { text: string; tone: "error" | "info"; until: number } | null = null;
let lastStatus: StatusView | null = null;

export function showNotice(text: string, tone: "error" | "info", ms = 10_000): void {
  notice = { text, tone, until: Date.now() + ms };
  if (lastStatus) renderStatus(lastStatus);
}
export function clearNotice(): void {
  notice = null;
  if (lastStatus) renderStatus(lastStatus);
}

export function sendState(v: StatusView, now: number): string {
  const total = v.unsent.location + v.unsent.knock + v.unsent.lead + v.unsent.activity;
  if (v.sending) return t.status.sending;
  if (!v.online && total > 0) return t.status.waitingNetwork;
  if (v.sender.state === "sign-in") return t.status.signInToSend;
  if (v.sender.state === "scheduled") {
    const { at, why } = v.sender;
    const wait = seconds(at - now);
    return why === "waiting" ? t.status.serverBusy(wait) : why === "backoff" ? t.status.couldNotSend(wait) : at <= now ? t.status.sending : t.status.nextSend(wait);
  }
  return "";
}

export function renderStatus(v: StatusView, now = Date.now()): void {
  lastStatus = v;
  const total = v.unsent.location + v.unsent.knock + v.unsent.lead + v.unsent.activity;
  const d = body();
  d.online = v.online ? "1" : "0";
  d.sending = v.sending ? "1" : "0";
  d.unsent = String(total);
  for (const kind of ["location", "knock", "lead", "activity"] as const) d[`unsent${kind[0]!.toUpperCase()}${kind.slice(1)}`] = String(v.unsent[kind]);
  d.lastSend = v.lastSendAt === null ? "" : String(v.lastSendAt);
  d.senderState = v.sender.state;

  byId("net").textContent = v.online ? t.status.online : t.status.offline;
  byId("banner-offline").hidden = v.online;
  byId("unsent-total").textContent = count(total);
  const parts = (Object.keys(t.kind) as EventKind[])
    .filter((k) => v.unsent[k] > 0)
    .map((k) => `${count(v.unsent[k])} ${t.kind[k][v.unsent[k] === 1 ? 0 : 1]}`);
  byId("unsent-detail").textContent = parts.length ? parts.join(" · ") : t.status.allSentMark;
  byId("last-send").textContent = v.lastSendAt === null ? t.status.never : `${time(v.lastSendAt)} (${ago(v.lastSendAt, now)})`;
  byId("send-now", HTMLButtonElement).disabled = total === 0 || !v.online;

  // One box, fixed height, up to two lines: the newest notice, else what the sender is doing, else the unsent
  // count. "Sign in again to send" is a button to the sign-in screen: the banner's button may be scrolled away.
  const line = byId("status-line");
  if (notice && notice.until <= now) notice = null;
  const state = sendState(v, now);
  const text = notice?.text ?? [total > 0 ? t.status.unsent(count(total)) : t.status.allSent, state].filter(Boolean).join(" · ");
  const action = !notice && v.sender.state === "sign-in" && state === t.status.signInToSend ? "sign-in" : "";
  let inner = line.firstElementChild as HTMLElement | null;
  if (!inner || (inner.dataset.action ?? "") !== action) {
    inner = document.createElement(action ? "button" : "span");
    inner.className = "status-text";
    if (action) {
      inner.dataset.action = action;
      (inner as HTMLButtonElement).type = "button";
      inner.title = t.status.signInToSendHint;
    }
    line.replaceChildren(inner);
  }
  if (inner.textContent !== text) {
    inner.textContent = text;
    // Longer than two lines at this width (a long notice, a narrow phone): a smaller type, never a cut sentence.
    delete line.dataset.fit;
    if (inner.scrollHeight > inner.clientHeight + 1) line.dataset.fit = "small";
  }
  if (notice) line.dataset.tone = notice.tone;
  else delete line.dataset.tone;
}

export function renderSession(session: Session | null, authRefused: boolean): void {
  const d = body();
  // The sign-in screen from the top (its heading and help), with no toast left over from the shift over it.
  if (!session && d.signedIn !== "0") {
    hideToast();
    window.scrollTo(0, 0);
  }
  d.signedIn = session ? "1" : "0";
  d.auth = authRefused ? "refused" : "ok";
  byId("signin").hidden = session !== null;
  byId("app").hidden = session === null;
  byId("banner-auth").hidden = !(session && authRefused);
  const c = session?.claims;
  const who = byId("who");
  if (!c) who.replaceChildren();
  else {
    const name = document.createElement("span");
    name.textContent = c.name ?? c.sub;
    const team = document.createElement("span");
    team.className = "team";
    team.textContent = t.signin.team(c.team);
    who.replaceChildren(name, team);
  }
  byId("who-detail").textContent = c ? t.signin.who(c.name ?? c.sub, c.sub, c.team, c.role, dateTime(c.exp * 1000)) : "";
}

export interface ShiftView {
  onShift: boolean;
  geo: GeoState;
  lastFix: Position | null;
  kept: number;
  wakeLock: boolean;
}

export function renderShift(v: ShiftView, now = Date.now()): void {
  const d = body();
  d.onShift = v.onShift ? "1" : "0";
  d.geo = v.geo;
  d.fixes = String(v.kept);
  d.wakeLock = v.wakeLock ? "1" : "0";
  byId("shift-btn").textContent = v.onShift ? t.shift.stop : t.shift.start;
  byId("banner-geo").hidden = v.geo !== "denied";
  let line: string;
  if (!v.onShift) line = v.lastFix ? t.shift.gpsOffLast(ago(v.lastFix.at, now)) : t.shift.gpsOff;
  else if (v.geo === "denied") line = t.shift.blocked;
  else if (v.geo === "unavailable") line = t.shift.noGps;
  else if (!v.lastFix) line = t.shift.finding;
  else {
    const f = v.lastFix;
    line = t.shift.on([
      ...(f.accuracy !== undefined ? [t.shift.accuracy(distance(f.accuracy))] : []),
      ...(f.speed !== undefined && f.speed > 0.5 ? [speed(f.speed)] : []),
      t.shift.fixAgo(ago(f.at, now)),
      t.shift.recorded(v.kept),
      ...(v.wakeLock ? [t.shift.screenOn] : []),
    ]);
  }
  byId("gps-line").textContent = line;
}

const MARK: Record<RecentRecord["status"], string> = { sent: "✓", waiting: "…", rejected: "✗", undone: "↶" };

export function renderRecent(records: readonly RecentRecord[]): void {
  const list = byId("recent-list");
  list.replaceChildren(
    ...records.map((r) => {
      const li = document.createElement("li");
      li.className = r.status;
      li.dataset.id = r.id;
      li.dataset.status = r.status;
      const meaning = t.recent.mark[r.status];
      const markEl = document.createElement("span");
      markEl.className = "mark";
      markEl.textContent = MARK[r.status];
      markEl.title = meaning;
      markEl.setAttribute("role", "img");
      markEl.setAttribute("aria-label", meaning);
      const what = document.createElement("div");
      what.className = "what";
      const title = document.createElement("div");
      title.className = "title";
      title.textContent = r.title;
      what.appendChild(title);
      if (r.detail) {
        const detail = document.createElement("div");
        detail.className = "detail";
        detail.textContent = r.detail;
        what.appendChild(detail);
      }
      const when = document.createElement("time");
      when.dateTime = new Date(r.createdAt).toISOString();
      when.textContent = time(r.createdAt);
      li.replaceChildren(markEl, what, when);
      return li;
    }),
  );
  byId("recent-empty").hidden = records.length > 0;
}

export function renderProblems(records: readonly ProblemRecord[]): void {
  body().problems = String(records.length);
  byId("problems").hidden = records.length === 0;
  byId("problem-list").replaceChildren(
    ...records.map((p) => {
      const li = document.createElement("li");
      if (p.eventId) li.dataset.eventId = p.eventId;
      li.textContent = `${time(p.at)} · ${p.message}`;
      return li;
    }),
  );
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
let toastTick: ReturnType<typeof setInterval> | undefined;

export function hideToast(): void {
  clearTimeout(toastTimer);
  clearInterval(toastTick);
  byId("toast").hidden = true;
  byId("undo-btn", HTMLButtonElement).onclick = null;
}

/** A message under the bar (not a live region: `say` speaks); with `undo`, an Undo button that counts down. */
export function showToast(text: string, undo?: { seconds: number; onUndo(): void }): void {
  clearTimeout(toastTimer);
  clearInterval(toastTick);
  const toast = byId("toast");
  const button = byId("undo-btn", HTMLButtonElement);
  byId("toast-text").textContent = text;
  toast.hidden = false;
  button.hidden = !undo;
  button.disabled = false;
  button.onclick = null;
  const hide = () => {
    clearInterval(toastTick);
    toast.hidden = true;
    button.onclick = null;
  };
  if (undo) {
    const endsAt = Date.now() + undo.seconds * 1000;
    const label = () => {
      const left = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
      button.textContent = t.knock.undo(count(left));
      button.setAttribute("aria-label", t.page.undo);
    };
    label();
    toastTick = setInterval(label, 250);
    button.onclick = () => {
      button.disabled = true;
      clearTimeout(toastTimer);
      hide();
      undo.onUndo();
    };
    toastTimer = setTimeout(hide, undo.seconds * 1000);
  } else {
    toastTimer = setTimeout(hide, 4_000);
  }
}
