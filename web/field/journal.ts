import { HIGH, type FieldDb, type ProblemRecord, type RecentRecord } from "./db.ts";

/** What the canvasser sees of their own history: recent knocks and leads, and the problems list. */

const ownerRange = (owner: string) => IDBKeyRange.bound([owner, 0], [owner, Number.MAX_SAFE_INTEGER]);

export async function recentFor(db: FieldDb, owner: string, limit = 20): Promise<RecentRecord[]> {
  const out: RecentRecord[] = [];
  let cursor = await db.transaction("recent").store.index("byOwner").openCursor(ownerRange(owner), "prev");
  while (cursor && out.length < limit) {
    out.push(cursor.value);
    cursor = await cursor.continue();
  }
  return out;
}

export async function problemsFor(db: FieldDb, owner: string, limit = 20): Promise<ProblemRecord[]> {
  const out: ProblemRecord[] = [];
  let cursor = await db.transaction("problems").store.index("byOwner").openCursor(ownerRange(owner), "prev");
  while (cursor && out.length < limit) {
    out.push(cursor.value);
    cursor = await cursor.continue();
  }
  return out;
}

/** Keep the journal small: the newest `keep` of each list per owner. The outbox is never pruned. */
export async function pruneJournal(db: FieldDb, keep = 100): Promise<void> {
  for (const store of ["recent", "problems"] as const) {
    const tx = db.transaction(store, "readwrite");
    const seen = new Map<string, number>();
    let cursor = await tx.store.index("byOwner").openCursor(IDBKeyRange.bound(["", 0], [HIGH, Number.MAX_SAFE_INTEGER]), "prev");
    while (cursor) {
      const n = (seen.get(cursor.value.owner) ?? 0) + 1;
      seen.set(cursor.value.owner, n);
      if (n > keep) await cursor.delete();
      cursor = await cursor.continue();
    }
    await tx.done;
  }
}

export async function markRecent(db: FieldDb, id: string, status: RecentRecord["status"]): Promise<void> {
  const tx = db.transaction(["recent", "day"], "readwrite");
  const r = await tx.objectStore("recent").get(id);
  if (r) await tx.objectStore("recent").put({ ...r, status });
  const d = await tx.objectStore("day").get(id);
  if (d) await tx.objectStore("day").put({ ...d, status });
  await tx.done;
}
