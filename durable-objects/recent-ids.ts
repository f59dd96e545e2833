import type { EventKind } from "../protocol/kinds.ts";

/**
 * Event ids this object has seen recently (buffered or flushed), with their kind, so a resend is answered as
 * `duplicates` without a storage write and never reaches the map twice, and an id reused by an event of
 * another kind is refused rather than taken for a resend. Bounded: past `capacity` the oldest are forgotten;
 * Postgres' ON CONFLICT stays the exactly-once guarantee for anything older.
 */
export class RecentIds {
  private readonly ids = new Map<string, EventKind>();

  constructor(readonly capacity = 250_000) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** The kind of the event that holds this id, if it is remembered. */
  kindOf(id: string): EventKind | undefined {
    return this.ids.get(id);
  }

  add(id: string, kind: EventKind): void {
    if (this.ids.has(id)) return;
    this.ids.set(id, kind);
    if (this.ids.size > this.capacity) {
      // A Map iterates in insertion order: the first one is the oldest.
      const oldest = this.ids.keys().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }

  get size(): number {
    return this.ids.size;
  }
}
