import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createUuidV7, uuidv7, uuidv7Time } from "../../protocol/uuidv7.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("uuidv7", () => {
  it("is a version 7, RFC 9562 variant UUID the protocol accepts", () => {
    const id = uuidv7();
    expect(id).toMatch(V7);
    expect(z.uuid().safeParse(id).success).toBe(true);
  });

  it("carries its creation time", () => {
    const before = Date.now();
    const id = uuidv7();
    expect(uuidv7Time(id)).toBeGreaterThanOrEqual(before);
    expect(uuidv7Time(id)).toBeLessThanOrEqual(Date.now());
    expect(uuidv7Time(createUuidV7(() => 1_800_000_000_123)())).toBe(1_800_000_000_123);
  });

  it("sorts in creation order, within a millisecond too", () => {
    const next = createUuidV7(() => 1_800_000_000_000);
    const ids = Array.from({ length: 5_000 }, () => next());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(V7);
  });

  it("stays ordered when the clock steps back", () => {
    const times = [1_800_000_000_500, 1_800_000_000_100, 1_800_000_000_100, 1_800_000_000_900];
    let i = 0;
    const next = createUuidV7(() => times[Math.min(i++, times.length - 1)]!);
    const ids = times.map(() => next());
    expect([...ids].sort()).toEqual(ids);
  });

  it("is ordered across a real run of ids", () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect([...ids].sort()).toEqual(ids);
  });

  it("spends random bits: two generators at the same instant do not collide", () => {
    const a = createUuidV7(() => 1_800_000_000_000);
    const b = createUuidV7(() => 1_800_000_000_000);
    expect(a()).not.toBe(b());
  });
});

describe("uuidv7At", () => {
  it("embeds the given time, even when times go backwards, and never repeats", async () => {
    const { uuidv7At } = await import("../../protocol/uuidv7.ts");
    const times = [1_800_000_000_000, 1_700_000_000_000, 1_800_000_000_000];
    const ids = times.map((t) => uuidv7At(t));
    expect(ids.map(uuidv7Time)).toEqual(times);
    expect(new Set(ids).size).toBe(3);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
