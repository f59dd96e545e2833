import { KNOCK_OUTCOMES } from "../../protocol/kinds.ts";
import { MARKS_MS, type PersonStatus } from "../../protocol/live.ts";
import type { Outcome } from "./team-state.ts";

/** What the manager chose to see. Offline people are hidden by default: a day's leavers are not the team. */
export interface Filters {
  statuses: Set<PersonStatus>;
  outcomes: Set<Outcome>;
  /** Knocks and leads newer than this much (ms); MARKS_MS is the whole window. */
  windowMs: number;
}

export const WINDOWS: { ms: number; label: string }[] = [
  { ms: MARKS_MS, label: "Last 24 hours" },
  { ms: 4 * 3_600_000, label: "Last 4 hours" },
  { ms: 3_600_000, label: "Last hour" },
];

export function defaultFilters(): Filters {
  return { statuses: new Set(["live", "stale"]), outcomes: new Set(KNOCK_OUTCOMES), windowMs: MARKS_MS };
}

/** The filters as a plain object (the page's hooks, data- attributes). */
export function describeFilters(f: Filters): { statuses: PersonStatus[]; outcomes: Outcome[]; windowMs: number } {
  return { statuses: [...f.statuses], outcomes: [...f.outcomes], windowMs: f.windowMs };
}

export const isStatus = (v: string): v is PersonStatus => v === "live" || v === "stale" || v === "offline";
export const isOutcome = (v: string): v is Outcome => (KNOCK_OUTCOMES as readonly string[]).includes(v);
