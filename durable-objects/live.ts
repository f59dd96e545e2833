import type { IngestEvent } from "../protocol/events.ts";
import {
  MARKS_MS, SNAPSHOT_KNOCKS, TRAIL_MS,
  type KnockCounts, type LeadDialer, type LiveKnock, type LiveLead, type LivePoint, type LiveQueue, type Snapshot,
} from "../protocol/live.ts";

export interface LiveDelta {
  points: LivePoint[];
  knocks: LiveKnock[];
  leads: LiveLead[];
  /** Knocks undone by their canvasser (a `knock_undo` activity naming them). */
  unknocks: { id: string; userId: string }[];
}

/** The activity the PWA sends when a canvasser undoes a knock: `meta.knockId` names it. */
export const KNOCK_UNDO = "knock_undo";

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

/** Project accepted events onto what the live map shows (pure). */
export function liveDelta(events: readonly IngestEvent[], userId: string, name: string | undefined): LiveDelta {
  const who = { userId, ...(name ? { name } : {}) };
  const delta: LiveDelta = { points: [], knocks: [], leads: [], unknocks: [] };
  for (const e of events) {
    switch (e.type) {
      case "location": {
        const { lat, lng, at, accuracy, speed, heading, battery } = e;
        delta.points.push({ ...who, lat, lng, at, ...defined({ accuracy, speed, heading, battery }) });
        break;
      }
      case "knock":
        delta.knocks.push({ ...who, id: e.id, at: e.at, outcome: e.outcome, ...defined({ lat: e.lat, lng: e.lng, accuracy: e.accuracy, address: e.address, notes: e.notes }) });
        break;
      case "lead":
        delta.leads.push({
          ...who, id: e.id, leadName: e.name, at: e.at,
          ...defined({ lat: e.lat, lng: e.lng, interest: e.interest, address: e.address, phone: e.phone, email: e.email, notes: e.notes }),
        });
        break;
      case "activity": {
        const knockId = e.kind === KNOCK_UNDO ? e.meta?.knockId : undefined;
        if (typeof knockId === "string") delta.unknocks.push({ id: knockId.toLowerCase(), userId });
        break;
      }
    }
  }
  return delta;
}

/** What one bounded Postgres read gives back when the object starts (see durable-objects/hydrate.ts). */
export interface LiveHistory {
  latest: LivePoint[];
  trails: { userId: string; lng: number; lat: number; at: number }[];
  knocks: LiveKnock[];
  leads: LiveLead[];
  undone: { id: string; userId: string }[];
}

/**
 * The live picture, in memory: last fix per person, 15-minute trails, the last 24 h of knocks and leads.
 * Nothing here is written to storage per request: it is rebuilt when the object starts from the buffer
 * (what Postgres does not hold yet) and one bounded Postgres read (what it does).
 */
export class LiveState {
  private readonly latest = new Map<string, LivePoint>();
  private readonly trails = new Map<string, [number, number, number][]>();
  private readonly knocks = new Map<string, LiveKnock>();
  /** Undone knock id → the canvasser who undid it. */
  private readonly undone = new Map<string, string>();
  private readonly leads = new Map<string, LiveLead>();
  private readonly names = new Map<string, string>();
  private namesChanged = false;

  constructor(names: Record<string, string> = {}) {
    for (const [u, n] of Object.entries(names)) this.names.set(u, n);
  }

  /** Apply a delta; returns what is new to the map (an old fix never moves anyone back). */
  apply(delta: LiveDelta, now: number): LiveDelta {
    const out: LiveDelta = { points: [], knocks: [], leads: [], unknocks: [] };
    for (const raw of [...delta.points, ...delta.knocks, ...delta.leads]) {
      if (raw.name && this.names.get(raw.userId) !== raw.name) {
        this.names.set(raw.userId, raw.name);
        this.namesChanged = true;
      }
    }
    for (const raw of delta.points) {
      const p = this.named(raw);
      if (p.at >= now - TRAIL_MS) {
        const trail = this.trails.get(p.userId) ?? [];
        trail.push([p.lng, p.lat, p.at]);
        if (trail.length > 1 && trail.at(-2)![2] > p.at) trail.sort((a, b) => a[2] - b[2]);
        this.trails.set(p.userId, trail);
      }
      const current = this.latest.get(p.userId);
      if (!current || p.at >= current.at) {
        this.latest.set(p.userId, p);
        out.points.push(p);
      }
    }
    for (const u of delta.unknocks) {
      const knock = this.knocks.get(u.id);
      // Only its own canvasser can undo a knock (an undo may also arrive before its knock).
      if (knock && knock.userId !== u.userId) continue;
      this.undone.set(u.id, u.userId);
      if (knock) {
        this.knocks.delete(u.id);
        out.unknocks.push(u);
      }
    }
    for (const k of delta.knocks) {
      if (this.undone.get(k.id) === k.userId || this.knocks.has(k.id) || k.at < now - MARKS_MS) continue;
      const named = this.named(k);
      this.knocks.set(k.id, named);
      out.knocks.push(named);
    }
    for (const l of delta.leads) {
      if (this.leads.has(l.id) || l.at < now - MARKS_MS) continue;
      const named = this.named(l);
      this.leads.set(l.id, named);
      out.leads.push(named);
    }
    return out;
  }

