import { Hono } from "hono";
import { COLUMNS, TABLE } from "../db/bulk.ts";
import { withDb } from "../db/client.ts";
import { ingestEnvelope, partitionEvents, toIssues } from "../protocol/events.ts";
import { requireRole, type AuthVars } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { jsonBody, readJson } from "./ingest.ts";

export const bench = new Hono<{ Bindings: Env; Variables: AuthVars }>();

/**
 * The seed story's naive path, kept as a measured baseline: every event its own INSERT, inside the
 * request. Exists only when BENCH_MODE = "1" (npm run bench); 404 otherwise.
 */
bench.post("/v1/bench/naive-events", async (c, next) => {
  if (c.env.BENCH_MODE !== "1") throw new ApiError(404, "not_found", "no route POST /v1/bench/naive-events");
  await next();
}, requireRole("field", "manager", "admin"), ...jsonBody, async (c) => {
  const envelope = ingestEnvelope.safeParse(await readJson(c.req.raw));
  if (!envelope.success) throw new ApiError(400, "invalid_envelope", "the body must be { events: [...] }", toIssues(envelope.error));
  const { valid, rejected } = partitionEvents(envelope.data.events);
  const claims = c.get("claims");
  const receivedAt = Date.now();
  await withDb(c.env, async ({ client }) => {
    for (const event of valid) {
      const cols = COLUMNS[event.type];
      const values = cols.map((c) => c.value({ teamId: claims.team, userId: claims.sub, receivedAt, event }));
      await client.query(
        `INSERT INTO "${TABLE[event.type]}" (${cols.map((c) => `"${c.name}"`).join(", ")}) VALUES (${cols.map((c, i) => c.wire.select(`$${i + 1}::${c.wire.param}`)).join(", ")}) ON CONFLICT ("team_id", "id") DO NOTHING`,
        values,
      );
    }
  });
  return c.json({ accepted: valid.length, duplicates: 0, rejected, leads: [] }, 202);
});
