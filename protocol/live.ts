import { z } from "zod";
import { KNOCK_OUTCOMES, LEAD_INTEREST } from "./events.ts";
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
  name: z.string().optional(),
  lat: z.number(),
  lng: z.number(),
  /** Device time of the fix, epoch ms. */
  at: z.number(),
  accuracy: z.number().optional(),
  speed: z.number().optional(),
  heading: z.number().optional(),
  battery: z.number().optional(),
});
export type LivePoint = z.infer<typeof livePoint>;

export const liveKnock = z.object({
  id: z.string(),
  userId: z.string(),
  name: z.string().optional(),
  lat: z.number(),
  lng: z.number(),
  at: z.number(),
  outcome: z.enum(KNOCK_OUTCOMES),
  address: z.string().optional(),
});
export type LiveKnock = z.infer<typeof liveKnock>;

export const liveLead = z.object({
  id: z.string(),
  userId: z.string(),
  name: z.string().optional(),
  leadName: z.string(),
  lat: z.number().optional(),
  lng: z.number().optional(),
  at: z.number(),
  interest: z.enum(LEAD_INTEREST).optional(),
  address: z.string().optional(),
});
export type LiveLead = z.infer<typeof liveLead>;

/** What the queue panel needs of a team's figures. */
export const liveQueue = queueFigures.pick({
  depth: true,
  oldestAgeMs: true,
  lastFlushAt: true,
  lastFlushRows: true,
  consecutiveFailures: true,
  lastError: true,
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
  knocks: z.array(liveKnock),
  leads: z.array(liveLead),
  queue: liveQueue,
});
export type Snapshot = z.infer<typeof snapshotMessage>;

export const liveMessage = z.discriminatedUnion("type", [
  snapshotMessage,
  z.object({ type: z.literal("positions"), serverTime: z.number(), points: z.array(livePoint) }),
  z.object({ type: z.literal("knock"), serverTime: z.number(), knock: liveKnock }),
  z.object({ type: z.literal("lead"), serverTime: z.number(), lead: liveLead }),
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