  /** Merge what Postgres holds (read once at start): the buffer's newer picture wins. */
  merge(history: LiveHistory, now: number): void {
    for (const u of history.undone) {
      this.undone.set(u.id, u.userId);
      if (this.knocks.get(u.id)?.userId === u.userId) this.knocks.delete(u.id);
    }
    for (const p of history.latest) {
      const current = this.latest.get(p.userId);
      const name = this.names.get(p.userId);
      if (!current || p.at > current.at) this.latest.set(p.userId, { ...p, ...(name ? { name } : {}) });
    }
    for (const t of history.trails) {
      if (t.at < now - TRAIL_MS) continue;
      const trail = this.trails.get(t.userId) ?? [];
      trail.push([t.lng, t.lat, t.at]);
      this.trails.set(t.userId, trail);
    }
    for (const trail of this.trails.values()) {
      trail.sort((a, b) => a[2] - b[2]);
      // The same fix may come from the buffer and from Postgres (a crash between COMMIT and DELETE).
      for (let i = trail.length - 1; i > 0; i--) if (trail[i]![2] === trail[i - 1]![2] && trail[i]![0] === trail[i - 1]![0]) trail.splice(i, 1);
    }
    for (const k of history.knocks) if (this.undone.get(k.id) !== k.userId && !this.knocks.has(k.id)) this.knocks.set(k.id, this.named(k));
    for (const l of history.leads) if (!this.leads.has(l.id)) this.leads.set(l.id, this.named(l));
  }

  /** Names seen since the last call (persisted with the flush, so the map keeps them across restarts). */
  takeNamesIfChanged(): Record<string, string> | null {
    if (!this.namesChanged) return null;
    this.namesChanged = false;
    return Object.fromEntries(this.names);
  }

  get people(): number {
    return this.latest.size;
  }

  snapshot(now: number, queue: LiveQueue, dialer: Map<string, LeadDialer>): Snapshot {
    this.prune(now);
    const users = [...this.latest.values()].sort((a, b) => (a.userId < b.userId ? -1 : 1));
    const trails: Snapshot["trails"] = {};
    for (const [u, t] of this.trails) if (t.length > 0) trails[u] = t;
    const knocks = [...this.knocks.values()].sort((a, b) => b.at - a.at);
    const knockCounts: KnockCounts = {};
    for (const k of knocks) {
      const c = (knockCounts[k.userId] ??= {});
      c[k.outcome] = (c[k.outcome] ?? 0) + 1;
    }
    const leads = [...this.leads.values()]
      .sort((a, b) => b.at - a.at)
      .map((l) => {
        const d = dialer.get(l.id);
        return d ? { ...l, dialer: d } : l;
      });
    return {
      type: "snapshot",
      serverTime: now,
      users,
      trails,
      knocks: knocks.slice(0, SNAPSHOT_KNOCKS),
      knocksTotal: knocks.length,
      knockCounts,
      leads,
      queue,
    };
  }

  /** A page of the window's knocks, newest first, older than `before`. */
  knocksPage(before: number, limit: number): { knocks: LiveKnock[]; next: number | null } {
    const older = [...this.knocks.values()].filter((k) => k.at < before).sort((a, b) => b.at - a.at);
    const page = older.slice(0, limit);
    return { knocks: page, next: older.length > limit ? page.at(-1)!.at : null };
  }

  hasLead(id: string): boolean {
    return this.leads.has(id);
  }

  prune(now: number): void {
    for (const [u, t] of this.trails) {
      let drop = 0;
      while (drop < t.length && t[drop]![2] < now - TRAIL_MS) drop++;
      if (drop === t.length) this.trails.delete(u);
      else if (drop > 0) t.splice(0, drop);
    }
    for (const [id, k] of this.knocks) if (k.at < now - MARKS_MS) this.knocks.delete(id);
    for (const [id, l] of this.leads) if (l.at < now - MARKS_MS) this.leads.delete(id);
    if (this.undone.size > 100_000) this.undone.clear();
  }

  private named<T extends { userId: string; name?: string }>(x: T): T {
    const name = this.names.get(x.userId);
    return name && !x.name ? { ...x, name } : x;
  }
}

/** How long to hold a positions message so at most one goes out per tick (0 = send now). */
export function coalesceDelay(lastSentAt: number, now: number, tickMs: number): number {
  return Math.max(0, lastSentAt + tickMs - now);
}
