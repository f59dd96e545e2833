import type { EventKind, KnockOutcome } from "../../protocol/events.ts";
import type { ProblemRecord, RecentRecord } from "./db.ts";
import type { Position } from "./event-factory.ts";
import type { SenderState } from "./sender.ts";
import type { Session } from "./session.ts";
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

export const OUTCOME_LABEL: Record<KnockOutcome, string> = {
  no_answer: "No answer",
  not_interested: "Not interested",
  interested: "Interested",
  callback: "Call back",
  do_not_knock: "Do not knock",
  other: "Other",
};

const KIND_NAMES: Record<EventKind, [string, string]> = {
  location: ["GPS fix", "GPS fixes"],
  knock: ["knock", "knocks"],
  lead: ["lead", "leads"],
  activity: ["shift note", "shift notes"],
};

export const clock = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
}

const inS = (at: number, now: number) => `${Math.max(1, Math.ceil((at - now) / 1000))} s`;

export interface StatusView {
  online: boolean;
  sending: boolean;
  unsent: Record<EventKind, number>;
  lastSendAt: number | null;
  sender: SenderState;
}

export function renderStatus(v: StatusView, now = Date.now()): void {
  const total = v.unsent.location + v.unsent.knock + v.unsent.lead + v.unsent.activity;
  const d = body();
  d.online = v.online ? "1" : "0";
  d.sending = v.sending ? "1" : "0";
  d.unsent = String(total);
  for (const kind of ["location", "knock", "lead", "activity"] as const) d[`unsent${kind[0]!.toUpperCase()}${kind.slice(1)}`] = String(v.unsent[kind]);
  d.lastSend = v.lastSendAt === null ? "" : String(v.lastSendAt);
  d.senderState = v.sender.state;

  byId("net").textContent = v.online ? "Online" : "Offline";
  byId("banner-offline").hidden = v.online;
  byId("unsent-total").textContent = String(total);
  const parts = (Object.keys(KIND_NAMES) as EventKind[])
    .filter((k) => v.unsent[k] > 0)
    .map((k) => `${v.unsent[k]} ${KIND_NAMES[k][v.unsent[k] === 1 ? 0 : 1]}`);
  byId("unsent-detail").textContent = parts.length ? parts.join(" · ") : "All sent ✓";
  byId("last-send").textContent = v.lastSendAt === null ? "never" : `${clock(v.lastSendAt)} (${ago(v.lastSendAt, now)})`;

  let state = "";
  if (v.sending) state = "Sending…";
  else if (!v.online && total > 0) state = "Waiting for the network";
  else if (v.sender.state === "sign-in") state = "Sign in again to send";
  else if (v.sender.state === "scheduled") {
    const { at, why } = v.sender;
    state = why === "waiting" ? `Server busy: retrying in ${inS(at, now)}` : why === "backoff" ? `Could not send: retrying in ${inS(at, now)}` : at <= now ? "Sending…" : `Next send in ${inS(at, now)}`;
  }
  byId("send-state").textContent = state;
  byId("send-now", HTMLButtonElement).disabled = total === 0 || !v.online;
}

export function renderSession(session: Session | null, authRefused: boolean): void {
  const d = body();
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
    team.textContent = `team ${c.team}`;
    who.replaceChildren(name, team);
  }
  byId("who-detail").textContent = c
    ? `Signed in as ${c.name ?? c.sub} (user ${c.sub}, team ${c.team}, ${c.role}). Sign-in valid until ${new Date(c.exp * 1000).toLocaleString()}.`
    : "";
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
  byId("shift-btn").textContent = v.onShift ? "Stop shift" : "Start shift";
  byId("banner-geo").hidden = v.geo !== "denied";
  let line: string;
  if (!v.onShift) line = v.lastFix ? `GPS off · last fix ${ago(v.lastFix.at, now)}` : "GPS off";
  else if (v.geo === "denied") line = "GPS blocked";
  else if (v.geo === "unavailable") line = "This phone has no GPS";
  else if (!v.lastFix) line = "Finding your position…";
  else {
    const acc = v.lastFix.accuracy !== undefined ? `±${Math.round(v.lastFix.accuracy)} m · ` : "";
    line = `GPS on · ${acc}fix ${ago(v.lastFix.at, now)} · ${v.kept} recorded${v.wakeLock ? " · screen stays on" : ""}`;
  }
  byId("gps-line").textContent = line;
}

const MARK: Record<RecentRecord["status"], [string, string]> = {
  sent: ["✓", "received by the office"],
  waiting: ["…", "waiting to send"],
  rejected: ["✗", "refused by the server"],
  undone: ["↶", "undone"],
};

export function renderRecent(records: readonly RecentRecord[]): void {
  const list = byId("recent-list");
  list.replaceChildren(
    ...records.map((r) => {
      const li = document.createElement("li");
      li.className = r.status;
      li.dataset.id = r.id;
      li.dataset.status = r.status;
      const [mark, meaning] = MARK[r.status];
      const markEl = document.createElement("span");
      markEl.className = "mark";
      markEl.textContent = mark;
      markEl.title = meaning;
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
      const time = document.createElement("time");
      time.dateTime = new Date(r.createdAt).toISOString();
      time.textContent = clock(r.createdAt).slice(0, 5);
      li.replaceChildren(markEl, what, time);
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
      li.textContent = `${clock(p.at)} · ${p.message}`;
      return li;
    }),
  );
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
let toastTick: ReturnType<typeof setInterval> | undefined;

/** A message at the bottom; with `undo`, an Undo button that counts down and then goes. */
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
    const label = () => (button.textContent = `Undo ${Math.max(0, Math.ceil((endsAt - Date.now()) / 1000))}`);
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
