import { resolve } from "node:path";
import { defineConfig } from "vite";

const root = import.meta.dirname;

/** web/ builds into dist/web, which wrangler serves as static assets next to the Worker's routes. */
export default defineConfig({
  root,
  base: "/",
  build: {
    outDir: resolve(root, "../dist/web"),
    emptyOutDir: true,
    rollupOptions: {
      input: {
        index: resolve(root, "index.html"),
        field: resolve(root, "field/index.html"),
        map: resolve(root, "map/index.html"),
      },
    },
  },
});
