import { historyCollection, type HistoryCollection, type HistoryKnock, type RouteSegment } from "../../protocol/history.ts";
import * as fmt from "./format.ts";
import type { MapView } from "./map-view.ts";
import { byId } from "./panel.ts";
import type { TeamState } from "./team-state.ts";

const DAY_MS = 86_400_000;

/**
 * "What did this person do that day": a person and a day → GET /v1/history?format=geojson → the route
 * (split at gaps, simplified, stops marked) with their knocks, and a slider that replays it.
 */
export class HistoryPanel {
  private readonly form = byId("history-form", HTMLFormElement);
  private readonly person = byId("history-person", HTMLSelectElement);
  private readonly date = byId("history-date", HTMLInputElement);
  private readonly slider = byId("history-slider", HTMLInputElement);
  private readonly status = byId("history-status", HTMLParagraphElement);
  private readonly listeners = new AbortController();
  private current: HistoryCollection | null = null;
  private request = 0;

  constructor(
    private readonly state: TeamState,
    private readonly token: string,
    private readonly map: () => MapView | null,
  ) {
    const { signal } = this.listeners;
    this.date.value = localDate(Date.now());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.load();
    }, { signal });
    this.slider.addEventListener("input", () => this.replay(Number(this.slider.value)), { signal });
    byId("history-clear", HTMLButtonElement).addEventListener("click", () => this.clear(), { signal });
    this.clear();
  }

  dispose(): void {
    this.listeners.abort();
  }

  /**
   * The person picker: everyone on the map, and anyone who knocked or saved a lead in the window even
   * if their phone has not sent a fix lately (history is exactly for them).
   */
  renderPeople(): void {
    const chosen = this.person.value;
    const ids = new Set([...this.state.people.keys(), ...this.state.counts.keys(), ...[...this.state.leads.values()].map((l) => l.userId)]);
    const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
    const people = [...ids].map((userId) => ({ userId, label: this.labelFor(userId) })).sort((a, b) => byName.compare(a.label, b.label));
    const same = people.length === this.person.options.length && people.every((p, i) => p.userId === this.person.options[i]!.value && p.label === this.person.options[i]!.textContent);
    if (same) return;
    this.person.replaceChildren(...people.map((p) => new Option(p.label, p.userId)));
    if (chosen && ids.has(chosen)) this.person.value = chosen;
  }

  private labelFor(userId: string): string {
    if (this.state.people.has(userId)) return this.state.labelOf(userId);
    for (const k of this.state.knocks.values()) if (k.userId === userId && k.name) return k.name;
    return userId;
  }

  /** Open the panel on one person (from their popup or row). */
  pick(userId: string): void {
    this.renderPeople();
    this.person.value = userId;
  }

  get shown(): HistoryCollection | null {
    return this.current;
  }

  async load(): Promise<void> {
    const userId = this.person.value;
    const from = new Date(`${this.date.value}T00:00`).getTime();
    if (!userId || Number.isNaN(from)) {
      this.say("Pick a person and a day.");
      return;
    }
    const to = Math.min(from + DAY_MS, Date.now());
    const ticket = ++this.request;
    this.say("Loading…");
    let reply: HistoryCollection;
    try {
      const url = new URL("/v1/history", location.origin);
      url.search = new URLSearchParams({ userId, from: String(from), to: String(to), format: "geojson" }).toString();
      const res = await fetch(url, { headers: { Authorization: `Bearer ${this.token}` }, cache: "no-store" });
      if (!res.ok) {
        this.say(res.status === 401 || res.status === 403 ? "Your sign-in may not read history." : "History could not be loaded. Try again in a moment.");
        return;
      }
      const parsed = historyCollection.safeParse(await res.json());
      if (!parsed.success) {
        console.warn("fieldpulse map: history reply does not match the protocol", parsed.error.issues.slice(0, 3));
        this.say("History could not be read. Reload the page.");
        return;
      }
      reply = parsed.data;
    } catch {
      this.say("History could not be loaded: no connection.");
      return;
    }
    if (ticket !== this.request) return;
    this.current = reply;
    const segments = reply.features.filter((f): f is RouteSegment => f.properties.kind === "route");
    const stops = reply.features.filter((f) => f.properties.kind === "stop");
    const knocks = reply.features.filter((f): f is HistoryKnock => f.properties.kind === "knock");
    document.body.dataset.history = `${reply.userId}:${segments.length}:${stops.length}:${knocks.length}`;
    if (segments.length === 0 && knocks.length === 0) {
      this.say(`${this.labelFor(userId)}: nothing recorded on ${fmt.day(from)}.`);
      this.map()?.clearHistory();
      this.slider.disabled = true;
      return;
    }
    const first = Math.min(...segments.map((s) => s.properties.from), ...knocks.map((k) => k.properties.at));
    const last = Math.max(...segments.map((s) => s.properties.to), ...knocks.map((k) => k.properties.at));
    this.slider.min = String(first);
    this.slider.max = String(last);
    // A minute a step (a second on a short stretch): an arrow key moves the clock the manager reads.
    this.slider.step = last - first >= 10 * 60_000 ? "60000" : "1000";
    this.slider.value = String(last);
    this.slider.disabled = false;
    this.say(
      `${this.labelFor(userId)} on ${fmt.day(from)}: ${fmt.plural(segments.length, "stretch", "stretches")} of route, ${fmt.plural(stops.length, "stop")}, ${fmt.plural(knocks.length, "knock")}${reply.truncated ? " (the day is too long to show whole)" : ""}.`,
    );
    this.map()?.showHistory(reply);
    this.replay(last);
  }

  /** The slider's time → where the person was (between two kept points, in proportion). */
  private replay(at: number): void {
    const fc = this.current;
    if (!fc) return;
    byId("history-time", HTMLOutputElement).textContent = fmt.clock(at);
    // A screen reader reads the time, not the epoch milliseconds the slider holds.
    this.slider.setAttribute("aria-valuetext", fmt.clock(at));
    const segments = fc.features.filter((f): f is RouteSegment => f.properties.kind === "route");
    this.map()?.showCursor(positionAt(segments, at));
  }

  clear(): void {
    this.request++;
    this.current = null;
    delete document.body.dataset.history;
    this.slider.disabled = true;
    this.slider.removeAttribute("aria-valuetext");
    byId("history-time", HTMLOutputElement).textContent = "";
    this.say("Pick a person and a day to see their route, stops and knocks.");
    this.map()?.clearHistory();
  }

  private say(text: string): void {
    this.status.textContent = text;
  }
}

/** Where the route puts the person at `at`, or null in a gap (nobody knows). */
export function positionAt(segments: readonly RouteSegment[], at: number): [number, number] | null {
  for (const s of segments) {
    const { times } = s.properties;
    const coords = s.geometry.coordinates;
    if (at < times[0]! || at > times[times.length - 1]!) continue;
    for (let i = 1; i < times.length; i++) {
      if (at > times[i]!) continue;
      const [t0, t1] = [times[i - 1]!, times[i]!];
      const k = t1 === t0 ? 0 : (at - t0) / (t1 - t0);
      const [a, b] = [coords[i - 1]!, coords[i]!];
      return [a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k];
    }
    return coords[0] ?? null;
  }
  return null;
}

/** yyyy-mm-dd of the browser's local day (what <input type=date> holds). */
function localDate(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
