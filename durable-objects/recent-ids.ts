/**
 * Event ids this object has seen recently (buffered or flushed), so a resend is answered as `duplicates`
 * without a storage write and never reaches the map twice. Bounded: past `capacity` the oldest are
 * forgotten; Postgres' ON CONFLICT stays the exactly-once guarantee for anything older.
 */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(readonly capacity = 250_000) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      // A Set iterates in insertion order: the first one is the oldest.
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }

  get size(): number {
    return this.ids.size;
  }
}
