import type { Feature, FeatureCollection, LineString, Point } from "geojson";
import type { AddLayerObject, ExpressionSpecification } from "maplibre-gl";
import { KNOCK_OUTCOMES, LEAD_INTEREST } from "../../protocol/events.ts";
import type { PersonStatus } from "../../protocol/live.ts";
import { STATUS_ORDER, type TeamState } from "./team-state.ts";

/**
 * The map's overlay: one GeoJSON source per kind of thing (people, trails, knocks, leads) drawn by a
 * handful of layers, so a thousand canvassers cost a thousand features, not a thousand DOM markers.
 */
export const SOURCES = { people: "people", trails: "trails", knocks: "knocks", leads: "leads" } as const;
export const LAYERS = {
  trails: "trails-line",
  knocks: "knocks-circle",
  leads: "leads-circle",
  people: "people-circle",
  labels: "people-label",
} as const;

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

export function overlayLayers(): AddLayerObject[] {
  return [
    {
      id: LAYERS.trails,
      type: "line",
      source: SOURCES.trails,
      layout: { "line-cap": "round", "line-join": "round" },
      paint: {
        "line-color": matchColor("status", STATUS_COLORS, STATUS_COLORS.offline),
        "line-width": ["interpolate", ["linear"], ["zoom"], 10, 2, 16, 4],
        "line-opacity": 0.55,
      },
    },
    {
      id: LAYERS.knocks,
      type: "circle",
      source: SOURCES.knocks,
      paint: {
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 10, 3, 16, 6],
        "circle-color": matchColor("outcome", OUTCOME_COLORS, OUTCOME_COLORS.other),
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 1,
      },
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
      id: LAYERS.people,
      type: "circle",
      source: SOURCES.people,
      // Live people on top of stale and offline ones.
      layout: { "circle-sort-key": ["get", "rank"] },
      paint: {
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 4, 5, 12, 8, 16, 10],
        "circle-color": matchColor("status", STATUS_COLORS, STATUS_COLORS.offline),
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 2.5,
      },
    },
    {
      id: LAYERS.labels,
      type: "symbol",
      source: SOURCES.people,
      layout: {
        "text-field": ["get", "label"],
        "text-font": ["Open Sans Semibold"],
        "text-size": 13,
        "text-anchor": "top",
        "text-offset": [0, 1],
        "text-optional": true,
        "symbol-sort-key": ["-", 2, ["get", "rank"]],
      },
      paint: { "text-color": "#0f172a", "text-halo-color": "#ffffff", "text-halo-width": 2 },
    },
  ];
}

type Props = Record<string, string | number>;

export function peopleData(state: TeamState, now = state.now()): FeatureCollection<Point, Props> {
  const features: Feature<Point, Props>[] = [];
  for (const p of state.people.values()) {
    const v = state.view(p, now);
    features.push({
      type: "Feature",
      geometry: { type: "Point", coordinates: [p.lng, p.lat] },
      properties: { userId: p.userId, label: v.label, status: v.status, rank: 2 - STATUS_ORDER[v.status] },
    });
  }
  return { type: "FeatureCollection", features };
}

export function trailsData(state: TeamState, now = state.now()): FeatureCollection<LineString, Props> {
  const features: Feature<LineString, Props>[] = [];
  for (const [userId, trail] of state.trails) {
    if (trail.length < 2) continue;
    const person = state.people.get(userId);
    features.push({
      type: "Feature",
      geometry: { type: "LineString", coordinates: trail.map(([lng, lat]) => [lng, lat]) },
      properties: { userId, status: person ? state.view(person, now).status : "offline" },
    });
  }
  return { type: "FeatureCollection", features };
}

export function knocksData(state: TeamState): FeatureCollection<Point, Props> {
  return {
    type: "FeatureCollection",
    features: [...state.knocks.values()].map((k) => ({
      type: "Feature",
      geometry: { type: "Point", coordinates: [k.lng, k.lat] },
      properties: { id: k.id, userId: k.userId, outcome: k.outcome },
    })),
  };
}

export function leadsData(state: TeamState): FeatureCollection<Point, Props> {
  const features: Feature<Point, Props>[] = [];
  for (const l of state.leads.values()) {
    if (l.lat === undefined || l.lng === undefined) continue;
    features.push({
      type: "Feature",
      geometry: { type: "Point", coordinates: [l.lng, l.lat] },
      properties: { id: l.id, userId: l.userId, interest: l.interest ?? "none" },
    });
  }
  return { type: "FeatureCollection", features };
}
