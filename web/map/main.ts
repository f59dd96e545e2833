import "../shared/zod-config.ts";
import "maplibre-gl/dist/maplibre-gl.css";
import "./map.css";
import type * as maplibregl from "maplibre-gl";
import { knocksPage, SNAPSHOT_KNOCKS, type LiveLead, type LiveMessage } from "../../protocol/live.ts";
import { chooseBasemap } from "./basemap.ts";
import { defaultFilters, isOutcome, isStatus, WINDOWS, type Filters } from "./filters.ts";
import { count, duration, plural } from "./format.ts";
import { HistoryPanel } from "./history-panel.ts";
import type { MapHooks } from "./hooks.ts";
import { KnocksList } from "./knocks-list.ts";
import { LeadsList } from "./leads-list.ts";
import { LiveConnection, type Refusal } from "./live-connection.ts";
import { MapView } from "./map-view.ts";
import { byId, Panel, renderConnection, renderQueue } from "./panel.ts";
import type { Session } from "../shared/session.ts";
import { clearSession, loadSession, signInWith } from "./sign-in.ts";
import { TeamState } from "./team-state.ts";

declare global {
  interface Window {
    __map?: maplibregl.Map;
    __fieldpulseMap?: MapHooks;
  }
}

const TICK_MS = 1_000;
/** Hidden longer than this, the page asks for a fresh snapshot when it is shown again. */
const RESYNC_AFTER_HIDDEN_MS = 60_000;
const EXPIRY_WARNING_MS = 30 * 60_000;

function assertNever(x: never): never {
  throw new Error(`unhandled live message: ${JSON.stringify(x)}`);
}

/** One signed-in session of the page: the state, the map, the panel, the socket. */
class LiveMapSession {
  readonly state = new TeamState();
  readonly filters: Filters = defaultFilters();
  readonly connection: LiveConnection;
  readonly panel: Panel;
  readonly leadsList: LeadsList;
  readonly knocksList: KnocksList;
  readonly historyPanel: HistoryPanel;
  /** Bumped by every snapshot: a page of older knocks from before it is thrown away. */
  private snapshotSeq = 0;
  mapView: MapView | null = null;
  private arrivedSince = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  private hiddenAt: number | null = null;
  private disposed = false;
  private readonly listeners = new AbortController();

