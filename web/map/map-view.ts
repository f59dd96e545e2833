import * as maplibregl from "maplibre-gl";
import workerUrl from "maplibre-gl/dist/maplibre-gl-worker.mjs?url";
import { offlineStyle, type BasemapChoice } from "./basemap.ts";
import type { BasemapState } from "./hooks.ts";
import { knocksData, LAYERS, leadsData, overlayLayers, peopleData, SOURCES, trailsData } from "./layers.ts";
import { knockPopup, leadPopup, personPopup } from "./popup-content.ts";
import type { Dirty, TeamState } from "./team-state.ts";

maplibregl.setWorkerUrl(workerUrl);

/** A style that has not loaded by then (no network, a dead style server) gives way to the plain background. */
const STYLE_TIMEOUT_MS = 8_000;
const FIT_PADDING = 60;
/** Following the team, the view refits when someone comes this close (a share of the view) to its edge. */
const EDGE_MARGIN = 0.03;
const TRAILS_EVERY_MS = 1_000;

type OpenPopup = { kind: "person"; userId: string } | { kind: "knock"; id: string } | { kind: "lead"; id: string };

/**
 * The MapLibre map and its overlay. Data changes re-set only the sources that changed, at most once per
 * animation frame; the map itself is never rebuilt. Until the manager pans or zooms, the view follows
 * the team: it refits when someone new appears, someone nears the edge, or the window changes size.
 */
export class MapView {
  readonly map: maplibregl.Map;
  ready = false;
  basemap: BasemapState = { kind: "loading", note: null };
  following = true;
  private readonly popup = new maplibregl.Popup({ closeButton: true, closeOnClick: false, maxWidth: "280px", offset: 14 });
  private open: OpenPopup | null = null;
  private pending: Dirty = { people: true, trails: true, marks: true, queue: false };
  private frame: number | null = null;
  private fittedPeople = 0;
  private trailsDrawnAt = 0;

