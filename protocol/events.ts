import { z } from "zod/mini";

/** Limits of the ingest contract (README "API", docs/architecture.md "Ingest"). */
export const MAX_EVENTS_PER_BATCH = 500;
export const MAX_BODY_BYTES = 512 * 1024;
export const MAX_META_BYTES = 4 * 1024;

import { BUFFERED_KINDS, EVENT_KINDS, KNOCK_OUTCOMES, LEAD_INTEREST, type EventKind, type KnockOutcome } from "./kinds.ts";
export { BUFFERED_KINDS, EVENT_KINDS, KNOCK_OUTCOMES, LEAD_INTEREST, type EventKind, type KnockOutcome };

// Device clocks drift and offline queues replay old events; refuse only the absurd.
// 2000: trackers replay years-old fixes and publish their examples with 2013 clocks; before that is a broken clock.
export const EARLIEST_AT = Date.UTC(2000, 0, 1);
const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;

/** `at`: ISO-8601 string or epoch milliseconds; normalised to epoch ms. */
export const eventTime = z
  .union([
    z.int().check(z.nonnegative()),
    z.pipe(z.iso.datetime({ offset: true }), z.transform((s: string) => Date.parse(s))),
  ], { error: "must be an ISO-8601 date-time or epoch milliseconds" })
  .check(
    z.refine((ms) => ms >= EARLIEST_AT, {
      error: (issue) =>
        typeof issue.input === "number" && issue.input * 1000 >= EARLIEST_AT && issue.input * 1000 <= Date.now() + MAX_FUTURE_MS
          ? "is before 2000-01-01: epoch seconds? `at` takes epoch milliseconds"
          : "is before 2000-01-01",
    }),
    z.refine((ms) => ms <= Date.now() + MAX_FUTURE_MS, { error: "is more than a day in the future" }),
  );

const between = (min: number, max: number) => z.number().check(z.gte(min), z.lte(max));
export const lat = between(-90, 90);
export const lng = between(-180, 180);
const upTo = (max: number) => z.number().check(z.nonnegative(), z.lte(max));

/**
 * Postgres refuses U+0000 in text and jsonb, and lone surrogates in jsonb: what it cannot store must
 * never get past the edge, or one value would stall a whole team's flushes.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export function storableTextProblem(s: string): string | null {
  if (s.includes("\u0000")) return "must not contain the NUL character (U+0000)";
  if (LONE_SURROGATE.test(s)) return "must not contain a lone surrogate (malformed UTF-16)";
  return null;
}
export const storable = z.superRefine((s: string, ctx) => {
  const problem = storableTextProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
/** Trimmed, at most `max` characters (at least `min`), storable. */
export const text = (max: number, min = 0, error?: string) =>
  z.string().check(z.trim(), ...(min > 0 ? [z.minLength(min, error ? { error } : undefined)] : []), z.maxLength(max), storable);

/** Ids are compared as Postgres compares uuids: the lower-case form is the one id. */
const eventId = z.uuid({ error: "must be a UUID" }).check(z.toLowerCase());

export const base = {
  id: eventId,
  at: eventTime,
};

/** A fix's measurements and their limits: the PWA's events and the trackers' (protocol/compat.ts) share them. */
export const fixFields = {
  lat,
  lng,
  accuracy: upTo(100_000),
  speed: upTo(1_000),
  heading: between(0, 360),
  altitude: between(-1_000, 100_000),
  battery: between(0, 1),
};

export const locationEvent = z.object({
  ...base,
  type: z.literal("location"),
  lat,
  lng,
  accuracy: z.optional(fixFields.accuracy),
  speed: z.optional(fixFields.speed),
  heading: z.optional(fixFields.heading),
  altitude: z.optional(fixFields.altitude),
  battery: z.optional(fixFields.battery),
});

/** How a knock was placed: a fresh fix, the last known one (its accuracy and age tell the truth), a pin, or an address only. */
export const POSITION_SOURCES = ["gps", "last_known", "pin", "address"] as const;

/** Both or neither: half a position is no position (the knock's and the lead's rule). */
export const positionPair = z.superRefine((v: { lat?: number; lng?: number }, ctx) => {
  if ((v.lat === undefined) !== (v.lng === undefined)) {
    ctx.addIssue({ code: "custom", path: [v.lat === undefined ? "lat" : "lng"], message: "lat and lng come together" });
  }
});

export const knockEvent = z
  .object({
    ...base,
    type: z.literal("knock"),
    /** Both or neither: a canvasser without a fix may knock by address alone. */
    lat: z.optional(lat),
    lng: z.optional(lng),
    accuracy: z.optional(fixFields.accuracy),
    positionSource: z.optional(z.enum(POSITION_SOURCES)),
    outcome: z.enum(KNOCK_OUTCOMES),
    address: z.optional(text(500)),
    notes: z.optional(text(2_000)),
  })
  .check(
    positionPair,
    z.superRefine((k, ctx) => {
      if (k.lat === undefined && k.lng === undefined && !k.address) {
        ctx.addIssue({ code: "custom", path: ["address"], message: "is required when the knock has no position (lat/lng)" });
      }
    }),
  );

