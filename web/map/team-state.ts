import { KNOCK_OUTCOMES } from "../../protocol/kinds.ts";
import {
  MARKS_MS,
  statusOf,
  TRAIL_MS,
  type KnockCounts,
  type LiveKnock,
  type LiveLead,
  type LeadDialer,
  type LivePoint,
  type LiveQueue,
  type PersonStatus,
  type Snapshot,
} from "../../protocol/live.ts";
import type { PersonView } from "./hooks.ts";

/** A trail point as the protocol sends it: [lng, lat, atMs]. */
export type TrailPoint = [number, number, number];
export type Outcome = (typeof KNOCK_OUTCOMES)[number];

/** "Person 2" before "Person 10"; case and accents do not split a team. */
const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export const STATUS_ORDER: Record<PersonStatus, number> = { live: 0, stale: 1, offline: 2 };

/** What changed since the last render, so the map touches only what moved. */
export interface Dirty {
  /** People whose dot must be redrawn, or "all" (a snapshot, a filter, a freeze). */
  people: Set<string> | "all";
  trails: boolean;
  /** Knocks: a whole reload, or ids added and removed since the last draw. */
  knocks: { all: boolean; added: Set<string>; removed: Set<string> };
  leads: boolean;
  queue: boolean;
}

const cleanDirty = (): Dirty => ({ people: new Set(), trails: false, knocks: { all: false, added: new Set(), removed: new Set() }, leads: false, queue: false });
const allDirty = (): Dirty => ({ people: "all", trails: true, knocks: { all: true, added: new Set(), removed: new Set() }, leads: true, queue: true });

/**
 * The team as the page knows it: last fix per person, 15-minute trails, the window's knocks and leads,
 * knock counts, queue figures. Fed by live frames; read by the map and the panel. Times follow the
 * server's clock, so a laptop whose clock is off does not call a live canvasser stale. While the page
 * is cut off (`frozenAt`), everyone keeps the status they had: the manager's outage is not the team's.
 */
export class TeamState {
  readonly people = new Map<string, LivePoint>();
  readonly trails = new Map<string, TrailPoint[]>();
  readonly knocks = new Map<string, LiveKnock>();
  readonly leads = new Map<string, LiveLead>();
  /** Per person and outcome over the window; the server's figures, kept true by knock/unknock frames. */
  readonly counts = new Map<string, Partial<Record<Outcome, number>>>();
  /** Knocks the window holds in all (knocks.size grows to it as older pages arrive). */
  knocksTotal = 0;
  /** Undone knocks not (yet) loaded: a later page must not bring them back. */
  private readonly undone = new Set<string>();
  private readonly pendingUndo = new Map<string, number>();
  queue: LiveQueue | null = null;
  /** Server time the queue figures were taken at: their ages keep ticking from there. */
  queueAt = 0;
  /** Server time at which the page lost the server, or null while connected. */
  frozenAt: number | null = null;
  dirty: Dirty = allDirty();
  private clockOffset = 0;
  /** Each person's status as last drawn: the tick redraws only when one crosses a threshold. */
  private readonly shownStatus = new Map<string, PersonStatus>();
  /** How many people carry each name: two "Ava Brown" are told apart by their ids. */
  private readonly nameUses = new Map<string, number>();

  now(): number {
    return Date.now() + this.clockOffset;
  }

  observeServerTime(serverTime: number): void {
    this.clockOffset = serverTime - Date.now();
  }

  takeDirty(): Dirty {
    const d = this.dirty;
    this.dirty = cleanDirty();
    return d;
  }

  private touchPerson(userId: string): void {
    if (this.dirty.people !== "all") this.dirty.people.add(userId);
  }