  constructor(
    readonly session: Session,
    onRefused: (r: Refusal) => void,
  ) {
    this.panel = new Panel(this.state, this.filters, (userId) => {
      this.mapView?.focus(userId);
      this.historyPanel.pick(userId);
    });
    this.leadsList = new LeadsList(this.state, {
      onPick: (id) => this.mapView?.focusLead(id) ?? false,
      redeliver: session.claims.role === "admin" ? (lead) => this.redeliver(lead) : null,
    });
    this.knocksList = new KnocksList(this.state, this.filters, (id) => this.mapView?.focusKnock(id) ?? false);
    this.historyPanel = new HistoryPanel(this.state, session.token, () => this.mapView);
    this.bindTabs();
    this.bindFilters();
    this.connection = new LiveConnection({
      origin: location.origin,
      token: session.token,
      onMessage: (m) => this.receive(m),
      onChange: () => this.publish(),
      onRefused,
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.listen(window, "online", () => this.connection.retryNow());
    // The browser knows first: say so now rather than after two missed pongs.
    this.listen(window, "offline", () => this.connection.networkLost());
    this.listen(document, "visibilitychange", () => {
      if (document.hidden) this.hiddenAt = Date.now();
      else if (this.hiddenAt !== null && Date.now() - this.hiddenAt > RESYNC_AFTER_HIDDEN_MS) this.connection.send({ type: "resync" });
      if (!document.hidden) this.hiddenAt = null;
    });
    this.listen(byId("conn-retry", HTMLButtonElement), "click", () => this.connection.retryNow());
    this.listen(byId("fit", HTMLButtonElement), "click", () => this.mapView?.fitTeam(true));
    this.connection.start();
    this.publish();
    void this.startMap();
  }

  private listen(target: EventTarget, type: string, handler: () => void): void {
    target.addEventListener(type, handler, { signal: this.listeners.signal });
  }

  private async startMap(): Promise<void> {
    const choice = await chooseBasemap(location.search, location.origin);
    if (this.disposed) return;
    try {
      this.mapView = new MapView(byId("map", HTMLElement), choice, this.state, this.filters, () => this.publish());
      window.__map = this.mapView.map;
    } catch (err) {
      // No WebGL (an old tablet, a locked-down browser): the panel still lists everyone.
      const note = byId("map-error", HTMLElement);
      note.hidden = false;
      console.warn("fieldpulse map: no map", err);
      note.textContent = "The map cannot be drawn in this browser. The lists stay live.";
    }
    this.publish();
  }

  private receive(m: LiveMessage): void {
    // User Timing, so a profile (and bench:map) sees what each frame cost the main thread.
    const started = performance.now();
    this.apply(m);
    performance.measure(`fieldpulse:frame:${m.type}`, { start: started });
  }

  private apply(m: LiveMessage): void {
    switch (m.type) {
      case "snapshot":
        this.state.applySnapshot(m);
        this.arrivedSince = 0;
        this.snapshotSeq++;
        void this.loadOlderKnocks(this.snapshotSeq);
        break;
      case "positions":
        this.state.observeServerTime(m.serverTime);
        this.state.applyPositions(m.points);
        this.arrivedSince += m.points.length;
        break;
      case "knock":
        this.state.observeServerTime(m.serverTime);
        this.state.addKnock(m.knock);
        this.arrivedSince += 1;
        break;
      case "lead":
        this.state.observeServerTime(m.serverTime);
        this.state.addLead(m.lead);
        break;
      case "unknock":
        this.state.observeServerTime(m.serverTime);
        this.state.removeKnock(m.id, m.userId);
        break;
      case "lead_dialer":
        this.state.observeServerTime(m.serverTime);
        this.state.setLeadDialer(m.id, m.dialer);
        break;
      case "queue":
        this.state.observeServerTime(m.serverTime);
        this.state.setQueue(m.queue, m.serverTime);
        this.arrivedSince = 0;
        break;
      case "pong":
        break;
      case "error":
        console.warn(`fieldpulse map: the server says ${m.code}: ${m.message}`);
        break;
      default:
        assertNever(m);
    }
    this.render();
  }

  /** The snapshot holds the newest knocks; the rest of the window comes in pages, newest first. */
  private async loadOlderKnocks(seq: number): Promise<void> {
    let before = this.state.oldestKnockAt();
    while (seq === this.snapshotSeq && !this.disposed && before !== null && this.state.knocks.size < this.state.knocksTotal) {
      let page;
      try {
        const url = new URL("/v1/knocks", location.origin);
        url.search = new URLSearchParams({ before: String(before), limit: String(SNAPSHOT_KNOCKS) }).toString();
        const res = await fetch(url, { headers: { Authorization: `Bearer ${this.session.token}` }, cache: "no-store" });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        page = knocksPage.safeParse(await res.json());
      } catch (err) {
        // Counts stay right (they come whole in the snapshot); the next snapshot tries the pages again.
        console.warn("fieldpulse map: older knocks not loaded", err);
        return;
      }
      if (!page.success || seq !== this.snapshotSeq) return;
      this.state.addKnockPage(page.data.knocks);
      this.render();
      before = page.data.next;
    }
  }

  private async redeliver(lead: LiveLead): Promise<string> {
    try {
      const url = new URL(`/v1/admin/leads/${encodeURIComponent(lead.id)}/redeliver`, location.origin);
      url.searchParams.set("team", this.session.claims.team);
      const res = await fetch(url, { method: "POST", headers: { Authorization: `Bearer ${this.session.token}` } });
      return res.ok ? "Queued to send again." : res.status === 404 ? "The dialer no longer has this lead." : "Could not queue it; try again.";
    } catch {
      return "Could not queue it: no connection.";
    }
  }

  private bindTabs(): void {
    const FILTERED_PANES = new Set(["pane-people", "pane-leads", "pane-knocks"]);
    const tabs = [...document.querySelectorAll<HTMLButtonElement>('.tabs [role="tab"]')];
    const select = (tab: HTMLButtonElement, focus: boolean) => {
      for (const t of tabs) {
        const on = t === tab;
        t.setAttribute("aria-selected", String(on));
        t.tabIndex = on ? 0 : -1;
        byId(t.getAttribute("aria-controls")!, HTMLElement).hidden = !on;
      }
      document.body.dataset.tab = tab.id.replace(/^tab-/, "");
      // The filters say what the map shows, and the people, leads and knocks lists follow them: they head
      // whichever of those panes is open (scrolling with it, so a phone's short sheet keeps its list room).
      const pane = byId(tab.getAttribute("aria-controls")!, HTMLElement);
      if (FILTERED_PANES.has(pane.id)) pane.prepend(byId("filters", HTMLFieldSetElement));
      if (focus) tab.focus();
      if (tab.id === "tab-history") this.historyPanel.renderPeople();
      if (tab.id === "tab-knocks") this.knocksList.shown();
    };
    tabs.forEach((tab, i) => {
      this.listen(tab, "click", () => select(tab, false));
      // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
      tab.addEventListener("keydown", (e) => {
        const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (step) select(tabs[(i + step + tabs.length) % tabs.length]!, true);
      }, { signal: this.listeners.signal });
    });
    select(tabs[0]!, false);
  }

  private bindFilters(): void {
    const box = byId("filters", HTMLFieldSetElement);
    const windowSelect = byId("filter-window", HTMLSelectElement);
    windowSelect.replaceChildren(...WINDOWS.map((w) => new Option(w.label, String(w.ms), w.ms === this.filters.windowMs, w.ms === this.filters.windowMs)));
    for (const input of box.querySelectorAll<HTMLInputElement>("input[type=checkbox]")) {
      input.checked = isStatus(input.value) ? this.filters.statuses.has(input.value) : isOutcome(input.value) && this.filters.outcomes.has(input.value);
    }
    const read = () => {
      const checked = (name: string) => [...box.querySelectorAll<HTMLInputElement>(`input[name=${name}]:checked`)].map((i) => i.value);
      this.filters.statuses = new Set(checked("status").filter(isStatus));
      this.filters.outcomes = new Set(checked("outcome").filter(isOutcome));
      this.filters.windowMs = Number(windowSelect.value);
      const all = this.filters.outcomes.size === box.querySelectorAll("input[name=outcome]").length;
      byId("filter-summary", HTMLElement).textContent = `${all ? "all outcomes" : plural(this.filters.outcomes.size, "outcome")}, ${WINDOWS.find((w) => w.ms === this.filters.windowMs)?.label.toLowerCase() ?? ""}`;
      this.mapView?.refilter();
      this.panel.renderPeople();
      this.knocksList.invalidate();
      this.publish();
    };
    this.listen(box, "change", read);
  }

  private tick(): void {
    const now = this.state.now();
    this.state.tick(now);
    this.render(now);
    if (this.peopleDue) this.renderPeople(now);
    this.panel.tick(now);
    this.knocksList.tick(now);
    this.mapView?.refreshPopup();
  }

  /**
   * The list and the counts sort and count everyone: once a second (the tick), not per positions frame,
   * which at 5,000 people would cost more than the map's own update. A snapshot, filter or freeze
   * ("all") shows at once.
   */
  private peopleDue = true;
  private renderPeople(now: number): void {
    this.peopleDue = false;
    this.panel.renderPeople(now);
    this.publishPeople(now);
  }

  private render(now = this.state.now()): void {
    const dirty = this.state.takeDirty();
    if (dirty.people === "all") this.renderPeople(now);
    else if (dirty.people.size > 0) this.peopleDue = true;
    if (dirty.leads) this.leadsList.render(now);
    // People's labels name a knock's canvasser too.
    if (dirty.knocks.all || dirty.knocks.added.size > 0 || dirty.knocks.removed.size > 0 || dirty.people === "all") this.knocksList.invalidate();
    this.mapView?.schedule(dirty);
    this.publish(now);
  }

  /** Connection, queue and the body's data- attributes: cheap, so on every change and every tick. */
  publish(now = this.state.now()): void {
    const info = this.connection.state;
    // Cut off: freeze everyone as last known (from the moment the server was last heard).
    if (info.disconnectedSince !== null && this.state.frozenAt === null) {
      this.state.freeze(info.disconnectedSince);
      this.render(now);
      return;
    }
    renderConnection(info, navigator.onLine, Date.now());
    renderQueue(this.state.queue, this.state.queueAt, now, this.arrivedSince);
    const body = document.body.dataset;
    body.connection = info.state;
    body.disconnected = String(info.disconnectedSince !== null);
    body.frozen = String(this.state.frozenAt !== null);
    body.knocksTotal = String(this.state.knocksTotal);
    body.filters = [...this.filters.statuses].sort().join(",");
    const knocksLine = byId("knocks-line", HTMLElement);
    const line = `${plural(this.state.knocksTotal, "knock")} in the last 24 hours${this.state.knocks.size < this.state.knocksTotal ? ` (${count(this.state.knocks.size)} loaded)` : ""}`;
    if (knocksLine.textContent !== line) knocksLine.textContent = line;
    body.knocks = String(this.state.knocks.size);
    body.leads = String(this.state.leads.size);
    body.snapshots = String(this.connection.frames.snapshot);
    body.map = this.mapView?.ready ? "ready" : "loading";
    body.basemap = this.mapView?.basemap.kind ?? "loading";
    const note = byId("basemap-note", HTMLElement);
    const text = this.mapView?.basemap.note ?? "";
    if (note.textContent !== text) note.textContent = text;
    note.hidden = !text;
    byId("fit", HTMLButtonElement).hidden = this.mapView?.following ?? true;
    this.renderExpiry(Date.now());
  }

  private publishPeople(now: number): void {
    const body = document.body.dataset;
    const counts = this.state.statusCounts(now);
    body.people = String(this.state.people.size);
    for (const status of ["live", "stale", "offline"] as const) body[status] = String(counts[status]);
  }

  /** The server checks the token only when a socket opens: warn before the next reconnect would fail. */
  private renderExpiry(now: number): void {
    const left = this.session.claims.exp * 1000 - now;
    const note = byId("expiry", HTMLElement);
    const text =
      left <= 0
        ? "Your sign-in has expired: the map stays live until the connection drops. Ask your admin for a new sign-in link."
        : left < EXPIRY_WARNING_MS
          ? `Your sign-in expires in ${duration(left)}.`
          : "";
    if (note.textContent !== text) note.textContent = text;
    note.hidden = !text;
  }

  dispose(): void {
    this.disposed = true;
    clearInterval(this.timer);
    this.connection.stop();
    this.listeners.abort();
    this.panel.dispose();
    this.knocksList.dispose();
    this.historyPanel.dispose();
    this.mapView?.map.remove();
    delete window.__map;
  }
}

let current: LiveMapSession | null = null;

function showLogin(message: string | null): void {
  current?.dispose();
  current = null;
  document.body.dataset.view = "login";
  document.body.dataset.connection = "signed-out";
  byId("app", HTMLElement).hidden = true;
  byId("login", HTMLElement).hidden = false;
  const error = byId("login-error", HTMLElement);
  error.textContent = message ?? "";
  error.hidden = !message;
  byId("login-token", HTMLTextAreaElement).focus();
}

function showMap(session: Session): void {
  document.body.dataset.view = "map";
  byId("login", HTMLElement).hidden = true;
  byId("app", HTMLElement).hidden = false;
  byId("who", HTMLElement).textContent = session.claims.name ?? session.claims.sub;
  byId("team", HTMLElement).textContent = session.claims.team;
  byId("who-text", HTMLElement).title = `${session.claims.name ?? session.claims.sub} (${session.claims.role}) · team ${session.claims.team}`;
  current = new LiveMapSession(session, (refusal) => {
    clearSession();
    showLogin(
      refusal.status === 401
        ? "Your sign-in has expired or is no longer valid. Ask your admin for a new sign-in link."
        : "This sign-in may not watch the live map: it needs a manager or admin link.",
    );
  });
}

function boot(): void {
  byId("login-form", HTMLFormElement).addEventListener("submit", (e) => {
    e.preventDefault();
    const signedIn = signInWith(byId("login-token", HTMLTextAreaElement).value);
    if (!signedIn.ok) {
      showLogin(signedIn.error);
      return;
    }
    byId("login-token", HTMLTextAreaElement).value = "";
    showMap(signedIn.session);
  });
  byId("sign-out", HTMLButtonElement).addEventListener("click", () => {
    clearSession();
    showLogin("Signed out.");
  });
  const hooks: MapHooks = {
    get view() {
      return current ? "map" : "login";
    },
    get connection() {
      return current?.connection.state.state ?? "signed-out";
    },
    connectionInfo: () => (current ? { ...current.connection.state } : null),
    frames: () => (current ? { ...current.connection.frames } : null),
    get mapReady() {
      return current?.mapView?.ready ?? false;
    },
    basemap: () => (current?.mapView ? { ...current.mapView.basemap } : null),
    get following() {
      return current?.mapView?.following ?? false;
    },
    people: () => current?.state.sortedPeople() ?? [],
    knocks: () => [...(current?.state.knocks.values() ?? [])].map((k) => ({ ...k })),
    leads: () => [...(current?.state.leads.values() ?? [])].map((l) => ({ ...l })),
    queue: () => (current?.state.queue ? structuredClone(current.state.queue) : null),
    get knocksTotal() {
      return current?.state.knocksTotal ?? 0;
    },
    knockCount: (userId) => current?.state.knockCount(userId) ?? 0,
    get frozenAt() {
      return current?.state.frozenAt ?? null;
    },
    peopleUpdates: () => (current?.mapView ? { ...current.mapView.sent } : null),
    history: () => {
      const h = current?.historyPanel.shown;
      if (!h) return null;
      const n = (kind: string) => h.features.filter((f) => f.properties.kind === kind).length;
      return { userId: h.userId, segments: n("route"), stops: n("stop"), knocks: n("knock") };
    },
    dropConnection: () => current?.connection.drop("dropped by the page (test hook)"),
  };
  window.__fieldpulseMap = Object.freeze(hooks);
  const { session, error } = loadSession();
  if (session) showMap(session);
  else showLogin(error);
}

boot();
