import type { Feature, FeatureCollection, Point } from "geojson";
import * as maplibregl from "maplibre-gl";
import workerUrl from "maplibre-gl/dist/maplibre-gl-worker.mjs?url";
import type { HistoryCollection } from "../../protocol/history.ts";
import { offlineStyle, type BasemapChoice } from "./basemap.ts";
import type { Filters } from "./filters.ts";
import type { BasemapState } from "./hooks.ts";
import {
  frozenPaint,
  knockFeature,
  knocksData,
  LAYERS,
  leadsData,
  marksFilters,
  overlayLayers,
  peopleData,
  peopleSource,
  personFeature,
  SOURCES,
  trailsData,
  type Props,
} from "./layers.ts";
import { knockPopup, leadPopup, personPopup } from "./popup-content.ts";
import type { Dirty, TeamState } from "./team-state.ts";

maplibregl.setWorkerUrl(workerUrl);

/** A style that has not loaded by then (no network, a dead style server) gives way to the plain background. */
const STYLE_TIMEOUT_MS = 8_000;
const FIT_PADDING = 60;
/** Following the team, the view refits when someone comes this close (a share of the view) to its edge. */
const EDGE_MARGIN = 0.03;
const TRAILS_EVERY_MS = 2_000;
/** MapLibre reloads the whole source for a diff this large anyway (maplibre-gl-js #6562): send it whole. */
const DIFF_LIMIT = 1_000;
const MINUTE = 60_000;

/**
 * How often people are redrawn: every frame for a small team; for a large one every update re-tiles
 * the clustered source in the worker and re-uploads it, so moves are batched (a person moves every few seconds anyway).
 */
export function peopleEveryMs(people: number): number {
  return people >= 2_000 ? 1_000 : people >= 500 ? 500 : 0;
}

type OpenPopup = { kind: "person"; userId: string } | { kind: "knock"; id: string } | { kind: "lead"; id: string };

/** A person as last sent to the people source: what a diff compares against. */
interface Drawn {
  lng: number;
  lat: number;
  key: string;
}

/**
 * The MapLibre map and its overlay. People are sent as diffs (`updateData` by feature id), at most once
 * per animation frame; knocks as diffs too; the map itself is never rebuilt. Until the manager pans or
 * zooms, the view follows the team: it refits when someone new appears, someone nears the edge, or
 * the window changes size.
 */
export class MapView {
  readonly map: maplibregl.Map;
  ready = false;
  basemap: BasemapState = { kind: "loading", note: null };
  following = true;
  private readonly popup = new maplibregl.Popup({ closeButton: true, closeOnClick: false, maxWidth: "300px", offset: 14 });
  private open: OpenPopup | null = null;
  private pending: Dirty;
  private frame: number | null = null;
  private fittedPeople = 0;
  private trailsDrawnAt = 0;
  private readonly drawn = new Map<string, Drawn>();
  private frozenShown = false;
  private marksFilterMinute = -1;
  private peopleDrawnAt = 0;
  private laterTimer: ReturnType<typeof setTimeout> | null = null;
  /** Marks (knocks, trails) wait for the first dots after a snapshot: people are what a manager looks for first. */
  private marksAfterIdle = false;
  /** Full people reloads and diffs sent: the bench and tests read them to see diffs are diffs. */
  readonly sent = { full: 0, diffs: 0 };

