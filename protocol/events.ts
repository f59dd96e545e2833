import { z } from "zod";

/** Limits of the ingest contract (DESIGN "Ingest API"). */
export const MAX_EVENTS_PER_BATCH = 500;
export const MAX_BODY_BYTES = 512 * 1024;
export const MAX_META_BYTES = 4 * 1024;

export const EVENT_KINDS = ["location", "knock", "activity", "lead"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
/** Kinds that wait in the TeamHub buffer; leads are written at once. */
export const BUFFERED_KINDS = ["location", "knock", "activity"] as const;

export const KNOCK_OUTCOMES = ["no_answer", "not_interested", "interested", "callback", "do_not_knock", "other"] as const;
export type KnockOutcome = (typeof KNOCK_OUTCOMES)[number];
export const LEAD_INTEREST = ["hot", "warm", "cold"] as const;

// Device clocks drift and offline queues replay old events; refuse only the absurd.
const EARLIEST_AT = Date.UTC(2020, 0, 1);
const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;

/** `at`: ISO-8601 string or epoch milliseconds; normalised to epoch ms. */
export const eventTime = z
  .union([
    z.number().int().nonnegative(),
    z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
  ], { error: "must be an ISO-8601 date-time or epoch milliseconds" })
  .refine((ms) => ms >= EARLIEST_AT, { message: "is before 2020-01-01" })
  .refine((ms) => ms <= Date.now() + MAX_FUTURE_MS, { message: "is more than a day in the future" });

const lat = z.number().min(-90).max(90);
const lng = z.number().min(-180).max(180);
const text = (max: number) => z.string().trim().max(max);

const base = {
  id: z.uuid({ error: "must be a UUID" }),
  at: eventTime,
};

export const locationEvent = z.object({
  ...base,
  type: z.literal("location"),
  lat,
  lng,
  accuracy: z.number().nonnegative().max(100_000).optional(),
  speed: z.number().nonnegative().max(1_000).optional(),
  heading: z.number().min(0).max(360).optional(),
  altitude: z.number().min(-1_000).max(100_000).optional(),
  battery: z.number().min(0).max(1).optional(),
});

export const knockEvent = z.object({
  ...base,
  type: z.literal("knock"),
  lat,
  lng,
  outcome: z.enum(KNOCK_OUTCOMES),
  address: text(500).optional(),
  notes: text(2_000).optional(),
});

const jsonObject = z
  .record(z.string(), z.json())
  .refine((m) => new TextEncoder().encode(JSON.stringify(m)).byteLength <= MAX_META_BYTES, {
    message: `must be at most ${MAX_META_BYTES} bytes of JSON`,
  });

export const activityEvent = z.object({
  ...base,
  type: z.literal("activity"),
  kind: text(64).min(1),
  description: text(2_000).optional(),
  contactId: text(128).optional(),
  meta: jsonObject.optional(),
});

export const leadEvent = z.object({
  ...base,
  type: z.literal("lead"),
  name: text(200).min(1, { message: "is required" }),
  phone: text(40).regex(/^[+()0-9 .\-]{3,40}$/, { message: "is not a phone number" }).optional(),
  email: z.email({ error: "is not an email address" }).max(320).optional(),
  address: text(500).optional(),
  lat: lat.optional(),
  lng: lng.optional(),
  notes: text(2_000).optional(),
  interest: z.enum(LEAD_INTEREST).optional(),
});

export const ingestEvent = z.discriminatedUnion("type", [locationEvent, knockEvent, activityEvent, leadEvent]);
export type IngestEvent = z.infer<typeof ingestEvent>;
export type LocationEvent = z.infer<typeof locationEvent>;
export type KnockEvent = z.infer<typeof knockEvent>;
export type ActivityEvent = z.infer<typeof activityEvent>;
export type LeadEvent = z.infer<typeof leadEvent>;

/** The envelope is checked loosely first so that one bad event cannot hide its valid neighbours. */
export const ingestEnvelope = z.object({
  events: z.array(z.unknown()).min(1, { message: "must hold at least one event" }).max(MAX_EVENTS_PER_BATCH, {
    message: `must hold at most ${MAX_EVENTS_PER_BATCH} events`,
  }),
});

export interface Issue {
  path: string;
  message: string;
}

export interface RejectedEvent {
  index: number;
  id?: string;
  issues: Issue[];
}

/** `events.3.lat` style paths, rooted at the request body. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

export function toIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): Issue[] {
  return error.issues.map((i) => ({ path: issuePath([...prefix, ...i.path]), message: i.message }));
}

/** Validate each event on its own: valid ones are kept, each invalid one is reported with its index and id. */
export function partitionEvents(raw: readonly unknown[]): { valid: IngestEvent[]; rejected: RejectedEvent[] } {
  const valid: IngestEvent[] = [];
  const rejected: RejectedEvent[] = [];
  raw.forEach((item, index) => {
    const parsed = ingestEvent.safeParse(item);
    if (parsed.success) {
      // The same id twice in one batch is a duplicate, not an error: the buffer counts it.
      valid.push(parsed.data);
      return;
    }
    const id = typeof item === "object" && item !== null && typeof (item as { id?: unknown }).id === "string"
      ? (item as { id: string }).id
      : undefined;
    rejected.push({ index, ...(id ? { id } : {}), issues: toIssues(parsed.error, ["events", index]) });
  });
  return { valid, rejected };
}

export interface LeadStatus {
  id: string;
  status: "stored" | "queued";
}

/** The 202 answer of POST /v1/events. */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: RejectedEvent[];
  leads: LeadStatus[];
  /** Buffered events refused under backpressure (503 only): how many, and which. */
  refused?: number;
  refusedIds?: string[];
}
