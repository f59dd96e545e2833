/**
 * Build side of the field PWA (Vite plugins, Node): the web manifest and icons, the service worker
 * (vite-plugin-pwa, generateSW) precaching exactly the field app's shell, and the Background Sync
 * script the service worker imports.
 */
import { resolve } from "node:path";
import { build, type Plugin } from "vite";
import { VitePWA } from "vite-plugin-pwa";
import { iconPng } from "./icons.ts";

const SCOPE = "/field/";
const ICONS = [
  { file: "field/icons/icon-192.png", size: 192, purpose: "any" },
  { file: "field/icons/icon-512.png", size: 512, purpose: "any" },
  { file: "field/icons/maskable-512.png", size: 512, purpose: "maskable" },
] as const;

const manifest = {
  id: SCOPE,
  name: "fieldpulse field",
  short_name: "fieldpulse",
  description: "Log your route, door knocks and leads, online or off.",
  start_url: SCOPE,
  scope: SCOPE,
  display: "standalone",
  orientation: "portrait",
  background_color: "#ffffff",
  theme_color: "#0b3d91",
  icons: ICONS.map((i) => ({ src: `/${i.file}`, sizes: `${i.size}x${i.size}`, type: "image/png", purpose: i.purpose })),
};

export function fieldPwa({ root, outDir }: { root: string; outDir: string }): Plugin[] {
  /** Files (relative to outDir) the field page needs to open offline; nothing of the map or landing page. */
  const shell = new Set<string>();

  const assets: Plugin = {
    name: "fieldpulse:field-shell",
    apply: "build",
    generateBundle(_options, bundle) {
      this.emitFile({ type: "asset", fileName: "field/manifest.webmanifest", source: JSON.stringify(manifest, null, 2) });
      for (const icon of ICONS) this.emitFile({ type: "asset", fileName: icon.file, source: iconPng(icon.size) });

      shell.clear();
      shell.add("field/index.html").add("field/manifest.webmanifest");
      for (const icon of ICONS) shell.add(icon.file);
      // Everything the field entry chunk loads, statically or not, with its CSS and assets.
      const visit = (fileName: string) => {
        const chunk = bundle[fileName];
        if (!chunk || shell.has(fileName)) return;
        shell.add(fileName);
        if (chunk.type !== "chunk") return;
        for (const f of [...chunk.imports, ...chunk.dynamicImports]) visit(f);
        for (const f of chunk.viteMetadata?.importedCss ?? []) shell.add(f);
        for (const f of chunk.viteMetadata?.importedAssets ?? []) shell.add(f);
      };
      for (const out of Object.values(bundle)) {
        if (out.type === "chunk" && out.isEntry && out.facadeModuleId === resolve(root, "field/index.html")) visit(out.fileName);
      }
      // And whatever the built page references directly (its stylesheet link, for one).
      const html = bundle["field/index.html"];
      if (html?.type === "asset") {
        for (const m of String(html.source).matchAll(/(?:href|src)="\/([^"#?]+)"/g)) if (m[1] && bundle[m[1]]) shell.add(m[1]);
      }
    },
    // The service worker loads this with importScripts(): a classic script, so it is built on its own.
    async writeBundle() {
      await build({
        configFile: false,
        root,
        logLevel: "warn",
        publicDir: false,
        build: {
          outDir: resolve(outDir, "field"),
          emptyOutDir: false,
          copyPublicDir: false,
          minify: true,
          lib: { entry: resolve(root, "field/sw-sync.ts"), formats: ["iife"], name: "fieldpulseSwSync", fileName: () => "sw-sync.js" },
        },
      });
    },
  };

  const pwa = VitePWA({
    strategies: "generateSW",
    // Not NODE_ENV: under vitest that is "test", which would ship Workbox's logging build.
    mode: "production",
    // main.ts registers it, with the /field/ scope; the manifest is ours (VitePWA would link it from every page).
    injectRegister: false,
    manifest: false,
    filename: "field/sw.js",
    scope: SCOPE,
    workbox: {
      cacheId: "fieldpulse-field",
      // mjs: the MapLibre worker the day view's map loads (precached only because the field graph names it).
      globPatterns: ["**/*.{html,js,mjs,css,png,webmanifest}"],
      manifestTransforms: [
        async (entries) => ({
          manifest: entries
            .filter((e) => shell.has(e.url))
            // The worker lives in /field/: make every URL absolute, and precache the page under its real address.
            .map((e) => ({ ...e, url: e.url === "field/index.html" ? SCOPE : `/${e.url}` })),
          warnings: [],
        }),
      ],
      navigateFallback: SCOPE,
      navigateFallbackAllowlist: [/^\/field\//],
      importScripts: ["sw-sync.js"],
      skipWaiting: true,
      clientsClaim: true,
      cleanupOutdatedCaches: true,
    },
  });

  return [assets, ...pwa];
}