  constructor(
    container: HTMLElement,
    choice: BasemapChoice,
    private readonly state: TeamState,
    private readonly filters: Filters,
    private readonly onChange: () => void,
  ) {
    const offline = choice.kind === "offline";
    this.basemap = offline ? { kind: "offline", note: choice.note } : { kind: "loading", note: null };
    this.pending = { people: "all", trails: true, knocks: { all: true, added: new Set(), removed: new Set() }, leads: true, queue: false };
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
      // The reason goes to the console for whoever runs the server; the manager gets plain words.
      this.basemap = { kind: "offline", note: "Basemap unavailable — showing a plain map" };
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
    if (!this.map.getSource(SOURCES.people)) this.map.addSource(SOURCES.people, peopleSource());
    for (const id of [SOURCES.trails, SOURCES.knocks, SOURCES.leads, SOURCES.history, SOURCES.cursor]) {
      if (!this.map.getSource(id)) this.map.addSource(id, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    }
    for (const layer of overlayLayers()) if (!this.map.getLayer(layer.id)) this.map.addLayer(layer);
    this.ready = true;
    this.drawn.clear();
    this.frozenShown = false;
    this.marksFilterMinute = -1;
    this.schedule({ people: "all", trails: true, knocks: { all: true, added: new Set(), removed: new Set() }, leads: true, queue: false });
    if (this.history) this.showHistory(this.history, false);
    this.onChange();
  }

  private bindInteractions(): void {
    const clickable = [LAYERS.people, LAYERS.clusters, LAYERS.leads, LAYERS.knocks, LAYERS.historyKnocks];
    for (const layer of clickable) {
      this.map.on("mouseenter", layer, () => (this.map.getCanvas().style.cursor = "pointer"));
      this.map.on("mouseleave", layer, () => (this.map.getCanvas().style.cursor = ""));
    }
    this.map.on("click", (e) => {
      if (!this.ready) return;
      // People first: a canvasser standing on their own knock is who the manager meant.
      const hit = this.map.queryRenderedFeatures(e.point, { layers: clickable })[0];
      if (!hit) {
        this.popup.remove();
        return;
      }
      const props: Record<string, unknown> = hit.properties;
      if (hit.layer.id === LAYERS.clusters && hit.geometry.type === "Point") {
        // A cluster opens up: zoom to where it splits.
        const source = this.map.getSource(SOURCES.people);
        const clusterId = Number(props.cluster_id);
        const center = hit.geometry.coordinates as [number, number];
        if (source instanceof maplibregl.GeoJSONSource) {
          void source.getClusterExpansionZoom(clusterId).then((zoom) => this.takeCamera(() => this.map.easeTo({ center, zoom, duration: 500 })));
        }
      } else if (hit.layer.id === LAYERS.people && typeof props.userId === "string") this.show({ kind: "person", userId: props.userId });
      else if ((hit.layer.id === LAYERS.knocks || hit.layer.id === LAYERS.historyKnocks) && typeof props.id === "string") this.show({ kind: "knock", id: props.id });
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

  private takeCamera(move: () => void): void {
    this.following = false;
    move();
    this.onChange();
  }

  /** Data changed: redraw on the next frame (a burst of frames costs one redraw). */
  schedule(dirty: Dirty): void {
    const p = this.pending;
    if (dirty.people === "all" || p.people === "all") p.people = "all";
    else for (const id of dirty.people) p.people.add(id);
    p.trails ||= dirty.trails;
    p.leads ||= dirty.leads;
    if (dirty.knocks.all) p.knocks = { all: true, added: new Set(), removed: new Set() };
    else if (!p.knocks.all) {
      for (const id of dirty.knocks.added) p.knocks.added.add(id), p.knocks.removed.delete(id);
      for (const id of dirty.knocks.removed) p.knocks.removed.add(id), p.knocks.added.delete(id);
    }
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.draw();
    });
  }

  /** The filters changed: everything visible may differ. */
  refilter(): void {
    this.marksFilterMinute = -1;
    this.schedule({ people: "all", trails: true, knocks: { all: false, added: new Set(), removed: new Set() }, leads: false, queue: false });
  }

  private source(id: string): maplibregl.GeoJSONSource | null {
    const s = this.map.getSource(id);
    return s instanceof maplibregl.GeoJSONSource ? s : null;
  }

  private draw(): void {
    if (!this.ready) return;
    performance.mark("fieldpulse:draw-start");
    const dirty = this.pending;
    const now = this.state.now();
    // Trails are the heaviest source (every point of 15 minutes): redrawn at most every 2 s; the
    // page's one-second tick picks up what this frame left pending.
    const trailsDue = dirty.trails && Date.now() - this.trailsDrawnAt >= TRAILS_EVERY_MS && !this.marksAfterIdle;
    const peopleDue = dirty.people === "all" || Date.now() - this.peopleDrawnAt >= peopleEveryMs(this.state.people.size);
    const deferKnocks = this.marksAfterIdle || (dirty.people === "all" && dirty.knocks.all && this.state.people.size > 0);
    this.pending = {
      people: peopleDue ? new Set() : dirty.people,
      trails: dirty.trails && !trailsDue,
      knocks: deferKnocks ? dirty.knocks : { all: false, added: new Set(), removed: new Set() },
      leads: false,
      queue: false,
    };
    const peopleChanged = peopleDue && (dirty.people === "all" || dirty.people.size > 0);
    if (peopleChanged) {
      this.drawPeople(dirty.people, now);
      this.peopleDrawnAt = Date.now();
    } else if (!peopleDue) this.later(peopleEveryMs(this.state.people.size) - (Date.now() - this.peopleDrawnAt));
    if (trailsDue) {
      void this.source(SOURCES.trails)?.setData(trailsData(this.state, this.filters, now));
      this.trailsDrawnAt = Date.now();
    }
    if (deferKnocks && !this.marksAfterIdle) {
      this.marksAfterIdle = true;
      this.map.once("idle", () => {
        this.marksAfterIdle = false;
        this.schedule({ people: new Set(), trails: true, knocks: { all: false, added: new Set(), removed: new Set() }, leads: false, queue: false });
      });
    }
    if (!deferKnocks) this.drawKnocks(dirty.knocks);
    if (dirty.leads) void this.source(SOURCES.leads)?.setData(leadsData(this.state));
    this.applyMarksFilter(now);
    const frozen = this.state.frozenAt !== null;
    if (frozen !== this.frozenShown) {
      for (const [layer, prop, value] of frozenPaint(frozen)) this.map.setPaintProperty(layer, prop, value);
      this.frozenShown = frozen;
    }
    if (peopleChanged && this.following && (this.state.people.size > this.fittedPeople || this.someoneOutOfView())) this.fitTeam(false);
    this.refreshPopup();
    performance.measure("fieldpulse:draw", "fieldpulse:draw-start");
  }

  /** Draw again after `ms` (people held back by the cadence). */
  private later(ms: number): void {
    if (this.laterTimer !== null) return;
    this.laterTimer = setTimeout(() => {
      this.laterTimer = null;
      this.schedule({ people: new Set(), trails: false, knocks: { all: false, added: new Set(), removed: new Set() }, leads: false, queue: false });
    }, Math.max(0, ms));
  }

  /** People as a diff against what the source holds; a whole reload only when most of it changed. */
  private drawPeople(changed: Set<string> | "all", now: number): void {
    const source = this.source(SOURCES.people);
    if (!source) return;
    if (changed === "all" || changed.size > DIFF_LIMIT) {
      const data = peopleData(this.state, this.filters, now);
      this.drawn.clear();
      for (const f of data.features) this.drawn.set(String(f.id), drawnOf(f));
      void source.setData(data);
      this.sent.full++;
      return;
    }
    if (changed.size === 0) return;
    const add: Feature<Point, Props>[] = [];
    const update: maplibregl.GeoJSONFeatureDiff[] = [];
    const remove: string[] = [];
    for (const userId of changed) {
      const p = this.state.people.get(userId);
      const f = p ? personFeature(this.state, p, this.filters, now) : null;
      const was = this.drawn.get(userId);
      if (!f) {
        if (was) remove.push(userId), this.drawn.delete(userId);
        continue;
      }
      const next = drawnOf(f);
      if (!was) add.push(f);
      else if (was.key !== next.key) update.push({ id: userId, newGeometry: f.geometry, addOrUpdateProperties: Object.entries(f.properties).map(([key, value]) => ({ key, value })) });
      else if (was.lng !== next.lng || was.lat !== next.lat) update.push({ id: userId, newGeometry: f.geometry });
      else continue;
      this.drawn.set(userId, next);
    }
    if (add.length + update.length + remove.length === 0) return;
    void source.updateData({ add, update, remove });
    this.sent.diffs++;
  }

  private drawKnocks(k: Dirty["knocks"]): void {
    const source = this.source(SOURCES.knocks);
    if (!source) return;
    if (k.all || k.added.size + k.removed.size > DIFF_LIMIT) {
      void source.setData(knocksData(this.state));
      return;
    }
    if (k.added.size + k.removed.size === 0) return;
    const add: Feature<Point, Props>[] = [];
    for (const id of k.added) {
      const knock = this.state.knocks.get(id);
      const f = knock ? knockFeature(knock) : null;
      if (f) add.push(f);
    }
    void source.updateData({ add, remove: [...k.removed] });
  }

  /** The time window slides: refilter marks once a minute, not on every frame. */
  private applyMarksFilter(now: number): void {
    const minute = Math.floor(now / MINUTE);
    if (minute === this.marksFilterMinute) return;
    this.marksFilterMinute = minute;
    const f = marksFilters(this.filters, minute * MINUTE);
    this.map.setFilter(LAYERS.knocks, f.knocks);
    this.map.setFilter(LAYERS.leads, f.leads);
  }

  /** While following: has anyone walked off the edge of the view (or into its outer margin)? */
  private someoneOutOfView(): boolean {
    if (this.map.isMoving()) return false;
    // From the camera alone: reading the canvas size here would force a layout of the whole page.
    const b = this.map.getBounds();
    const dLng = (b.getEast() - b.getWest()) * EDGE_MARGIN;
    const dLat = (b.getNorth() - b.getSouth()) * EDGE_MARGIN;
    const [west, east, south, north] = [b.getWest() + dLng, b.getEast() - dLng, b.getSouth() + dLat, b.getNorth() - dLat];
    for (const [userId, d] of this.drawn) {
      if (!this.state.people.has(userId)) continue;
      if (d.lng < west || d.lng > east || d.lat < south || d.lat > north) return true;
    }
    return false;
  }

  /** Fit the view to everyone shown; `takeBack` is the manager's "follow the team" button. */
  fitTeam(takeBack = true): void {
    if (takeBack) this.following = true;
    const bounds = new maplibregl.LngLatBounds();
    for (const d of this.drawn.values()) bounds.extend([d.lng, d.lat]);
    this.fittedPeople = this.state.people.size;
    if (bounds.isEmpty()) return;
    this.map.fitBounds(bounds, { padding: FIT_PADDING, maxZoom: 16, duration: 600 });
    this.onChange();
  }

  focus(userId: string): void {
    const p = this.state.people.get(userId);
    if (!p) return;
    this.takeCamera(() => this.map.easeTo({ center: [p.lng, p.lat], zoom: Math.max(this.map.getZoom(), 15), duration: 600 }));
    this.show({ kind: "person", userId });
  }

  /** A lead picked in the list: fly to it and open it. False when it has no position. */
  focusLead(id: string): boolean {
    return this.flyToMark({ kind: "lead", id }, this.state.leads.get(id), 16);
  }

  /** A knock picked in the list: fly to it and open it (a door: closer in). False when it has no position. */
  focusKnock(id: string): boolean {
    return this.flyToMark({ kind: "knock", id }, this.state.knocks.get(id), 17);
  }

  private flyToMark(popup: Extract<OpenPopup, { id: string }>, mark: { lat?: number; lng?: number } | undefined, minZoom: number): boolean {
    if (!mark || mark.lat === undefined || mark.lng === undefined) return false;
    const at: [number, number] = [mark.lng, mark.lat];
    this.takeCamera(() => this.map.flyTo({ center: at, zoom: Math.max(this.map.getZoom(), minZoom), duration: 800 }));
    this.show(popup);
    return true;
  }

  // ---- History ----
  private history: HistoryCollection | null = null;

  /** Draw one person's day (route segments, stops, knocks) and frame it. */
  showHistory(fc: HistoryCollection, frame = true): void {
    this.history = fc;
    if (!this.ready) return;
    const drawable: FeatureCollection = {
      type: "FeatureCollection",
      features: fc.features.flatMap((f) => (f.geometry === null ? [] : [{ type: "Feature", id: f.id, geometry: f.geometry, properties: f.properties }])),
    };
    void this.source(SOURCES.history)?.setData(drawable);
    if (!frame) return;
    const bounds = new maplibregl.LngLatBounds();
    for (const f of fc.features) {
      if (f.geometry?.type === "LineString") for (const c of f.geometry.coordinates) bounds.extend(c);
      else if (f.geometry?.type === "Point") bounds.extend(f.geometry.coordinates);
    }
    if (!bounds.isEmpty()) this.takeCamera(() => this.map.fitBounds(bounds, { padding: FIT_PADDING, maxZoom: 17, duration: 0 }));
  }

  /** The replay cursor: where the person was at the slider's time (null hides it). */
  showCursor(at: [number, number] | null): void {
    void this.source(SOURCES.cursor)?.setData({
      type: "FeatureCollection",
      features: at ? [{ type: "Feature", geometry: { type: "Point", coordinates: at }, properties: {} }] : [],
    });
  }

  clearHistory(): void {
    this.history = null;
    void this.source(SOURCES.history)?.setData({ type: "FeatureCollection", features: [] });
    this.showCursor(null);
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
      const k = this.state.knocks.get(what.id) ?? this.historyKnock(what.id);
      if (k && k.lat !== undefined && k.lng !== undefined) [at, body] = [[k.lng, k.lat], knockPopup(this.state, k, now)];
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

  private historyKnock(id: string) {
    const f = this.history?.features.find((x) => x.id === id && x.properties.kind === "knock");
    if (!f || f.properties.kind !== "knock" || f.geometry?.type !== "Point") return undefined;
    const [lng, lat] = f.geometry.coordinates;
    return { id, userId: this.history!.userId, at: f.properties.at, outcome: f.properties.outcome, address: f.properties.address ?? undefined, lat, lng };
  }

  get openPopup(): Readonly<OpenPopup> | null {
    return this.open;
  }
}

function drawnOf(f: Feature<Point, Props>): Drawn {
  const [lng, lat] = f.geometry.coordinates as [number, number];
  const p = f.properties;
  return { lng, lat, key: `${p.status}|${p.label}` };
}
