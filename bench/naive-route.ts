import { Hono } from "hono";
import { COLUMNS, TABLE } from "../db/bulk.ts";
import { withDb } from "../db/client.ts";
import { ingestEnvelope, toIssues } from "../protocol/events.ts";
import { partitionEvents } from "../protocol/ingest.ts";
import { errorBody } from "../protocol/errors.ts";
import { requireRole, type AuthVars } from "../worker/auth.ts";
import { ApiError } from "../worker/errors.ts";
import { jsonBody, readJson } from "../worker/ingest.ts";

export const naive = new Hono<{ Bindings: Env; Variables: AuthVars }>();

naive.onError((err, c) => {
  if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.issues), err.status);
  return c.json(errorBody("internal", err instanceof Error ? err.message : String(err)), 500);
});

/**
 * The seed story's naive path, kept as a measured baseline: every event its own INSERT, inside the
 * request. Only in the bench's Worker (bench/worker.ts), never in the deployed one.
 */
naive.post("/v1/bench/naive-events", requireRole("field", "manager", "admin"), ...jsonBody, async (c) => {
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
