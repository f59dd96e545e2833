import "maplibre-gl/dist/maplibre-gl.css";
import "./map.css";
import type * as maplibregl from "maplibre-gl";
import type { LiveMessage } from "../../protocol/live.ts";
import { chooseBasemap } from "./basemap.ts";
import { duration } from "./format.ts";
import type { MapHooks } from "./hooks.ts";
import { LiveConnection, type Refusal } from "./live-connection.ts";
import { MapView } from "./map-view.ts";
import { byId, Panel, renderConnection, renderQueue } from "./panel.ts";
import { clearSession, loadSession, parseToken, storeSession, type Session } from "./session.ts";
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
  readonly connection: LiveConnection;
  readonly panel: Panel;
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
    this.panel = new Panel(this.state, (userId) => this.mapView?.focus(userId));
    this.connection = new LiveConnection({
      origin: location.origin,
      token: session.token,
      onMessage: (m) => this.receive(m),
      onChange: () => this.publish(),
      onRefused,
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.listen(window, "online", () => this.connection.retryNow());
    this.listen(window, "offline", () => this.publish());
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
      this.mapView = new MapView(byId("map", HTMLElement), choice, this.state, () => this.publish());
      window.__map = this.mapView.map;
    } catch (err) {
      // No WebGL (an old tablet, a locked-down browser): the panel still lists everyone.
      const note = byId("map-error", HTMLElement);
      note.hidden = false;
      note.textContent = `The map cannot be drawn in this browser (${err instanceof Error ? err.message : String(err)}). The list on the left stays live.`;
    }
    this.publish();
  }

  private receive(m: LiveMessage): void {
    switch (m.type) {
      case "snapshot":
        this.state.applySnapshot(m);
        this.arrivedSince = 0;
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

  private tick(): void {
    const now = this.state.now();
    this.state.tick(now);
    this.render(now);
    this.panel.tick(now);
    this.mapView?.refreshPopup();
  }

  private render(now = this.state.now()): void {
    const dirty = this.state.takeDirty();
    if (dirty.people) this.panel.renderPeople(now);
    this.mapView?.schedule(dirty);
    this.publish(now);
  }

  /** Connection, queue and the body's data- attributes: cheap, so on every change and every tick. */
  publish(now = this.state.now()): void {
    const info = this.connection.state;
    renderConnection(info, navigator.onLine, Date.now());
    renderQueue(this.state.queue, this.state.queueAt, now, this.arrivedSince);
    const body = document.body.dataset;
    const counts = this.state.counts(now);
    body.connection = info.state;
    body.people = String(this.state.people.size);
    for (const status of ["live", "stale", "offline"] as const) body[status] = String(counts[status]);
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

  /** The server checks the token only when a socket opens: warn before the next reconnect would fail. */
  private renderExpiry(now: number): void {
    const left = this.session.claims.exp * 1000 - now;
    const note = byId("expiry", HTMLElement);
    const text =
      left <= 0
        ? "Your sign-in has expired: the map stays live until the connection drops. Sign out and in again with a new token."
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
        ? `Your sign-in has expired or is no longer valid (${refusal.message}). Paste a new manager token.`
        : `This token may not watch the live map (${refusal.message}).`,
    );
  });
}

function boot(): void {
  byId("login-form", HTMLFormElement).addEventListener("submit", (e) => {
    e.preventDefault();
    const parsed = parseToken(byId("login-token", HTMLTextAreaElement).value);
    if (!parsed.ok) {
      showLogin(parsed.error);
      return;
    }
    byId("login-token", HTMLTextAreaElement).value = "";
    storeSession(parsed.session);
    showMap(parsed.session);
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
    dropConnection: () => current?.connection.drop("dropped by the page (test hook)"),
  };
  window.__fieldpulseMap = Object.freeze(hooks);
  const { session, error } = loadSession();
  if (session) showMap(session);
  else showLogin(error);
}

boot();
