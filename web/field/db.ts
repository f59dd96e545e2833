import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import type { EventKind, Issue, KnockOutcome, LeadStatus, POSITION_SOURCES } from "../../protocol/events.ts";

/**
 * The phone's IndexedDB: the outbox (events not yet accepted by the server), the recent knocks and leads
 * shown with their ✓, the problems list, and a few values the service worker needs too (it has no
 * localStorage). Shared by the page and the service worker.
 */
export interface OutboxRecord {
  /** The event's UUIDv7: key order is creation order. */
  id: string;
  /** `team/user` of the signed-in canvasser who made it; only their token sends it. */
  owner: string;
  kind: EventKind;
  /** When it entered the outbox (epoch ms): the send policy's age counts from here. */
  createdAt: number;
  /** UTF-8 size of the event's JSON, for batch sizing. */
  bytes: number;
  /** The wire event, exactly as it will be sent. */
  event: unknown;
}

export type RecentStatus = "waiting" | "sent" | "rejected" | "undone";

export interface RecentRecord {
  id: string;
  owner: string;
  kind: "knock" | "lead";
  createdAt: number;
  title: string;
  detail?: string;
  status: RecentStatus;
  sentAt?: number;
}

/**
 * The canvasser's own days, for "My day": every knock, lead and kept fix as it was made, with its
 * delivery status. Unlike the outbox it keeps what was sent; unlike `recent` it is not cut to 100 rows.
 * Kept for DAY_KEEP_MS.
 */
export interface DayRecord {
  id: string;
  owner: string;
  kind: "knock" | "lead" | "fix";
  at: number;
  lat?: number;
  lng?: number;
  accuracy?: number;
  positionSource?: (typeof POSITION_SOURCES)[number];
  outcome?: KnockOutcome;
  address?: string;
  name?: string;
  status: RecentStatus;
  /** A lead's dialer status, as the server's answer gave it. */
  dialer?: LeadStatus["status"];
}

export const DAY_KEEP_MS = 7 * 24 * 60 * 60 * 1000;

export interface ProblemRecord {
  seq?: number;
  owner: string;
  at: number;
  message: string;
  eventId?: string;
  kind?: EventKind;
  issues?: Issue[];
}

export interface FieldSchema extends DBSchema {
  outbox: { key: string; value: OutboxRecord; indexes: { byOwnerKind: [string, string, string]; byOwner: [string, string] } };
  recent: { key: string; value: RecentRecord; indexes: { byOwner: [string, number] } };
  problems: { key: number; value: ProblemRecord; indexes: { byOwner: [string, number] } };
  meta: { key: string; value: unknown };
  day: { key: string; value: DayRecord; indexes: { byOwner: [string, number] } };
}

export type FieldDb = IDBPDatabase<FieldSchema>;

export const DB_NAME = "fieldpulse-field";

export function openFieldDb(): Promise<FieldDb> {
  return openDB<FieldSchema>(DB_NAME, 2, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) createV1(db);
      // Version 2: "My day". Older phones keep their outbox; their day starts empty.
      if (oldVersion < 2) db.createObjectStore("day", { keyPath: "id" }).createIndex("byOwner", ["owner", "at"]);
    },
  });
}

function createV1(db: IDBPDatabase<FieldSchema>): void {
  const outbox = db.createObjectStore("outbox", { keyPath: "id" });
  outbox.createIndex("byOwnerKind", ["owner", "kind", "id"]);
  outbox.createIndex("byOwner", ["owner", "id"]);
  db.createObjectStore("recent", { keyPath: "id" }).createIndex("byOwner", ["owner", "createdAt"]);
  db.createObjectStore("problems", { keyPath: "seq", autoIncrement: true }).createIndex("byOwner", ["owner", "at"]);
  db.createObjectStore("meta");
}

/** Keys of `meta`. */
export const META = {
  /** The signed-in token, for the service worker's background drain. */
  token: "token",
  notBefore: (owner: string) => `notBefore:${owner}`,
  lastSendAt: (owner: string) => `lastSendAt:${owner}`,
  /** Set when the server answered 401/403 for this owner: sending stops until they sign in again. */
  authRefused: (owner: string) => `authRefused:${owner}`,
} as const;

export async function getMetaNumber(db: FieldDb, key: string): Promise<number | null> {
  const v = await db.get("meta", key);
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Upper bound of an index range over string keys (every id is plain ASCII). */
export const HIGH = "\uffff";
