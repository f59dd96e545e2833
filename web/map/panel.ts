import type { LiveQueue, PersonStatus } from "../../protocol/live.ts";
import type { Filters } from "./filters.ts";
import * as fmt from "./format.ts";
import type { ConnectionInfo, PersonView } from "./hooks.ts";
import type { TeamState } from "./team-state.ts";

export function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const node = document.getElementById(id);
  if (!(node instanceof kind)) throw new Error(`#${id} is missing from the page`);
  return node;
}

/** A text span of a list row. */
export function span(className: string, text: string): HTMLSpanElement {
  const s = document.createElement("span");
  s.className = className;
  s.textContent = text;
  return s;
}

interface Row {
  li: HTMLLIElement;
  name: HTMLSpanElement;
  seen: HTMLSpanElement;
  status: PersonStatus | null;
  label: string;
  seenText: string;
}

/**
 * The side panel: connection, status counts, the write pipeline, and the people list. Rows are kept per
 * person and reused; the once-a-second tick rewrites only the "last seen" texts that changed, and the
 * list is reordered only when the order (status, then name) changed.
 */
export class Panel {
  private readonly rows = new Map<string, Row>();
  private order: string[] = [];
  private filter = "";
  private readonly list = byId("people-list", HTMLOListElement);
  private readonly empty = byId("people-empty", HTMLParagraphElement);
  private readonly listeners = new AbortController();

  constructor(
    private readonly state: TeamState,
    private readonly filters: Filters,
    onPick: (userId: string) => void,
  ) {
    // The page's DOM outlives a session (sign out, sign in): start from an empty list.
    this.list.replaceChildren();
    const filter = byId("people-filter", HTMLInputElement);
    filter.value = "";
    const { signal } = this.listeners;
    this.list.addEventListener(
      "click",
      (e) => {
        const li = e.target instanceof Element ? e.target.closest("li") : null;
        const userId = li?.dataset.userId;
        if (userId) onPick(userId);
      },
      { signal },
    );
    filter.addEventListener(
      "input",
      () => {
        this.filter = filter.value.trim().toLowerCase();
        this.renderPeople();
      },
      { signal },
    );
  }

  dispose(): void {
    this.listeners.abort();
  }

  /** The people changed (fixes, a snapshot, someone crossed a status threshold). */
  renderPeople(now = this.state.now()): void {
    const people = this.state.sortedPeople(now);
    const seen = new Set<string>();
    const counts: Record<PersonStatus, number> = { live: 0, stale: 0, offline: 0 };
    for (const p of people) {
      seen.add(p.userId);
      counts[p.status]++;
      this.updateRow(this.rowFor(p.userId), p, now);
    }
    const frozen = this.state.frozenAt !== null;
    if (this.list.dataset.frozen !== String(frozen)) this.list.dataset.frozen = String(frozen);
    for (const [userId, row] of this.rows) {
      if (!seen.has(userId)) {
        row.li.remove();
        this.rows.delete(userId);
      }
    }
    const order = people.map((p) => p.userId);
    if (order.length !== this.order.length || order.some((id, i) => id !== this.order[i])) {
      // Moving a node blurs it: a keyboard user's place in the list survives the reorder.
      const focused = document.activeElement instanceof HTMLElement && this.list.contains(document.activeElement) ? document.activeElement : null;
      this.list.replaceChildren(...order.map((id) => this.rows.get(id)!.li));
      if (focused?.isConnected) focused.focus({ preventScroll: true });
      this.order = order;
    }
    let shown = 0;
    for (const p of people) {
      const row = this.rows.get(p.userId)!;
      // The status filter hides people from the list as from the map; a search finds them all the same.
      const match = this.filter
        ? p.label.toLowerCase().includes(this.filter) || p.userId.toLowerCase().includes(this.filter)
        : this.filters.statuses.has(p.status);
      row.li.hidden = !match;
      if (match) shown++;
    }
    this.empty.hidden = shown > 0;
    this.empty.textContent =
      people.length === 0
        ? "No one has sent a fix yet. People appear here as soon as their phones do."
        : this.filter
          ? "No one matches."
          : "Everyone here is hidden by the filters above.";
    for (const status of ["live", "stale", "offline"] as const) byId(`count-${status}`, HTMLElement).textContent = fmt.count(counts[status]);
    // The heading counts the rows shown: "12 of 207" when a search or the status filter hides some.
    byId("people-total", HTMLElement).textContent = shown === people.length ? fmt.count(people.length) : `${fmt.count(shown)} of ${fmt.count(people.length)}`;
  }

  /** Once a second: "last seen" texts tick, and nothing else is touched. */
  tick(now = this.state.now()): void {
    for (const [userId, row] of this.rows) {
      const p = this.state.people.get(userId);
      if (!p) continue;
      const text = seenText(now, p.at, p.battery);
      if (text !== row.seenText) {
        row.seen.textContent = text;
        row.seenText = text;
      }
    }
  }

