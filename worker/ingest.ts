import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ingestEnvelope, MAX_BODY_BYTES, toIssues, type IngestResult } from "../protocol/events.ts";
import { partitionEvents } from "../protocol/ingest.ts";
import type { AuthVars } from "./auth.ts";
import { requireRole } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { rateLimit } from "./rate-limit.ts";

export const ingest = new Hono<{ Bindings: Env; Variables: AuthVars }>();

/** Reads a JSON body: 415 unless JSON, 413 past the cap (checked on the stream, before parsing), 400 unless it parses. */
export const jsonBody = [
  async (c: { req: { header(name: string): string | undefined } }, next: () => Promise<void>) => {
    const type = c.req.header("Content-Type") ?? "";
    if (!/^application\/([a-z.+-]*\+)?json\s*(;|$)/i.test(type)) {
      throw new ApiError(415, "unsupported_media_type", "send Content-Type: application/json");
    }
    // JSON is UTF-8 (RFC 8259): a body declared in another charset would be decoded wrong, so it is refused.
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(type)?.[1];
    if (charset && !/^utf-?8$/i.test(charset)) {
      throw new ApiError(415, "unsupported_media_type", `JSON is UTF-8: send the body in UTF-8 (charset=${charset} is not accepted)`);
    }
    await next();
  },
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new ApiError(413, "payload_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`);
    },
  }),
] as const;

// ignoreBOM: false — a byte order mark before the JSON text is dropped (RFC 8259 §8.1 lets a parser ignore it).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The body as text: bytes that are not UTF-8 are refused (never replaced by U+FFFD and stored so). */
export async function readUtf8(req: Request, code = "invalid_json"): Promise<string> {
  try {
    return utf8.decode(await req.arrayBuffer());
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(400, code, "the body is not valid UTF-8");
  }
}

/** The body as JSON, from UTF-8 only (readUtf8). */
export async function readJson(req: Request): Promise<unknown> {
  const text = await readUtf8(req);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
}

ingest.post("/v1/events", requireRole("field", "manager", "admin"), rateLimit, ...jsonBody, async (c) => {
  const envelope = ingestEnvelope.safeParse(await readJson(c.req.raw));
  if (!envelope.success) {
    throw new ApiError(400, "invalid_envelope", "the body must be { \"events\": [ …1 to 500 events… ] }", toIssues(envelope.error));
  }
  const { valid, indexes, rejected } = partitionEvents(envelope.data.events);
  if (valid.length === 0) {
    throw new ApiError(400, "no_valid_events", "no event in the batch is valid", rejected.flatMap((r) => r.issues), {
      body: { accepted: 0, duplicates: 0, rejected, leads: [] },
    });
  }
  const claims = c.get("claims");
  const hub = c.env.TEAM_HUB.get(c.env.TEAM_HUB.idFromName(claims.team));
  const result = await hub.ingest({
    teamId: claims.team,
    userId: claims.sub,
    token: { sub: claims.sub, jti: claims.jti, iat: claims.iat },
    ...(claims.name ? { name: claims.name } : {}),
    events: valid,
    receivedAt: Date.now(),
  });
  if (result.revoked) throw new ApiError(401, "token_revoked", "the token has been revoked; ask your admin for a new one");
  // `?? []`: during a rollout an object of the previous version may still answer, without conflicts.
  // An id already held by an event of another kind: refused like any invalid event, by its index in the request.
  for (const c of result.conflicts ?? []) {
    const index = indexes[c.at]!;
    rejected.push({ index, id: c.id, issues: [{ path: `events.${index}.id`, message: `is already the id of a ${c.kind} event: every event needs its own id` }] });
  }
  rejected.sort((a, b) => a.index - b.index);
  const body: IngestResult = { accepted: result.accepted, duplicates: result.duplicates, rejected, leads: result.leads };
  if (result.refused > 0) {
    c.header("Retry-After", String(result.retryAfterS ?? 30));
    return c.json(
      {
        ...body,
        refused: result.refused,
        refusedIds: result.refusedIds,
        error: { code: "backpressure", message: "the team's buffer is full; retry the refused events later" },
      },
      503,
    );
  }
  return c.json(body, 202);
});