  constructor(
    container: HTMLElement,
    choice: BasemapChoice,
    private readonly state: TeamState,
    private readonly onChange: () => void,
  ) {
    const offline = choice.kind === "offline";
    this.basemap = offline ? { kind: "offline", note: choice.note } : { kind: "loading", note: null };
    this.map = new maplibregl.Map({
      container,
      style: offline ? offlineStyle() : choice.url,
      center: [0, 20],
      zoom: 1.5,
      fadeDuration: 0,
      attributionControl: { compact: true },
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
    this.map.on("style.load", () => this.install());
    // A rotated tablet or a resized window: keep the whole team in view while following.
    this.map.on("resize", () => {
      if (this.following && this.ready) this.fitTeam(false);
    });
    if (!offline) this.watchStyle(choice.url);
    this.bindInteractions();
    this.popup.on("close", () => {
      this.open = null;
    });
  }

  private watchStyle(url: string): void {
    const fallBack = (why: string) => {
      if (this.basemap.kind !== "loading") return;
      this.basemap = { kind: "offline", note: `basemap unavailable (${why})` };
      console.warn(`fieldpulse map: style ${url} failed (${why}); drawing on the plain background`);
      this.map.setStyle(offlineStyle());
      this.onChange();
    };
    const timer = setTimeout(() => fallBack("timed out"), STYLE_TIMEOUT_MS);
    this.map.once("style.load", () => {
      clearTimeout(timer);
      if (this.basemap.kind === "loading") this.basemap = { kind: "styled", note: null };
      this.onChange();
    });
    // Before the style is in, any error is the style's own (fetch, JSON, validation).
    this.map.on("error", (e) => {
      if (this.basemap.kind === "loading") {
        clearTimeout(timer);
        fallBack(e.error instanceof Error ? e.error.message : "error");
      }
    });
  }

  /** Add the overlay to whatever style just loaded (the first, or the fallback that replaced it). */
  private install(): void {
    for (const id of Object.values(SOURCES)) {
      if (!this.map.getSource(id)) this.map.addSource(id, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    }
    for (const layer of overlayLayers()) if (!this.map.getLayer(layer.id)) this.map.addLayer(layer);
    this.ready = true;
    this.schedule({ people: true, trails: true, marks: true, queue: false });
    this.onChange();
  }

  private bindInteractions(): void {
    const clickable = [LAYERS.people, LAYERS.leads, LAYERS.knocks];
    for (const layer of clickable) {
      this.map.on("mouseenter", layer, () => (this.map.getCanvas().style.cursor = "pointer"));
      this.map.on("mouseleave", layer, () => (this.map.getCanvas().style.cursor = ""));
    }
    this.map.on("click", (e) => {
      if (!this.ready) return;
      // People first: a canvasser standing on their own knock is who the manager meant.
      const hits = this.map.queryRenderedFeatures(e.point, { layers: clickable });
      const hit = hits[0];
      if (!hit) {
        this.popup.remove();
        return;
      }
      const props: Record<string, unknown> = hit.properties;
      if (hit.layer.id === LAYERS.people && typeof props.userId === "string") this.show({ kind: "person", userId: props.userId });
      else if (hit.layer.id === LAYERS.knocks && typeof props.id === "string") this.show({ kind: "knock", id: props.id });
      else if (hit.layer.id === LAYERS.leads && typeof props.id === "string") this.show({ kind: "lead", id: props.id });
    });
    // A manager who pans or zooms takes the camera: stop refitting until they ask for it.
    const takeOver = (e: { originalEvent?: unknown }) => {
      if (e.originalEvent && this.following) {
        this.following = false;
        this.onChange();
      }
    };
    this.map.on("dragstart", takeOver);
    this.map.on("zoomstart", takeOver);
  }

  /** Data changed: redraw the changed sources on the next frame (a burst of frames costs one redraw). */
  schedule(dirty: Dirty): void {
    this.pending = {
      people: this.pending.people || dirty.people,
      trails: this.pending.trails || dirty.trails,
      marks: this.pending.marks || dirty.marks,
      queue: false,
    };
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.draw();
    });
  }

  private setData(id: string, data: Parameters<maplibregl.GeoJSONSource["setData"]>[0]): void {
    const source = this.map.getSource(id);
    if (source instanceof maplibregl.GeoJSONSource) void source.setData(data);
  }

  private draw(): void {
    if (!this.ready) return;
    const dirty = this.pending;
    const now = this.state.now();
    // Trails are the heaviest source (every point of 15 minutes): redrawn at most once a second; the
    // page's one-second tick picks up what this frame left pending.
    const trailsDue = (dirty.trails || dirty.people) && Date.now() - this.trailsDrawnAt >= TRAILS_EVERY_MS;
    this.pending = { people: false, trails: (dirty.trails || dirty.people) && !trailsDue, marks: false, queue: false };
    if (dirty.people) this.setData(SOURCES.people, peopleData(this.state, now));
    if (trailsDue) {
      this.setData(SOURCES.trails, trailsData(this.state, now));
      this.trailsDrawnAt = Date.now();
    }
    if (dirty.marks) {
      this.setData(SOURCES.knocks, knocksData(this.state));
      this.setData(SOURCES.leads, leadsData(this.state));
    }
    if (dirty.people && this.following && (this.state.people.size > this.fittedPeople || this.someoneOutOfView())) this.fitTeam(false);
    this.refreshPopup();
  }

  /** While following: has anyone walked off the edge of the view (or into its outer margin)? */
  private someoneOutOfView(): boolean {
    if (this.map.isMoving()) return false;
    // From the camera alone: reading the canvas size here would force a layout of the whole page.
    const b = this.map.getBounds();
    const dLng = (b.getEast() - b.getWest()) * EDGE_MARGIN;
    const dLat = (b.getNorth() - b.getSouth()) * EDGE_MARGIN;
    const [west, east, south, north] = [b.getWest() + dLng, b.getEast() - dLng, b.getSouth() + dLat, b.getNorth() - dLat];
    for (const p of this.state.people.values()) {
      if (p.lng < west || p.lng > east || p.lat < south || p.lat > north) return true;
    }
    return false;
  }

  /** Fit the view to everyone; `takeBack` is the manager's "follow the team" button. */
  fitTeam(takeBack = true): void {
    if (takeBack) this.following = true;
    const bounds = new maplibregl.LngLatBounds();
    for (const p of this.state.people.values()) bounds.extend([p.lng, p.lat]);
    this.fittedPeople = this.state.people.size;
    if (bounds.isEmpty()) return;
    this.map.fitBounds(bounds, { padding: FIT_PADDING, maxZoom: 16, duration: 600 });
    this.onChange();
  }

  focus(userId: string): void {
    const p = this.state.people.get(userId);
    if (!p) return;
    this.following = false;
    this.map.easeTo({ center: [p.lng, p.lat], zoom: Math.max(this.map.getZoom(), 15), duration: 600 });
    this.show({ kind: "person", userId });
    this.onChange();
  }

  private show(what: OpenPopup): void {
    this.open = what;
    if (!this.refreshPopup()) return;
    if (!this.popup.isOpen()) this.popup.addTo(this.map);
  }

  /** Once a second and on every data change: the open popup follows its person and its clock. */
  refreshPopup(): boolean {
    const what = this.open;
    if (!what) return false;
    const now = this.state.now();
    let at: [number, number] | null = null;
    let body: HTMLElement | null = null;
    if (what.kind === "person") {
      const p = this.state.people.get(what.userId);
      if (p) [at, body] = [[p.lng, p.lat], personPopup(this.state, what.userId, now)];
    } else if (what.kind === "knock") {
      const k = this.state.knocks.get(what.id);
      if (k) [at, body] = [[k.lng, k.lat], knockPopup(this.state, k, now)];
    } else {
      const l = this.state.leads.get(what.id);
      if (l && l.lat !== undefined && l.lng !== undefined) [at, body] = [[l.lng, l.lat], leadPopup(this.state, l, now)];
    }
    if (!at || !body) {
      this.popup.remove();
      return false;
    }
    this.popup.setLngLat(at).setDOMContent(body);
    return true;
  }

  get openPopup(): Readonly<OpenPopup> | null {
    return this.open;
  }
}