  private rowFor(userId: string): Row {
    const existing = this.rows.get(userId);
    if (existing) return existing;
    const li = document.createElement("li");
    li.dataset.userId = userId;
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    const dot = document.createElement("span");
    dot.className = "status-dot";
    const name = document.createElement("span");
    name.className = "person-name";
    const seenSpan = document.createElement("span");
    seenSpan.className = "person-seen";
    li.append(dot, name, seenSpan);
    li.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        li.click();
      }
    });
    const row: Row = { li, name, seen: seenSpan, status: null, label: "", seenText: "" };
    this.rows.set(userId, row);
    return row;
  }

  private updateRow(row: Row, p: PersonView, now: number): void {
    if (row.status !== p.status) {
      row.status = p.status;
      row.li.dataset.status = p.status;
      row.li.className = `person status-${p.status}`;
    }
    if (row.label !== p.label) {
      row.label = p.label;
      row.name.textContent = p.label;
    }
    const text = seenText(now, p.at, p.battery);
    if (text !== row.seenText) {
      row.seen.textContent = text;
      row.seenText = text;
    }
  }
}

function seenText(now: number, at: number, battery: number | undefined): string {
  return `last seen ${fmt.ago(now - at)}${battery === undefined ? "" : ` · battery ${fmt.battery(battery)}`}`;
}

/** The write pipeline as of the last report (a snapshot or a flush), its ages ticking; `arrivedSince` counts events seen live since. */
export function renderQueue(queue: LiveQueue | null, queueAt: number, now: number, arrivedSince: number): void {
  const box = byId("queue", HTMLElement);
  const set = (id: string, text: string) => {
    const node = byId(id, HTMLElement);
    if (node.textContent !== text) node.textContent = text;
  };
  if (!queue) {
    box.dataset.state = "unknown";
    for (const id of ["q-depth", "q-arrived", "q-oldest", "q-flush", "q-failures", "q-dialer"]) set(id, "—");
    return;
  }
  const since = Math.max(0, now - queueAt);
  box.dataset.depth = String(queue.depth);
  box.dataset.lastFlushAt = String(queue.lastFlushAt ?? "");
  box.dataset.lastFlushRows = String(queue.lastFlushRows);
  box.dataset.failures = String(queue.consecutiveFailures);
  box.dataset.state = queue.consecutiveFailures > 0 ? "failing" : queue.dialer.dead > 0 ? "attention" : "ok";
  set("q-depth", `${fmt.plural(queue.depth, "row")} · reported ${fmt.ago(since)}`);
  // Fixes and knocks seen live since that report: the buffer they are filling, until the next flush says.
  set("q-arrived", fmt.plural(arrivedSince, "event"));
  set("q-oldest", queue.oldestAgeMs === null || queue.depth === 0 ? "—" : fmt.duration(queue.oldestAgeMs + since));
  set("q-flush", queue.lastFlushAt === null ? "not yet" : `${fmt.ago(now - queue.lastFlushAt)} · ${fmt.plural(queue.lastFlushRows, "row")}`);
  set("q-failures", queue.consecutiveFailures === 0 ? "none" : `${queue.consecutiveFailures} in a row${queue.lastError ? ` — ${queue.lastError}` : ""}`);
  const d = queue.dialer;
  set(
    "q-dialer",
    !d.configured
      ? "not configured"
      : `${fmt.count(d.pending)} pending · ${fmt.count(d.retrying)} retrying · ${fmt.count(d.dead)} dead${d.lastError && (d.retrying > 0 || d.dead > 0) ? ` — ${d.lastError}` : ""}`,
  );
  byId("q-dialer-row", HTMLElement).dataset.bad = String(d.dead > 0);
  byId("q-failures-row", HTMLElement).dataset.bad = String(queue.consecutiveFailures > 0);
}

/**
 * The connection line. Only its first part is an aria-live region, and it changes only when the state
 * does (live, disconnected, signed out); the ticking detail beside it is not announced.
 */
export function renderConnection(info: ConnectionInfo, online: boolean, now: number): void {
  const box = byId("conn", HTMLElement);
  const state = info.disconnectedSince !== null && info.state !== "refused" && info.state !== "stopped" ? "disconnected" : info.state;
  box.dataset.state = state;
  let text: string;
  let detail = "";
  switch (state) {
    case "disconnected":
      text = `Disconnected since ${fmt.shortClock(info.disconnectedSince!)} — reconnecting`;
      detail = !online
        ? "This device has no network. People are shown as last known."
        : info.state === "waiting"
          ? `Next try in ${fmt.duration(Math.max(0, (info.retryAt ?? now) - now))}. People are shown as last known.`
          : "Trying now. People are shown as last known.";
      break;
    case "connecting":
      text = "Connecting…";
      break;
    case "open":
      text = "Live";
      detail = info.lastFrameAt ? `last update ${fmt.ago(now - info.lastFrameAt)}` : "";
      break;
    case "waiting":
      text = "Cannot reach the server — retrying";
      detail = `Next try in ${fmt.duration(Math.max(0, (info.retryAt ?? now) - now))}.`;
      break;
    case "refused":
      text = "Signed out: the server no longer accepts this sign-in";
      break;
    case "stopped":
      text = "Signed out";
      break;
  }
  const label = byId("conn-text", HTMLElement);
  if (label.textContent !== text) label.textContent = text;
  const more = byId("conn-detail", HTMLElement);
  if (more.textContent !== detail) more.textContent = detail;
  byId("conn-retry", HTMLButtonElement).hidden = info.state !== "waiting";
}
