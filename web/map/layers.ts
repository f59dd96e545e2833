import type { Feature, FeatureCollection, LineString, Point } from "geojson";
import type { AddLayerObject, ExpressionSpecification, FilterSpecification, GeoJSONSourceSpecification, Map as MapLibreMap } from "maplibre-gl";
import { KNOCK_OUTCOMES, LEAD_INTEREST } from "../../protocol/kinds.ts";
import type { LivePoint, PersonStatus } from "../../protocol/live.ts";
import type { Filters } from "./filters.ts";
import { STATUS_ORDER, type TeamState } from "./team-state.ts";

/**
 * The map's overlay: one GeoJSON source per kind of thing (people, trails, knocks, leads, a history)
 * drawn by a handful of layers, so a thousand canvassers cost a thousand features, not a thousand DOM
 * markers. People cluster below street zoom; labels show only where they fit.
 */
export const SOURCES = { people: "people", trails: "trails", knocks: "knocks", leads: "leads", history: "history", cursor: "history-cursor" } as const;
export const LAYERS = {
  trails: "trails-line",
  knocks: "knocks-circle",
  leads: "leads-circle",
  clusters: "people-clusters",
  clusterCount: "people-cluster-count",
  people: "people-circle",
  labels: "people-label",
  historyRoute: "history-route",
  historyStops: "history-stops",
  historyKnocks: "history-knocks",
  cursor: "history-cursor",
} as const;

/** Above this zoom nobody is clustered: a street's worth of people is readable one by one. */
export const CLUSTER_MAX_ZOOM = 13;
/** Names only from here: at city scale a label per dot is a carpet. */
const LABEL_MIN_ZOOM = 13;

export const STATUS_COLORS: Record<PersonStatus, string> = { live: "#16a34a", stale: "#d97706", offline: "#6b7280" };
export const OUTCOME_COLORS: Record<(typeof KNOCK_OUTCOMES)[number], string> = {
  interested: "#16a34a",
  callback: "#2563eb",
  no_answer: "#94a3b8",
  not_interested: "#dc2626",
  do_not_knock: "#111827",
  other: "#9333ea",
};
export const INTEREST_COLORS: Record<(typeof LEAD_INTEREST)[number] | "none", string> = { hot: "#dc2626", warm: "#ea580c", cold: "#2563eb", none: "#7c3aed" };

function matchColor(property: string, colors: Record<string, string>, fallback: string): ExpressionSpecification | string {
  const [first, ...rest] = Object.entries(colors);
  if (!first) return fallback;
  return ["match", ["get", property], first[0], first[1], ...rest.flat(), fallback];
}

export const peopleSource = (): GeoJSONSourceSpecification => ({
  type: "geojson",
  data: { type: "FeatureCollection", features: [] },
  cluster: true,
  clusterMaxZoom: CLUSTER_MAX_ZOOM,
  clusterRadius: 36,
  // A cluster with anyone live in it reads as live: the manager looks for the quiet ones.
  clusterProperties: { live: ["+", ["case", ["==", ["get", "status"], "live"], 1, 0]] },
});

const notCluster: FilterSpecification = ["!", ["has", "point_count"]];

export function overlayLayers(): AddLayerObject[] {
  return [
    {
      id: LAYERS.trails,
      type: "line",
      source: SOURCES.trails,
      minzoom: 11,
      layout: { "line-cap": "round", "line-join": "round" },
      paint: {
        "line-color": matchColor("status", STATUS_COLORS, STATUS_COLORS.offline),
        "line-width": ["interpolate", ["linear"], ["zoom"], 11, 2, 16, 4],
        "line-opacity": 0.55,
      },
    },
    {
      id: LAYERS.historyRoute,
      type: "line",
      source: SOURCES.history,
      filter: ["==", ["get", "kind"], "route"],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": "#7c3aed", "line-width": ["interpolate", ["linear"], ["zoom"], 10, 3, 16, 6], "line-opacity": 0.85 },
    },
    {
      id: LAYERS.knocks,
      type: "circle",
      source: SOURCES.knocks,
      paint: {
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 8, 1.5, 12, 3, 16, 6],
        "circle-color": matchColor("outcome", OUTCOME_COLORS, OUTCOME_COLORS.other),
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": ["interpolate", ["linear"], ["zoom"], 10, 0, 12, 1],
      },
    },
    {
      id: LAYERS.historyKnocks,
      type: "circle",
      source: SOURCES.history,
      filter: ["==", ["get", "kind"], "knock"],
      paint: {
        "circle-radius": 6,
        "circle-color": matchColor("outcome", OUTCOME_COLORS, OUTCOME_COLORS.other),
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 2,
      },
    },
    {
      id: LAYERS.historyStops,
      type: "circle",
      source: SOURCES.history,
      filter: ["==", ["get", "kind"], "stop"],
      paint: { "circle-radius": 9, "circle-color": "#fde047", "circle-stroke-color": "#713f12", "circle-stroke-width": 3 },
    },
    {
      // Leads are rings, so they read apart from knocks (dots) and people (large dots) at a glance.
      id: LAYERS.leads,
      type: "circle",
      source: SOURCES.leads,
      paint: {
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 10, 4, 16, 8],
        "circle-color": "#ffffff",
        "circle-stroke-color": matchColor("interest", INTEREST_COLORS, INTEREST_COLORS.none),
        "circle-stroke-width": 3,
      },
    },
    {
      id: LAYERS.clusters,
      type: "circle",
      source: SOURCES.people,
      filter: ["has", "point_count"],
      paint: {
        "circle-radius": ["step", ["get", "point_count"], 12, 10, 15, 100, 19, 1000, 24],
        "circle-color": ["case", [">", ["get", "live"], 0], STATUS_COLORS.live, STATUS_COLORS.offline],
        "circle-opacity": 0.9,
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 2,
      },
    },
    {
      id: LAYERS.clusterCount,
      type: "symbol",
      source: SOURCES.people,
      filter: ["has", "point_count"],
      layout: { "text-field": ["get", "point_count_abbreviated"], "text-font": ["Open Sans Semibold"], "text-size": 12, "text-allow-overlap": true },
      paint: { "text-color": "#ffffff" },
    },
    {
      id: LAYERS.people,
      type: "circle",
      source: SOURCES.people,
      filter: notCluster,
      // Live people on top of stale and offline ones.
      layout: { "circle-sort-key": ["get", "rank"] },
      paint: {
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 4, 4, 12, 7, 16, 10],
        "circle-color": matchColor("status", STATUS_COLORS, STATUS_COLORS.offline),
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 2.5,
      },
    },
    {
      id: LAYERS.labels,
      type: "symbol",
      source: SOURCES.people,
      filter: notCluster,
      minzoom: LABEL_MIN_ZOOM,
      layout: {
        "text-field": ["get", "label"],
        "text-font": ["Open Sans Semibold"],
        "text-size": 13,
        "text-anchor": "top",
        "text-offset": [0, 1],
        // Collisions hide a label, never a dot: labels only where they fit.
        "text-optional": true,
        "symbol-sort-key": ["-", 2, ["get", "rank"]],
      },
      paint: { "text-color": "#0f172a", "text-halo-color": "#ffffff", "text-halo-width": 2 },
    },
    {
      id: LAYERS.cursor,
      type: "circle",
      source: SOURCES.cursor,
      paint: { "circle-radius": 10, "circle-color": "#7c3aed", "circle-stroke-color": "#ffffff", "circle-stroke-width": 3 },
    },
  ];
}

