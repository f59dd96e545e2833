import { resolve } from "node:path";
import { defineConfig } from "vite";
import { fieldPwa } from "./field/build/pwa.ts";

const root = import.meta.dirname;
const outDir = resolve(root, "../dist/web");

/** web/ builds into dist/web, which wrangler serves as static assets next to the Worker's routes. */
export default defineConfig({
  root,
  base: "/",
  // The field app is a PWA: manifest, icons, a service worker scoped to /field/ (see field/build/pwa.ts).
  plugins: [fieldPwa({ root, outDir })],
  build: {
    outDir,
    emptyOutDir: true,
    rollupOptions: {
      input: {
        index: resolve(root, "index.html"),
        field: resolve(root, "field/index.html"),
        map: resolve(root, "map/index.html"),
      },
      // The two libraries both pages load (protocol/ needs them) in chunks of their own, so that their
      // weight shows apart from each page's code (README "The apps"); rolldown names the chunk of the
      // rest both share after one of its modules.
      output: {
        codeSplitting: {
          groups: [
            // Its locales stay with the page that sets one (the field app): the map shows no schema message.
            { name: "zod", test: /node_modules[\\/]zod[\\/](?!v4[\\/]locales[\\/])/ },
            { name: "libphonenumber", test: /node_modules[\\/]libphonenumber-js[\\/]/ },
          ],
        },
      },
    },
  },
});
