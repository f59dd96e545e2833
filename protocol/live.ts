import { z } from "zod/mini";
import { KNOCK_OUTCOMES, LEAD_INTEREST } from "./kinds.ts";
import { queueFigures } from "./metrics.ts";

/** The subprotocol a live-map client asks for (and the server echoes), next to `bearer.<token>`. */
export const LIVE_PROTOCOL = "fieldpulse.v1";

/** Status from the age of a person's last fix (Traccar calls "offline" unknown after 10 min). */
export const LIVE_MS = 60_000;
export const STALE_MS = 10 * 60_000;
export const TRAIL_MS = 15 * 60_000;
export type PersonStatus = "live" | "stale" | "offline";
export function statusOf(lastFixAt: number, now: number): PersonStatus {
  const age = now - lastFixAt;
  return age < LIVE_MS ? "live" : age < STALE_MS ? "stale" : "offline";
}

export const livePoint = z.object({
  userId: z.string(),
  name: z.optional(z.string()),
  lat: z.number(),
  lng: z.number(),
  /** Device time of the fix, epoch ms. */
  at: z.number(),
  accuracy: z.optional(z.number()),
  speed: z.optional(z.number()),
  heading: z.optional(z.number()),
  battery: z.optional(z.number()),
});
export type LivePoint = z.infer<typeof livePoint>;

/** Where a lead's webhook delivery stands (`retrying`: failed at least once, will be tried again). */
export const DIALER_STATES = ["pending", "retrying", "delivered", "stopped", "dead", "off"] as const;
export const leadDialer = z.object({
  status: z.enum(DIALER_STATES),
  attempts: z.number(),
  /** A short error class, never raw text ("timeout", "HTTP 500"). */
  lastError: z.optional(z.string()),
  deliveredAt: z.optional(z.number()),
});
export type LeadDialer = z.infer<typeof leadDialer>;

/** Knocks and leads a fresh map gets: the last 24 hours (a manager's "today", whatever the time zone). */
export const MARKS_MS = 24 * 3_600_000;

export const liveKnock = z.object({
  id: z.string(),
  userId: z.string(),
  name: z.optional(z.string()),
  /** Absent when the canvasser knocked without a position (an address only). */
  lat: z.optional(z.number()),
  lng: z.optional(z.number()),
  accuracy: z.optional(z.number()),
  at: z.number(),
  outcome: z.enum(KNOCK_OUTCOMES),
  address: z.optional(z.string()),
  notes: z.optional(z.string()),
});
export type LiveKnock = z.infer<typeof liveKnock>;

export const liveLead = z.object({
  id: z.string(),
  userId: z.string(),
  name: z.optional(z.string()),
  leadName: z.string(),
  lat: z.optional(z.number()),
  lng: z.optional(z.number()),
  at: z.number(),
  interest: z.optional(z.enum(LEAD_INTEREST)),
  address: z.optional(z.string()),
  phone: z.optional(z.string()),
  email: z.optional(z.string()),
  notes: z.optional(z.string()),
  dialer: z.optional(leadDialer),
});
export type LiveLead = z.infer<typeof liveLead>;


/** Knocks per person and outcome over the marks window: always complete, even when the knocks come in pages. */
export const knockCounts = z.record(z.string(), z.partialRecord(z.enum(KNOCK_OUTCOMES), z.number()));
export type KnockCounts = z.infer<typeof knockCounts>;

/** What the queue panel needs of a team's figures. */
export const liveQueue = z.pick(queueFigures, {
  depth: true,
  oldestAgeMs: true,
  lastFlushAt: true,
  lastFlushRows: true,
  consecutiveFailures: true,
  lastError: true,
  quarantinedTotal: true,
  dialer: true,
});
export type LiveQueue = z.infer<typeof liveQueue>;

/** [lng, lat, atMs]: GeoJSON order, so a trail is a LineString's coordinates as they are. */
export const trailPoint = z.tuple([z.number(), z.number(), z.number()]);

export const snapshotMessage = z.object({
  type: z.literal("snapshot"),
  serverTime: z.number(),
  users: z.array(livePoint),
  trails: z.record(z.string(), z.array(trailPoint)),
  /** The newest knocks of the window, at most SNAPSHOT_KNOCKS; older ones: GET /v1/knocks?before=<at>. */
  knocks: z.array(liveKnock),
  /** How many knocks the window holds in all (knocks.length < knocksTotal: fetch the rest in pages). */
  knocksTotal: z.number(),
  knockCounts,
  /** Every lead of the window, positioned or not. */
  leads: z.array(liveLead),
  queue: liveQueue,
});
export type Snapshot = z.infer<typeof snapshotMessage>;
/** Knocks in a snapshot; the page fetches older ones with GET /v1/knocks. */
export const SNAPSHOT_KNOCKS = 5_000;
/** GET /v1/knocks?before=<epoch ms>&limit=<n ≤ 5000>: a page of the window's knocks, newest first. */
export const knocksPage = z.object({ knocks: z.array(liveKnock), next: z.nullable(z.number()) });
export type KnocksPage = z.infer<typeof knocksPage>;

export const liveMessage = z.discriminatedUnion("type", [
  snapshotMessage,
  z.object({ type: z.literal("positions"), serverTime: z.number(), points: z.array(livePoint) }),
  z.object({ type: z.literal("knock"), serverTime: z.number(), knock: liveKnock }),
  z.object({ type: z.literal("lead"), serverTime: z.number(), lead: liveLead }),
  /** A knock the canvasser undid (their `knock_undo` activity): remove it everywhere. */
  z.object({ type: z.literal("unknock"), serverTime: z.number(), id: z.string(), userId: z.string() }),
  /** A lead's dialer delivery moved on (delivered, retrying, dead…). */
  z.object({ type: z.literal("lead_dialer"), serverTime: z.number(), id: z.string(), dialer: leadDialer }),
  z.object({ type: z.literal("queue"), serverTime: z.number(), queue: liveQueue }),
  z.object({ type: z.literal("pong") }),
  z.object({ type: z.literal("error"), code: z.string(), message: z.string() }),
]);
export type LiveMessage = z.infer<typeof liveMessage>;

export const clientMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ping") }),
  /** Ask for a fresh snapshot (after the page was hidden for a while). */
  z.object({ type: z.literal("resync") }),
]);
export type ClientMessage = z.infer<typeof clientMessage>;

/** The auto-response pair: a ping is answered without waking a hibernated object. */
export const PING = JSON.stringify({ type: "ping" });
export const PONG = JSON.stringify({ type: "pong" });
