import type { LiveKnock } from "../../protocol/live.ts";
import type { Filters } from "./filters.ts";
import * as fmt from "./format.ts";
import { byId, span } from "./panel.ts";
import { outcomeLabel } from "./popup-content.ts";
import type { TeamState } from "./team-state.ts";

/** Rows drawn at first and per "Show more": a team's day may hold thousands of knocks. */
export const KNOCKS_PAGE = 200;
/** The ago texts and the sliding time window are redrawn this often while the list is shown. */
const REFRESH_MS = 60_000;

/**
 * The window's knocks, newest first, as the outcome and time filters leave them: the keyboard's way to a
 * knock dot (a canvas dot cannot take focus). Only the first rows are drawn; the rest wait for "Show more".
 * Knocks arrive many a second at peak, so a change only marks the list stale: it is rebuilt at most once
 * per animation frame, and only while its tab is shown.
 */
export class KnocksList {
  private readonly list = byId("knocks-list", HTMLOListElement);
  private readonly empty = byId("knocks-empty", HTMLParagraphElement);
  private readonly more = byId("knocks-more", HTMLButtonElement);
  private readonly pane = byId("pane-knocks", HTMLElement);
  private limit = KNOCKS_PAGE;
  private stale = true;
  private countStale = true;
  private countedAt = 0;
  private frame: number | null = null;
  private renderedAt = 0;
  private readonly listeners = new AbortController();

  constructor(
    private readonly state: TeamState,
    private readonly filters: Filters,
    /** Fly to a positioned knock and open it. */
    private readonly onPick: (id: string) => boolean,
  ) {
    this.list.replaceChildren();
    this.more.addEventListener(
      "click",
      () => {
        this.limit += KNOCKS_PAGE;
        this.render();
      },
      { signal: this.listeners.signal },
    );
  }

  dispose(): void {
    this.listeners.abort();
    if (this.frame !== null) cancelAnimationFrame(this.frame);
  }

  /** Knocks or filters changed: rebuild on the next frame if shown, else when the tab is opened (the tab's count within a second). */
  invalidate(): void {
    this.stale = true;
    this.countStale = true;
    if (this.pane.hidden || this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.render();
    });
  }

  /** The tab was opened. */
  shown(): void {
    if (this.stale) this.render();
  }

  /**
   * Once a second: the window slides and the ago texts age, so redraw now and then while shown. While the tab
   * is hidden its count still follows the knocks and filters (counted at most once a second, not per knock).
   */
  tick(now: number): void {
    if (!this.pane.hidden && (this.stale || now - this.renderedAt >= REFRESH_MS)) this.invalidate();
    else if (this.pane.hidden && (this.countStale || now - this.countedAt >= REFRESH_MS)) this.showCount(this.matching(now).length, now);
  }

  /** The window's knocks the filters let through, newest first. */
  private matching(now: number): LiveKnock[] {
    const since = now - this.filters.windowMs;
    const out: LiveKnock[] = [];
    for (const k of this.state.knocks.values()) if (k.at >= since && this.filters.outcomes.has(k.outcome)) out.push(k);
    return out;
  }

  private showCount(n: number, now: number): void {
    this.countStale = false;
    this.countedAt = now;
    byId("knocks-total", HTMLElement).textContent = fmt.count(n);
  }

  render(now = this.state.now()): void {
    this.stale = false;
    this.renderedAt = now;
    const matching = this.matching(now);
    matching.sort((a, b) => b.at - a.at || (a.id < b.id ? -1 : 1));
    const shown = matching.slice(0, this.limit);

    // A keyboard user's focus survives the rebuild: the same knock gets it back, or the row now in its place.
    const active = document.activeElement instanceof HTMLElement && this.list.contains(document.activeElement) ? document.activeElement : null;
    const focusedLi = active?.closest<HTMLElement>("li[data-knock-id]");
    const focusedId = focusedLi?.dataset.knockId;
    const focusedIndex = focusedLi ? [...this.list.children].indexOf(focusedLi) : -1;
    this.list.replaceChildren(...shown.map((k) => this.row(k, now)));
    if (focusedId) {
      const rows = [...this.list.querySelectorAll<HTMLElement>("li[data-knock-id]")];
      const same = rows.findIndex((li) => li.dataset.knockId === focusedId);
      const from = same >= 0 ? same : Math.min(focusedIndex, rows.length - 1);
      // The nearest row that can take focus (one without a position has no button).
      const buttons = rows.map((li) => li.querySelector<HTMLElement>("button"));
      const button = buttons.slice(Math.max(0, from)).find((x) => x) ?? buttons.slice(0, Math.max(0, from)).reverse().find((x) => x);
      if (button) button.focus({ preventScroll: true });
      else if (!this.more.hidden) this.more.focus({ preventScroll: true });
    }

    const rest = matching.length - shown.length;
    this.more.hidden = rest <= 0;
    this.more.textContent = `Show ${fmt.count(Math.min(rest, KNOCKS_PAGE))} more (${fmt.count(rest)} not shown)`;
    this.empty.hidden = matching.length > 0;
    this.empty.textContent = this.state.knocks.size === 0 ? "No knocks in the last 24 hours." : "No knocks match the filters.";
    this.list.dataset.shown = String(shown.length);
    this.list.dataset.matching = String(matching.length);
    this.showCount(matching.length, now);
  }

  private row(k: LiveKnock, now: number): HTMLLIElement {
    const li = document.createElement("li");
    li.className = "knock";
    li.dataset.knockId = k.id;
    li.dataset.outcome = k.outcome;
    const positioned = k.lat !== undefined && k.lng !== undefined;
    li.dataset.positioned = String(positioned);
    const who = this.state.people.has(k.userId) ? this.state.labelOf(k.userId) : (k.name ?? k.userId);
    const outcome = outcomeLabel(k.outcome);
    const where = k.address ?? (positioned ? "no address" : "no position");
    const parts = [
      span(`knock-outcome outcome-${k.outcome}`, outcome),
      span("knock-address", where),
      span("knock-by", `${who} · ${fmt.clock(k.at)} (${fmt.ago(now - k.at)})`),
      span("knock-where", positioned ? "Show on map" : "No position — not on the map"),
    ];
    if (positioned) {
      const open = document.createElement("button");
      open.type = "button";
      open.className = "knock-open";
      open.append(...parts);
      open.setAttribute("aria-label", `${outcome}, ${where}, by ${who} at ${fmt.clock(k.at)}, show on map`);
      open.addEventListener("click", () => this.onPick(k.id));
      li.append(open);
    } else {
      // Nothing to fly to: plain text, not a button that does nothing.
      const body = document.createElement("div");
      body.className = "knock-open";
      body.append(...parts);
      li.append(body);
    }
    return li;
  }
}
