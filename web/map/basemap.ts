import type { StyleSpecification } from "maplibre-gl";
import { z } from "zod/mini";

/** wrangler.toml's MAP_STYLE_URL default: free and keyless. */
export const DEFAULT_STYLE_URL = "https://demotiles.maplibre.org/style.json";
/** Where the Worker will say which style to use (`{ styleUrl }`); until it does, the default applies. */
export const MAP_CONFIG_PATH = "/v1/map/config";
const CONFIG_TIMEOUT_MS = 4_000;

/** No tiles, glyphs or sprites: people, trails and marks still draw, and labels are drawn locally. */
export function offlineStyle(): StyleSpecification {
  return {
    version: 8,
    name: "fieldpulse offline",
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#e9edf1" } }],
  };
}

/** The basemap to try: a style URL (MapLibre fetches and validates it) or none at all. */
export type BasemapChoice = { kind: "url"; url: string } | { kind: "offline"; note: string };

const mapConfig = z.object({ styleUrl: z.url() });

/**
 * `?style=none` (tests; a manager on a metered link) → the plain background; `?style=<url>` → that
 * style; otherwise the Worker's configured style, or the default when the Worker does not say.
 */
export async function chooseBasemap(search: string, origin: string): Promise<BasemapChoice> {
  const asked = new URLSearchParams(search).get("style");
  if (asked === "none" || asked === "offline") return { kind: "offline", note: "Plain map (no basemap)" };
  if (asked) return { kind: "url", url: asked };
  return { kind: "url", url: await configuredStyleUrl(origin) };
}

async function configuredStyleUrl(origin: string): Promise<string> {
  try {
    const res = await fetch(new URL(MAP_CONFIG_PATH, origin), { signal: AbortSignal.timeout(CONFIG_TIMEOUT_MS), cache: "no-store" });
    if (!res.ok) return DEFAULT_STYLE_URL;
    const config = mapConfig.safeParse(await res.json());
    return config.success ? config.data.styleUrl : DEFAULT_STYLE_URL;
  } catch {
    return DEFAULT_STYLE_URL;
  }
}
