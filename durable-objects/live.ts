import type { IngestEvent } from "../protocol/events.ts";
import { liveKnock, liveLead, TRAIL_MS, type LiveKnock, type LiveLead, type LivePoint, type LiveQueue, type Snapshot } from "../protocol/live.ts";

export const LIVE_SCHEMA = `
CREATE TABLE IF NOT EXISTS latest (
  user_id TEXT PRIMARY KEY, name TEXT, lat REAL NOT NULL, lng REAL NOT NULL, at INTEGER NOT NULL,
  accuracy REAL, speed REAL, heading REAL, battery REAL
);
CREATE TABLE IF NOT EXISTS recent (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, lat REAL NOT NULL, lng REAL NOT NULL, at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS recent_at ON recent (at);
CREATE TABLE IF NOT EXISTS marks (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS marks_at ON marks (at);
`;

/** Knocks and leads shown on a fresh map: the last 12 hours, at most this many of each. */
const MARKS_MS = 12 * 3_600_000;
const MARKS_MAX = 2_000;

export interface LiveDelta {
  points: LivePoint[];
  knocks: LiveKnock[];
  leads: LiveLead[];
}

/** Project accepted events onto what the live map shows (pure). */
export function liveDelta(events: readonly IngestEvent[], userId: string, name: string | undefined): LiveDelta {
  const who = { userId, ...(name ? { name } : {}) };
  const delta: LiveDelta = { points: [], knocks: [], leads: [] };
  for (const e of events) {
    switch (e.type) {
      case "location": {
        const { lat, lng, at, accuracy, speed, heading, battery } = e;
        delta.points.push({ ...who, lat, lng, at, ...defined({ accuracy, speed, heading, battery }) });
        break;
      }
      case "knock":
        delta.knocks.push({ ...who, id: e.id, lat: e.lat, lng: e.lng, at: e.at, outcome: e.outcome, ...defined({ address: e.address }) });
        break;
      case "lead":
        delta.leads.push({ ...who, id: e.id, leadName: e.name, at: e.at, ...defined({ lat: e.lat, lng: e.lng, interest: e.interest, address: e.address }) });
        break;
      case "activity":
        break;
    }
  }
  return delta;
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The TeamHub's live picture over its SQLite: last fix per person, 15-minute trails, recent marks. */
export class LiveState {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(LIVE_SCHEMA);
  }

  /** Record a delta (inside the ingest's storage transaction). One statement per table. */
  record(delta: LiveDelta): void {
    if (delta.points.length > 0) {
      const points = JSON.stringify(delta.points);
      this.sql.exec("INSERT INTO recent (user_id, lat, lng, at) SELECT json_extract(value, '$.userId'), json_extract(value, '$.lat'), json_extract(value, '$.lng'), json_extract(value, '$.at') FROM json_each(?)", points);
      // The newest fix per person wins; a replayed old fix (an offline queue) never moves anyone back.
      this.sql.exec(
        `INSERT INTO latest (user_id, name, lat, lng, at, accuracy, speed, heading, battery)
         SELECT json_extract(value, '$.userId'), json_extract(value, '$.name'), json_extract(value, '$.lat'), json_extract(value, '$.lng'),
                json_extract(value, '$.at'), json_extract(value, '$.accuracy'), json_extract(value, '$.speed'), json_extract(value, '$.heading'),
                json_extract(value, '$.battery')
         FROM json_each(?) WHERE true ORDER BY json_extract(value, '$.at')
         ON CONFLICT (user_id) DO UPDATE SET name = coalesce(excluded.name, latest.name), lat = excluded.lat, lng = excluded.lng, at = excluded.at,
           accuracy = excluded.accuracy, speed = excluded.speed, heading = excluded.heading, battery = excluded.battery
         WHERE excluded.at >= latest.at`,
        points,
      );
    }
    const marks = [...delta.knocks.map((k) => ({ id: k.id, kind: "knock", at: k.at, body: k })), ...delta.leads.map((l) => ({ id: l.id, kind: "lead", at: l.at, body: l }))];
    if (marks.length > 0) {
      this.sql.exec(
        "INSERT OR IGNORE INTO marks (id, kind, at, body) SELECT json_extract(value, '$.id'), json_extract(value, '$.kind'), json_extract(value, '$.at'), json_extract(value, '$.body') FROM json_each(?)",
        JSON.stringify(marks),
      );
    }
  }

  snapshot(now: number, queue: LiveQueue): Snapshot {
    const users = this.sql
      .exec<{ user_id: string; name: string | null; lat: number; lng: number; at: number; accuracy: number | null; speed: number | null; heading: number | null; battery: number | null }>(
        "SELECT * FROM latest ORDER BY user_id",
      )
      .toArray()
      .map((r): LivePoint => ({
        userId: r.user_id,
        lat: r.lat,
        lng: r.lng,
        at: r.at,
        ...defined({ name: r.name ?? undefined, accuracy: r.accuracy ?? undefined, speed: r.speed ?? undefined, heading: r.heading ?? undefined, battery: r.battery ?? undefined }),
      }));
    const trails: Snapshot["trails"] = {};
    for (const r of this.sql.exec<{ user_id: string; lat: number; lng: number; at: number }>(
      "SELECT user_id, lat, lng, at FROM recent WHERE at >= ? ORDER BY user_id, at", now - TRAIL_MS,
    )) {
      (trails[r.user_id] ??= []).push([r.lng, r.lat, r.at]);
    }
    const marksOf = (kind: string) =>
      this.sql
        .exec<{ body: string }>("SELECT body FROM marks WHERE kind = ? AND at >= ? ORDER BY at DESC LIMIT ?", kind, now - MARKS_MS, MARKS_MAX)
        .toArray()
        .map((r) => JSON.parse(r.body));
    return {
      type: "snapshot",
      serverTime: now,
      users,
      trails,
      knocks: marksOf("knock").map((k) => liveKnock.parse(k)),
      leads: marksOf("lead").map((l) => liveLead.parse(l)),
      queue,
    };
  }

  prune(now: number): void {
    this.sql.exec("DELETE FROM recent WHERE at < ?", now - TRAIL_MS);
    this.sql.exec("DELETE FROM marks WHERE at < ?", now - MARKS_MS);
  }
}

/** How long to hold a positions message so at most one goes out per tick (0 = send now). */
export function coalesceDelay(lastSentAt: number, now: number, tickMs: number): number {
  return Math.max(0, lastSentAt + tickMs - now);
}