/** Dimmed, not recoloured: while the page is cut off, last-known statuses stay, greyed. */
export function frozenPaint(frozen: boolean): [string, Parameters<MapLibreMap["setPaintProperty"]>[1], number | string][] {
  return [
    [LAYERS.people, "circle-opacity", frozen ? 0.4 : 1],
    [LAYERS.people, "circle-stroke-color", frozen ? "#94a3b8" : "#ffffff"],
    [LAYERS.clusters, "circle-opacity", frozen ? 0.4 : 0.9],
    [LAYERS.labels, "text-opacity", frozen ? 0.5 : 1],
    [LAYERS.trails, "line-opacity", frozen ? 0.25 : 0.55],
  ];
}

export type Props = Record<string, string | number>;

/** A person's dot, or null when the filters hide them. */
export function personFeature(state: TeamState, p: LivePoint, filters: Filters, now: number): Feature<Point, Props> | null {
  const status = state.statusOf(p, now);
  if (!filters.statuses.has(status)) return null;
  return {
    type: "Feature",
    id: p.userId,
    geometry: { type: "Point", coordinates: [p.lng, p.lat] },
    properties: { userId: p.userId, label: state.labelOf(p.userId), status, rank: 2 - STATUS_ORDER[status] },
  };
}

export function peopleData(state: TeamState, filters: Filters, now = state.now()): FeatureCollection<Point, Props> {
  const features: Feature<Point, Props>[] = [];
  for (const p of state.people.values()) {
    const f = personFeature(state, p, filters, now);
    if (f) features.push(f);
  }
  return { type: "FeatureCollection", features };
}

export function trailsData(state: TeamState, filters: Filters, now = state.now()): FeatureCollection<LineString, Props> {
  const features: Feature<LineString, Props>[] = [];
  for (const [userId, trail] of state.trails) {
    if (trail.length < 2) continue;
    const person = state.people.get(userId);
    const status = person ? state.statusOf(person, now) : "offline";
    if (!filters.statuses.has(status)) continue;
    features.push({
      type: "Feature",
      geometry: { type: "LineString", coordinates: trail.map(([lng, lat]) => [lng, lat]) },
      properties: { userId, status },
    });
  }
  return { type: "FeatureCollection", features };
}

export function knockFeature(k: { id: string; userId: string; outcome: string; at: number; lat?: number; lng?: number }): Feature<Point, Props> | null {
  if (k.lat === undefined || k.lng === undefined) return null;
  return { type: "Feature", id: k.id, geometry: { type: "Point", coordinates: [k.lng, k.lat] }, properties: { id: k.id, userId: k.userId, outcome: k.outcome, at: k.at } };
}

export function knocksData(state: TeamState): FeatureCollection<Point, Props> {
  const features: Feature<Point, Props>[] = [];
  for (const k of state.knocks.values()) {
    const f = knockFeature(k);
    if (f) features.push(f);
  }
  return { type: "FeatureCollection", features };
}

export function leadsData(state: TeamState): FeatureCollection<Point, Props> {
  const features: Feature<Point, Props>[] = [];
  for (const l of state.leads.values()) {
    if (l.lat === undefined || l.lng === undefined) continue;
    features.push({
      type: "Feature",
      id: l.id,
      geometry: { type: "Point", coordinates: [l.lng, l.lat] },
      properties: { id: l.id, userId: l.userId, interest: l.interest ?? "none", at: l.at },
    });
  }
  return { type: "FeatureCollection", features };
}

/** Knocks and leads by outcome and time window: a layer filter, so no data is re-sent. */
export function marksFilters(filters: Filters, now: number): { knocks: FilterSpecification; leads: FilterSpecification } {
  const since: FilterSpecification = [">=", ["get", "at"], now - filters.windowMs];
  return {
    knocks: ["all", ["in", ["get", "outcome"], ["literal", [...filters.outcomes]]], since],
    leads: since,
  };
}
