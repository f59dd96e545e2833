import { KNOCK_OUTCOMES, type KnockOutcome } from "../../protocol/events.ts";
import type { DayRecord, FieldDb } from "./db.ts";
import { dayFor, startOfToday, summarizeDay, type DaySummary } from "./day.ts";
import { DAY_KEEP_MS } from "./db.ts";
import { count, time } from "./i18n/format.ts";
import { t } from "./i18n/index.ts";
import { byId, outcomeLabel } from "./ui.ts";

/**
 * "My day": counts per outcome, leads and their status, callbacks due and today's knocks, read from the
 * phone's own `day` store (so it works offline); the map loads MapLibre only when the card is opened.
 */
export interface DayMapHandle {
  update(summary: DaySummary): void;
}

function item(at: number, text: string, outcome?: KnockOutcome): HTMLLIElement {
  const li = document.createElement("li");
  const when = document.createElement("time");
  when.dateTime = new Date(at).toISOString();
  when.textContent = time(at);
  li.append(when);
  if (outcome) {
    const dot = document.createElement("span");
    dot.className = `dot o-${outcome}`;
    dot.setAttribute("aria-hidden", "true");
    li.append(dot);
  }
  const what = document.createElement("span");
  what.textContent = text;
  li.append(what);
  return li;
}

const empty = (text: string) => {
  const li = document.createElement("li");
  li.className = "empty";
  li.textContent = text;
  return li;
};

const place = (r: DayRecord) => r.address ?? (r.positionSource ? t.day.where[r.positionSource] : "");

function render(s: DaySummary): void {
  byId("day-summary").textContent = t.day.summary(s.knocks.length, s.leads.length);
  byId("day-counts").replaceChildren(
    ...KNOCK_OUTCOMES.map((o) => {
      const li = document.createElement("li");
      li.dataset.outcome = o;
      const dot = document.createElement("span");
      dot.className = `dot o-${o}`;
      dot.setAttribute("aria-hidden", "true");
      const label = document.createElement("span");
      label.textContent = outcomeLabel(o);
      const n = document.createElement("span");
      n.className = "n";
      n.textContent = count(s.counts[o]);
      li.append(dot, label, n);
      return li;
    }),
  );
  const knocks = byId("day-knocks");
  knocks.dataset.count = String(s.knocks.length);
  knocks.replaceChildren(
    ...(s.knocks.length
      ? [...s.knocks].reverse().map((k) => {
          const li = item(k.at, [outcomeLabel(k.outcome!), place(k)].filter(Boolean).join(" · "), k.outcome);
          li.dataset.id = k.id;
          return li;
        })
      : [empty(t.day.none)]),
  );
  byId("day-leads").replaceChildren(
    ...(s.leads.length
      ? [...s.leads].reverse().map((l) => {
          const li = item(l.at, `${l.name ?? ""} · ${t.day.leadStatus[l.dialer ?? l.status]}`);
          li.dataset.id = l.id;
          li.dataset.status = l.dialer ?? l.status;
          return li;
        })
      : [empty(t.day.noLeads)]),
  );
  byId("day-callbacks").replaceChildren(
    ...(s.callbacksDue.length ? s.callbacksDue.map((c) => item(c.at, place(c) || outcomeLabel("callback"), "callback")) : [empty(t.day.noCallbacks)]),
  );
}

export function bindDayView(db: FieldDb, owner: () => string | null): { refresh(): Promise<void> } {
  const card = byId("day-card", HTMLDetailsElement);
  let map: Promise<DayMapHandle | null> | null = null;
  let last: DaySummary | null = null;

  const openMap = () => {
    map ??= import("./day-map.ts")
      .then((m) => m.createDayMap(byId("day-map")))
      .catch((err) => {
        console.warn("fieldpulse: the day map could not start", err);
        byId("day-map").textContent = t.day.noMap;
        document.body.dataset.dayMap = "failed";
        return null;
      });
    return map;
  };

  const refresh = async () => {
    const who = owner();
    if (!who) return;
    const now = Date.now();
    last = summarizeDay(await dayFor(db, who, now - DAY_KEEP_MS), startOfToday(now));
    render(last);
    if (card.open) (await openMap())?.update(last);
  };

  card.addEventListener("toggle", () => {
    if (card.open) void openMap().then((m) => last && m?.update(last));
  });
  return { refresh };
}
