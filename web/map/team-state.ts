import { statusOf, TRAIL_MS, type LiveKnock, type LiveLead, type LivePoint, type LiveQueue, type PersonStatus, type Snapshot } from "../../protocol/live.ts";
import { startOfDay } from "./format.ts";
import type { PersonView } from "./hooks.ts";

/** A trail point as the protocol sends it: [lng, lat, atMs]. */
export type TrailPoint = [number, number, number];

/** Knocks and leads older than this leave the map (the server's snapshot holds the last 12 hours). */
export const MARKS_MS = 12 * 3_600_000;

/** "Person 2" before "Person 10"; case and accents do not split a team. */
const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export const STATUS_ORDER: Record<PersonStatus, number> = { live: 0, stale: 1, offline: 2 };

/** What changed since the last render, so the map re-sets only the sources that moved. */
export interface Dirty {
  people: boolean;
  trails: boolean;
  marks: boolean;
  queue: boolean;
}

/**
 * The team as the page knows it: last fix per person, 15-minute trails, recent knocks and leads, queue
 * figures. Fed by live frames; read by the map and the panel. Times follow the server's clock, so a
 * laptop whose clock is off does not call a live canvasser stale.
 */
export class TeamState {
  readonly people = new Map<string, LivePoint>();
  readonly trails = new Map<string, TrailPoint[]>();
  readonly knocks = new Map<string, LiveKnock>();
  readonly leads = new Map<string, LiveLead>();
  queue: LiveQueue | null = null;
  /** Server time the queue figures were taken at: their ages keep ticking from there. */
  queueAt = 0;
  dirty: Dirty = { people: true, trails: true, marks: true, queue: true };
  private clockOffset = 0;
  /** Each person's status as last drawn: the tick redraws only when one crosses a threshold. */
  private readonly shownStatus = new Map<string, PersonStatus>();

  now(): number {
    return Date.now() + this.clockOffset;
  }

  observeServerTime(serverTime: number): void {
    this.clockOffset = serverTime - Date.now();
  }

  takeDirty(): Dirty {
    const d = this.dirty;
    this.dirty = { people: false, trails: false, marks: false, queue: false };
    return d;
  }

  private markAll(): void {
    this.dirty = { people: true, trails: true, marks: true, queue: true };
  }

  /** A snapshot is the whole truth (it follows every connect): what it lacks is gone. */
  applySnapshot(s: Snapshot): void {
    this.observeServerTime(s.serverTime);
    this.people.clear();
    this.shownStatus.clear();
    for (const u of s.users) this.people.set(u.userId, u);
    this.trails.clear();
    for (const [userId, points] of Object.entries(s.trails)) this.trails.set(userId, points.map(([lng, lat, at]): TrailPoint => [lng, lat, at]));
    this.knocks.clear();
    for (const k of s.knocks) this.knocks.set(k.id, k);
    this.leads.clear();
    for (const l of s.leads) this.leads.set(l.id, l);
    this.setQueue(s.queue, s.serverTime);
    this.markAll();
  }

  applyPositions(points: readonly LivePoint[]): void {
    for (const p of points) {
      const known = this.people.get(p.userId);
      // A replayed old fix (an offline phone catching up) joins the trail but never moves anyone back.
      if (!known || p.at >= known.at) this.people.set(p.userId, { ...p, name: p.name ?? known?.name });
      this.appendTrail(p);
    }
    if (points.length > 0) this.dirty.people = this.dirty.trails = true;
  }

  private appendTrail(p: LivePoint): void {
    if (p.at < this.now() - TRAIL_MS) return;
    const trail = this.trails.get(p.userId) ?? [];
    const point: TrailPoint = [p.lng, p.lat, p.at];
    // Fixes nearly always arrive in order; a late one is put in its place.
    let i = trail.length;
    while (i > 0 && trail[i - 1]![2] > p.at) i--;
    trail.splice(i, 0, point);
    this.trails.set(p.userId, trail);
  }

  addKnock(k: LiveKnock): void {
    this.knocks.set(k.id, k);
    this.dirty.marks = true;
  }

  addLead(l: LiveLead): void {
    this.leads.set(l.id, l);
    this.dirty.marks = true;
  }

  setQueue(q: LiveQueue, serverTime: number): void {
    this.queue = q;
    this.queueAt = serverTime;
    this.dirty.queue = true;
  }

  /** Once a second: expire old trail points and marks, and notice who turned stale or offline. */
  tick(now = this.now()): void {
    this.trim(now);
    for (const p of this.people.values()) {
      const status = statusOf(p.at, now);
      if (this.shownStatus.get(p.userId) !== status) {
        this.shownStatus.set(p.userId, status);
        this.dirty.people = true;
      }
    }
  }

  /** Drop trail points past 15 minutes and marks past 12 hours; cheap when nothing expired. */
  trim(now = this.now()): void {
    const trailFrom = now - TRAIL_MS;
    for (const [userId, trail] of this.trails) {
      if (trail.length === 0 || trail[0]![2] >= trailFrom) continue;
      const keep = trail.findIndex((p) => p[2] >= trailFrom);
      if (keep === -1) this.trails.delete(userId);
      else trail.splice(0, keep);
      this.dirty.trails = true;
    }
    const marksFrom = now - MARKS_MS;
    for (const marks of [this.knocks, this.leads]) {
      for (const [id, m] of marks) {
        if (m.at < marksFrom) {
          marks.delete(id);
          this.dirty.marks = true;
        }
      }
    }
  }

  view(p: LivePoint, now = this.now()): PersonView {
    return { ...p, label: p.name ?? p.userId, status: statusOf(p.at, now) };
  }

  /** People by status (live first), then by name: the order of the side panel. */
  sortedPeople(now = this.now()): PersonView[] {
    return [...this.people.values()]
      .map((p) => this.view(p, now))
      .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || byName.compare(a.label, b.label) || byName.compare(a.userId, b.userId));
  }

  counts(now = this.now()): Record<PersonStatus, number> {
    const counts: Record<PersonStatus, number> = { live: 0, stale: 0, offline: 0 };
    for (const p of this.people.values()) counts[statusOf(p.at, now)]++;
    return counts;
  }

  knocksToday(userId: string, now = this.now()): number {
    const from = startOfDay(now);
    let n = 0;
    for (const k of this.knocks.values()) if (k.userId === userId && k.at >= from) n++;
    return n;
  }
}
