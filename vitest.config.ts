import { cloudflareTest } from "@cloudflare/vitest-plugin";
import fs from "node:fs";
import { defineConfig } from "vitest/config";
import { planStack, workerBindings } from "./test/support/stack.ts";

const plan = await planStack();
// wrangler.toml serves static assets from the Vite build; the Worker tests do not need it built.
fs.mkdirSync("dist/web", { recursive: true });

const workerTest = (name: string, include: string[], bindings: Record<string, string>) => ({
  plugins: [
    cloudflareTest({
      // Production's Worker with a TeamHub tests can tune and stop after COMMIT (never in the deployed bundle).
      main: "./test/support/test-worker.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: { bindings },
    }),
  ],
  test: {
    name,
    include,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});

export default defineConfig({
  test: {
    // At the root, so it is evaluated by Node's own resolver: the Workers projects resolve modules with
    // worker conditions, under which `ws` and `ioredis` load their browser stubs.
    globalSetup: ["./test/support/global-setup.ts"],
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
    projects: [
      workerTest("workers", ["test/workers/**/*.test.ts"], workerBindings(plan)),
      // Outage drills: Postgres through a proxy they cut and restore, and a Redis that is never there
      // (a closed port), so every Redis feature is seen failing open. A project of their own: no other test sees it.
      workerTest("workers-faults", ["test/workers-faults/**/*.test.ts"], {
        ...workerBindings(plan, plan.faultProxyPort),
        UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${plan.deadPort}`,
      }),
      // A Redis that takes requests and never answers (the control server's /hang/): nothing may wait on it.
      workerTest("workers-hung", ["test/workers-hung/**/*.test.ts"], {
        ...workerBindings(plan),
        UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${plan.controlPort}/hang/redis`,
      }),
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          // One Chromium and one wrangler dev at a time: the machines have two cores.
          fileParallelism: false,
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          // The Node tests read protocol/ as the server does: with zod's English messages (common/config.ts).
          setupFiles: ["test/support/server-messages.ts"],
          testTimeout: 30_000,
        },
      },
    ],
  },
});