  /** A snapshot is the whole truth (it follows every connect): what it lacks is gone. */
  applySnapshot(s: Snapshot): void {
    this.observeServerTime(s.serverTime);
    this.frozenAt = null;
    this.people.clear();
    this.shownStatus.clear();
    for (const u of s.users) this.people.set(u.userId, u);
    this.recountNames();
    this.trails.clear();
    for (const [userId, points] of Object.entries(s.trails)) this.trails.set(userId, points.map(([lng, lat, at]): TrailPoint => [lng, lat, at]));
    this.knocks.clear();
    this.undone.clear();
    this.pendingUndo.clear();
    for (const k of s.knocks) this.knocks.set(k.id, k);
    this.knocksTotal = Math.max(s.knocksTotal, s.knocks.length);
    this.setCounts(s.knockCounts);
    this.leads.clear();
    for (const l of s.leads) this.leads.set(l.id, l);
    this.setQueue(s.queue, s.serverTime);
    this.dirty = allDirty();
  }

  private setCounts(counts: KnockCounts): void {
    this.counts.clear();
    for (const [userId, byOutcome] of Object.entries(counts)) this.counts.set(userId, { ...byOutcome });
  }

  /** The oldest knock loaded: where the next page starts (GET /v1/knocks?before=). */
  oldestKnockAt(): number | null {
    let oldest: number | null = null;
    for (const k of this.knocks.values()) if (oldest === null || k.at < oldest) oldest = k.at;
    return oldest;
  }

  /** An older page: knocks the snapshot's counts already include, so the counts stay as they are. */
  addKnockPage(knocks: readonly LiveKnock[]): void {
    for (const k of knocks) {
      if (this.knocks.has(k.id)) continue;
      if (this.undone.delete(k.id)) {
        // Now its outcome is known: take it off that count instead of the person's pending total.
        this.bump(k.userId, k.outcome, -1);
        const pending = (this.pendingUndo.get(k.userId) ?? 1) - 1;
        if (pending > 0) this.pendingUndo.set(k.userId, pending);
        else this.pendingUndo.delete(k.userId);
        continue;
      }
      this.knocks.set(k.id, k);
    }
    this.dirty.knocks.all = true;
  }

  applyPositions(points: readonly LivePoint[]): void {
    let renamed = false;
    for (const p of points) {
      const known = this.people.get(p.userId);
      if (!known || (p.name !== undefined && p.name !== known.name)) renamed = true;
      // A replayed old fix (an offline phone catching up) joins the trail but never moves anyone back.
      if (!known || p.at >= known.at) {
        this.people.set(p.userId, { ...p, name: p.name ?? known?.name });
        this.touchPerson(p.userId);
      }
      this.appendTrail(p);
    }
    if (renamed) this.recountNames();
    if (points.length > 0) this.dirty.trails = true;
  }

