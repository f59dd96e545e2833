import * as maplibregl from "maplibre-gl";
import workerUrl from "maplibre-gl/dist/maplibre-gl-worker.mjs?url";
import "maplibre-gl/dist/maplibre-gl.css";
import type { Feature, FeatureCollection, LineString, Point } from "geojson";
import { KNOCK_OUTCOMES, type KnockOutcome } from "../../protocol/events.ts";
import type { DaySummary } from "./day.ts";
import type { DayMapHandle } from "./day-view.ts";
import { t } from "./i18n/index.ts";

/**
 * Today's knocks (coloured as their buttons) and the canvasser's trail, on a style with no tiles: it draws
 * offline, from GeoJSON alone. Loaded on demand, so the main screen never waits for MapLibre.
 */

/**
 * MapLibre's worker, started from a blob of the script rather than from its /assets/ URL. A worker's own
 * script request is matched to a service worker by its URL's scope (/field/ does not cover /assets/), not
 * by the page's controller, so offline `new Worker("/assets/…")` goes to the network and fails. The page's
 * fetch() of the same URL is answered from the precache, and a blob: worker needs no further request
 * (the CSP in web/public/_headers allows worker-src blob:). Once per page: MapLibre's worker pool is global.
 */
let workerReady: Promise<void> | null = null;
function useCachedWorker(): Promise<void> {
  workerReady ??= fetch(workerUrl)
    .then(async (res) => {
      if (!res.ok) throw new Error(`the map worker did not load (${res.status})`);
      const blob = new Blob([await res.text()], { type: "text/javascript" });
      maplibregl.setWorkerUrl(URL.createObjectURL(blob));
    });
  return workerReady;
}

declare global {
  interface Window {
    /** The day map, for tests and debugging (queryRenderedFeatures and the like). */
    __dayMap?: maplibregl.Map;
  }
}

/** The outcome buttons' own colours: one source (field.css). */
function outcomeColours(): Record<KnockOutcome, string> {
  const out = {} as Record<KnockOutcome, string>;
  for (const o of KNOCK_OUTCOMES) {
    const b = document.querySelector<HTMLElement>(`button[data-outcome="${o}"]`);
    out[o] = b ? getComputedStyle(b).backgroundColor : "#444";
  }
  return out;
}

function toGeoJson(s: DaySummary): { knocks: FeatureCollection<Point>; trail: FeatureCollection<LineString> } {
  const knocks: Feature<Point>[] = s.knocks
    .filter((k) => k.lat !== undefined && k.lng !== undefined)
    .map((k) => ({ type: "Feature", id: k.id, properties: { id: k.id, outcome: k.outcome! }, geometry: { type: "Point", coordinates: [k.lng!, k.lat!] } }));
  const path = s.trail.filter((f) => f.lat !== undefined && f.lng !== undefined).map((f) => [f.lng!, f.lat!]);
  const trail: Feature<LineString>[] = path.length >= 2 ? [{ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: path } }] : [];
  return { knocks: { type: "FeatureCollection", features: knocks }, trail: { type: "FeatureCollection", features: trail } };
}

export async function createDayMap(container: HTMLElement): Promise<DayMapHandle> {
  await useCachedWorker();
  const colours = outcomeColours();
  const map = new maplibregl.Map({
    container,
    style: { version: 8, sources: {}, layers: [{ id: "background", type: "background", paint: { "background-color": "#e9edf1" } }] },
    center: [0, 0],
    zoom: 1,
    fadeDuration: 0,
    attributionControl: false,
    cooperativeGestures: true,
    // The "use two fingers" hints in the page's language (MapLibre's own words are English).
    locale: {
      "CooperativeGesturesHandler.WindowsHelpText": t.day.mapGestures.windows,
      "CooperativeGesturesHandler.MacHelpText": t.day.mapGestures.mac,
      "CooperativeGesturesHandler.MobileHelpText": t.day.mapGestures.mobile,
    },
  });
  window.__dayMap = map;
  await new Promise<void>((resolve) => map.once("load", () => resolve()));
  const empty: FeatureCollection = { type: "FeatureCollection", features: [] };
  map.addSource("trail", { type: "geojson", data: empty });
  map.addSource("knocks", { type: "geojson", data: empty });
  map.addLayer({ id: "trail", type: "line", source: "trail", paint: { "line-color": "#0b3d91", "line-width": 3, "line-opacity": 0.8 } });
  map.addLayer({
    id: "knocks",
    type: "circle",
    source: "knocks",
    paint: {
      "circle-radius": 7,
      "circle-stroke-width": 2,
      "circle-stroke-color": "#000",
      "circle-color": ["match", ["get", "outcome"], ...KNOCK_OUTCOMES.flatMap((o) => [o, colours[o]]), "#444"] as unknown as maplibregl.ExpressionSpecification,
    },
  });
  document.body.dataset.dayMap = "ready";

  return {
    update(s) {
      const data = toGeoJson(s);
      map.getSource<maplibregl.GeoJSONSource>("knocks")?.setData(data.knocks);
      map.getSource<maplibregl.GeoJSONSource>("trail")?.setData(data.trail);
      const points = [...data.knocks.features.map((f) => f.geometry.coordinates), ...(data.trail.features[0]?.geometry.coordinates ?? [])];
      if (points.length > 0) {
        const bounds = new maplibregl.LngLatBounds(points[0] as [number, number], points[0] as [number, number]);
        for (const p of points) bounds.extend(p as [number, number]);
        map.fitBounds(bounds, { padding: 30, maxZoom: 17, duration: 0 });
      }
      document.body.dataset.dayMapKnocks = String(data.knocks.features.length);
    },
  };
}
