/** Pure parts of the field PWA's issue-14 work: where a knock goes without GPS, and "My day". */
import { describe, expect, it } from "vitest";
import type { DayRecord } from "../../web/field/db.ts";
import { dayRecordOf, summarizeDay } from "../../web/field/day.ts";
import { agedAccuracy, LAST_KNOWN_MAX_AGE_MS, placeWithoutFix, WALK_M_PER_S } from "../../web/field/position.ts";

describe("placeWithoutFix", () => {
  const now = 1_800_000_000_000;
  const fix = { lat: 52.5, lng: 13.4, at: now - 120_000, accuracy: 8 };

  it("prefers the typed address, with no coordinates", () => {
    expect(placeWithoutFix(" 12 Elm St ", fix, now)).toEqual({ source: "address" });
  });

  it("falls back to the last known fix, its accuracy grown by a walk since", () => {
    expect(placeWithoutFix("", fix, now)).toEqual({ source: "last_known", lat: 52.5, lng: 13.4, accuracy: 8 + 120 * WALK_M_PER_S, fixAt: fix.at });
    expect(agedAccuracy({ at: now - 10 * 3_600_000 }, now)).toBe(50 + 36_000 * WALK_M_PER_S);
    expect(agedAccuracy({ at: 0, accuracy: 5 }, now)).toBe(100_000);
  });

  it("asks for an address when there is no fix, or only a stale one", () => {
    expect(placeWithoutFix("", null, now)).toBeNull();
    expect(placeWithoutFix("  ", { ...fix, at: now - LAST_KNOWN_MAX_AGE_MS - 1 }, now)).toBeNull();
  });
});

describe("My day", () => {
  const owner = "t1/u1";
  const today = Date.UTC(2026, 11, 6);
  let n = 0;
  const knock = (at: number, outcome: string, extra: Record<string, unknown> = {}) =>
    dayRecordOf({ id: `k${n++}`, type: "knock", at, outcome, lat: 1, lng: 2, ...extra }, owner)!;

  it("records knocks, leads and fixes from wire events, and nothing else", () => {
    expect(knock(today, "callback", { address: "1 A St", positionSource: "address", lat: undefined, lng: undefined })).toEqual({
      id: expect.any(String), owner, kind: "knock", at: today, outcome: "callback", address: "1 A St", positionSource: "address", status: "waiting",
    });
    expect(dayRecordOf({ id: "l", type: "lead", at: today, name: "Ada" }, owner)).toMatchObject({ kind: "lead", name: "Ada" });
    expect(dayRecordOf({ id: "f", type: "location", at: today, lat: 1, lng: 2 }, owner)).toMatchObject({ kind: "fix", lat: 1 });
    expect(dayRecordOf({ id: "a", type: "activity", at: today, kind: "shift_start" }, owner)).toBeNull();
    expect(dayRecordOf({ id: "k", type: "knock", at: today, outcome: "maybe" }, owner)).toBeNull();
  });

  it("counts today's live knocks per outcome and keeps callbacks due until the door is knocked again", () => {
    const week: DayRecord[] = [
      knock(today - 86_400_000, "callback", { address: "1 A St" }),
      knock(today - 86_400_000, "callback", { address: "9 Z St" }),
      knock(today + 1_000, "interested"),
      { ...knock(today + 2_000, "other"), status: "undone" },
      knock(today + 3_000, "no_answer", { address: "1 a st " }),
      knock(today + 4_000, "callback"),
    ];
    const s = summarizeDay(week, today);
    expect(s.knocks.map((k) => k.outcome)).toEqual(["interested", "no_answer", "callback"]);
    expect(s.counts).toMatchObject({ interested: 1, no_answer: 1, callback: 1, other: 0 });
    // "1 A St" was knocked again today; "9 Z St" and today's callback without an address are still due.
    expect(s.callbacksDue.map((k) => k.address ?? "(no address)")).toEqual(["9 Z St", "(no address)"]);
  });
});