  private recountNames(): void {
    const before = new Map(this.nameUses);
    this.nameUses.clear();
    for (const p of this.people.values()) if (p.name) this.nameUses.set(p.name, (this.nameUses.get(p.name) ?? 0) + 1);
    // Whoever shares a name that became (or stopped being) shared gets a new label.
    for (const p of this.people.values()) {
      if (p.name && (before.get(p.name) ?? 0) > 1 !== (this.nameUses.get(p.name) ?? 0) > 1) this.touchPerson(p.userId);
    }
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

  private bump(userId: string, outcome: Outcome, by: number): void {
    const c = this.counts.get(userId) ?? {};
    c[outcome] = Math.max(0, (c[outcome] ?? 0) + by);
    this.counts.set(userId, c);
  }

  addKnock(k: LiveKnock): void {
    if (this.knocks.has(k.id) || this.undone.has(k.id)) return;
    this.knocks.set(k.id, k);
    this.knocksTotal++;
    this.bump(k.userId, k.outcome, 1);
    this.dirty.knocks.added.add(k.id);
    this.dirty.knocks.removed.delete(k.id);
  }

  /** An undone knock leaves the map and the counts, even one whose page has not arrived yet. */
  removeKnock(id: string, userId: string): void {
    const k = this.knocks.get(id);
    if (k) {
      this.knocks.delete(id);
      this.bump(k.userId, k.outcome, -1);
      this.dirty.knocks.removed.add(id);
      this.dirty.knocks.added.delete(id);
    } else {
      // Counted in the snapshot, not loaded: its outcome is learnt when its page arrives.
      this.undone.add(id);
      this.pendingUndo.set(userId, (this.pendingUndo.get(userId) ?? 0) + 1);
    }
    this.knocksTotal = Math.max(0, this.knocksTotal - 1);
  }

  addLead(l: LiveLead): void {
    this.leads.set(l.id, l);
    this.dirty.leads = true;
  }

  setLeadDialer(id: string, dialer: LeadDialer): void {
    const l = this.leads.get(id);
    if (!l) return;
    this.leads.set(id, { ...l, dialer });
    this.dirty.leads = true;
  }

  setQueue(q: LiveQueue, serverTime: number): void {
    this.queue = q;
    this.queueAt = serverTime;
    this.dirty.queue = true;
  }

  /** The page lost the server at `since` (this browser's clock): statuses stay as they were then, until a fresh snapshot. */
  freeze(since = Date.now()): void {
    if (this.frozenAt !== null) return;
    this.frozenAt = since + (this.now() - Date.now());
    this.dirty.people = "all";
  }

  /** Once a second: expire old trail points and marks, and notice who turned stale or offline. */
  tick(now = this.now()): void {
    if (this.frozenAt !== null) return;
    this.trim(now);
    for (const p of this.people.values()) {
      const status = statusOf(p.at, now);
      if (this.shownStatus.get(p.userId) !== status) {
        this.shownStatus.set(p.userId, status);
        this.touchPerson(p.userId);
      }
    }
  }

  /** Drop trail points past 15 minutes and marks past the window; cheap when nothing expired. */
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
    for (const [id, k] of this.knocks) {
      if (k.at >= marksFrom) continue;
      // Out of the window: out of the counts the server would send now, too.
      this.knocks.delete(id);
      this.bump(k.userId, k.outcome, -1);
      this.knocksTotal = Math.max(0, this.knocksTotal - 1);
      this.dirty.knocks.removed.add(id);
    }
    for (const [id, l] of this.leads) {
      if (l.at < marksFrom) {
        this.leads.delete(id);
        this.dirty.leads = true;
      }
    }
  }

  /** Status as of now, or as of the moment the page lost the server. */
  statusOf(p: LivePoint, now = this.now()): PersonStatus {
    return statusOf(p.at, this.frozenAt ?? now);
  }

  /** The name, or "Name (id)" when another person shares it, or the id when there is no name. */
  labelOf(userId: string): string {
    const name = this.people.get(userId)?.name;
    if (!name) return userId;
    return (this.nameUses.get(name) ?? 0) > 1 ? `${name} (${userId})` : name;
  }

  view(p: LivePoint, now = this.now()): PersonView {
    return { ...p, label: this.labelOf(p.userId), status: this.statusOf(p, now) };
  }

  /** People by status (live first), then by name: the order of the side panel. */
  sortedPeople(now = this.now()): PersonView[] {
    return [...this.people.values()]
      .map((p) => this.view(p, now))
      .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || byName.compare(a.label, b.label) || byName.compare(a.userId, b.userId));
  }

  statusCounts(now = this.now()): Record<PersonStatus, number> {
    const counts: Record<PersonStatus, number> = { live: 0, stale: 0, offline: 0 };
    for (const p of this.people.values()) counts[this.statusOf(p, now)]++;
    return counts;
  }

  /** A person's knocks over the window, by outcome, from the server's complete counts. */
  knockCountsOf(userId: string): Partial<Record<Outcome, number>> {
    return { ...this.counts.get(userId) };
  }

  /** A person's knocks over the window (24 h). */
  knockCount(userId: string): number {
    let n = 0;
    for (const v of Object.values(this.counts.get(userId) ?? {})) n += v;
    return Math.max(0, n - (this.pendingUndo.get(userId) ?? 0));
  }
}