/** Deeper meta is refused before anything recurses into it (a 2,000-deep object would blow the stack). */
export const MAX_META_DEPTH = 8;

/**
 * `meta`: a JSON object of at most MAX_META_BYTES, MAX_META_DEPTH levels, every key and string storable.
 * Walked iteratively and kept as it came — a key like `__proto__` stays a key, never a prototype.
 */
const jsonObject = z.custom<Record<string, unknown>>().check(
  z.superRefine((value, ctx) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      ctx.addIssue({ code: "custom", message: "must be a JSON object" });
      return;
    }
    const stack: { v: unknown; path: PropertyKey[]; depth: number }[] = [{ v: value, path: [], depth: 1 }];
    while (stack.length > 0) {
      const { v, path, depth } = stack.pop()!;
      if (typeof v === "string") {
        const problem = storableTextProblem(v);
        if (problem) return void ctx.addIssue({ code: "custom", path, message: problem });
      } else if (typeof v === "number") {
        if (!Number.isFinite(v)) return void ctx.addIssue({ code: "custom", path, message: "must be a finite number" });
      } else if (typeof v === "object" && v !== null) {
        if (depth > MAX_META_DEPTH) return void ctx.addIssue({ code: "custom", path, message: `must be at most ${MAX_META_DEPTH} levels deep` });
        for (const [key, child] of Object.entries(v)) {
          const problem = storableTextProblem(key);
          if (problem) return void ctx.addIssue({ code: "custom", path: [...path, key], message: `key ${JSON.stringify(key)} ${problem}` });
          stack.push({ v: child, path: [...path, Array.isArray(v) ? Number(key) : key], depth: depth + 1 });
        }
      } else if (typeof v !== "boolean" && v !== null) {
        return void ctx.addIssue({ code: "custom", path, message: "must be JSON" });
      }
    }
    if (new TextEncoder().encode(JSON.stringify(value)).byteLength > MAX_META_BYTES) {
      ctx.addIssue({ code: "custom", message: `must be at most ${MAX_META_BYTES} bytes of JSON` });
    }
  }),
);

export const activityEvent = z.object({
  ...base,
  type: z.literal("activity"),
  kind: text(64, 1),
  description: z.optional(text(2_000)),
  contactId: z.optional(text(128)),
  meta: z.optional(jsonObject),
});

export type LocationEvent = z.infer<typeof locationEvent>;
export type KnockEvent = z.infer<typeof knockEvent>;
export type ActivityEvent = z.infer<typeof activityEvent>;
// The lead (it needs the phone-number metadata) and the union of all four live apart, so a page that only
// makes knocks and fixes never loads libphonenumber: protocol/lead.ts, protocol/ingest.ts. Types are free.
export type { LeadEvent } from "./lead.ts";
export type { IngestEvent } from "./ingest.ts";

/** The envelope is checked loosely first so that one bad event cannot hide its valid neighbours. */
export const ingestEnvelope = z.object({
  events: z.array(z.unknown()).check(
    z.minLength(1, { error: "must hold at least one event" }),
    z.maxLength(MAX_EVENTS_PER_BATCH, { error: `must hold at most ${MAX_EVENTS_PER_BATCH} events` }),
  ),
});

export interface Issue {
  path: string;
  message: string;
}

/** `events.3.lat` style paths, rooted at the request body. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

export function toIssues(error: z.core.$ZodError, prefix: readonly PropertyKey[] = []): Issue[] {
  return error.issues.map((i) => ({ path: issuePath([...prefix, ...i.path]), message: i.message }));
}

/** stored: Postgres holds it · queued: it waits in the team's outbox for Postgres · rejected: Postgres refused its content (dead-lettered, never sent to the dialer). */
export const LEAD_STATUSES = ["stored", "queued", "rejected"] as const;
export const leadStatus = z.object({ id: z.string(), status: z.enum(LEAD_STATUSES) });
export type LeadStatus = z.infer<typeof leadStatus>;

const issue = z.object({ path: z.string(), message: z.string() });

/**
 * The body of POST /v1/events' answers: the 202, and the 503 (plus `refused`, `refusedIds`) and 400 that carry
 * the same detail. The server builds it, the PWA and the simulator read it with this schema.
 */
const count = z.int().check(z.nonnegative());
export const ingestReply = z.object({
  accepted: count,
  duplicates: count,
  rejected: z.array(z.object({ index: count, id: z.optional(z.string()), issues: z.array(issue) })),
  leads: z.array(leadStatus),
  /** Buffered events refused under backpressure (503 only): how many, and which. */
  refused: z.optional(count),
  refusedIds: z.optional(z.array(z.string())),
});
export type IngestResult = z.infer<typeof ingestReply>;
