import { KNOCK_OUTCOMES, POSITION_SOURCES, type KnockOutcome } from "../../protocol/events.ts";
import { DAY_KEEP_MS, HIGH, type DayRecord, type FieldDb } from "./db.ts";

/** "My day" from the phone's own `day` store: what was knocked, where, and what became of the leads. */

const isOutcome = (v: unknown): v is KnockOutcome => typeof v === "string" && (KNOCK_OUTCOMES as readonly string[]).includes(v);
const isSource = (v: unknown): v is DayRecord["positionSource"] & string => typeof v === "string" && (POSITION_SOURCES as readonly string[]).includes(v);
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const str = (v: unknown) => (typeof v === "string" && v ? v : undefined);

function strip<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** The day line of an outgoing event (the wire event as stored in the outbox); null for other kinds. */
export function dayRecordOf(event: unknown, owner: string): DayRecord | null {
  if (typeof event !== "object" || event === null) return null;
  const e = event as Record<string, unknown>;
  const id = str(e.id);
  const at = num(e.at) ?? (typeof e.at === "string" ? Date.parse(e.at) : undefined);
  if (!id || at === undefined || !Number.isFinite(at)) return null;
  const where = { lat: num(e.lat), lng: num(e.lng), accuracy: num(e.accuracy) };
  switch (e.type) {
    case "knock":
      if (!isOutcome(e.outcome)) return null;
      return strip<DayRecord>({ id, owner, kind: "knock", at, ...where, outcome: e.outcome, address: str(e.address), positionSource: isSource(e.positionSource) ? e.positionSource : undefined, status: "waiting" });
    case "lead":
      return strip<DayRecord>({ id, owner, kind: "lead", at, ...where, name: str(e.name), address: str(e.address), status: "waiting" });
    case "location":
      return strip<DayRecord>({ id, owner, kind: "fix", at, ...where, status: "waiting" });
    default:
      return null;
  }
}

export function startOfToday(now = Date.now()): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export async function dayFor(db: FieldDb, owner: string, since: number): Promise<DayRecord[]> {
  return db.getAllFromIndex("day", "byOwner", IDBKeyRange.bound([owner, since], [owner, Number.MAX_SAFE_INTEGER]));
}

export interface DaySummary {
  knocks: DayRecord[];
  leads: DayRecord[];
  trail: DayRecord[];
  counts: Record<KnockOutcome, number>;
  /** `callback` knocks of the last week with no later knock at the same typed address. */
  callbacksDue: DayRecord[];
}

/**
 * Only a typed address says two knocks were at one door: GPS alone cannot tell neighbours apart (their
 * doors are often closer than a fix's error), so a callback without an address stays due.
 */
const sameDoor = (a: DayRecord, b: DayRecord) => !!a.address && !!b.address && a.address.trim().toLowerCase() === b.address.trim().toLowerCase();

/** Pure: `week` is the last DAY_KEEP_MS of records in time order, `today` the start of today. */
export function summarizeDay(week: readonly DayRecord[], today: number): DaySummary {
  const live = week.filter((r) => r.status !== "undone" && r.status !== "rejected");
  const knocksWeek = live.filter((r) => r.kind === "knock");
  const knocks = knocksWeek.filter((r) => r.at >= today);
  const counts = Object.fromEntries(KNOCK_OUTCOMES.map((o) => [o, 0])) as Record<KnockOutcome, number>;
  for (const k of knocks) counts[k.outcome!] += 1;
  const callbacksDue = knocksWeek.filter((k, i) => k.outcome === "callback" && !knocksWeek.slice(i + 1).some((later) => sameDoor(k, later)));
  return {
    knocks,
    leads: week.filter((r) => r.kind === "lead" && r.at >= today),
    trail: live.filter((r) => r.kind === "fix" && r.at >= today),
    counts,
    callbacksDue,
  };
}

/** Forget days older than a week. */
export async function pruneDay(db: FieldDb, now = Date.now()): Promise<void> {
  const tx = db.transaction("day", "readwrite");
  let cursor = await tx.store.index("byOwner").openCursor(IDBKeyRange.bound(["", 0], [HIGH, Number.MAX_SAFE_INTEGER]));
  while (cursor) {
    if (cursor.value.at < now - DAY_KEEP_MS) await cursor.delete();
    cursor = await cursor.continue();
  }
  await tx.done;
}
