import { describe, expect, it } from "vitest";
import { bulkInsert } from "../../db/bulk.ts";
import { ingestEvent, partitionEvents } from "../../protocol/ingest.ts";

const id = "0190f5e4-8a3b-7c2d-9e1f-123456789abc";

describe("ingest events", () => {
  it("normalises `at` to epoch ms from ISO or ms", () => {
    const iso = ingestEvent.parse({ id, type: "location", at: "2026-11-28T10:00:00+01:00", lat: 1, lng: 2 });
    expect(iso.at).toBe(Date.UTC(2026, 10, 28, 9));
    expect(ingestEvent.parse({ id, type: "location", at: 1_790_000_000_000, lat: 1, lng: 2 }).at).toBe(1_790_000_000_000);
  });

  it("partitions a batch and reports paths rooted at the body", () => {
    const { valid, rejected } = partitionEvents([
      { id, type: "knock", at: Date.now(), lat: 1, lng: 2, outcome: "interested" },
      { id: "x", type: "knock", at: Date.now(), lat: 91, lng: 2, outcome: "interested" },
      "nonsense",
    ]);
    expect(valid).toHaveLength(1);
    expect(rejected.map((r) => ({ index: r.index, id: r.id, paths: r.issues.map((i) => i.path) }))).toEqual([
      { index: 1, id: "x", paths: ["events.1.id", "events.1.lat"] },
      { index: 2, id: undefined, paths: ["events.2"] },
    ]);
  });
});

describe("bulkInsert", () => {
  it("binds one array per column whatever the row count", () => {
    const rows = Array.from({ length: 3 }, (_, i) => ({
      teamId: "t",
      userId: "u",
      receivedAt: 0,
      event: ingestEvent.parse({ id, type: "activity", at: 1_790_000_000_000 + i, kind: "k", meta: i === 1 ? { a: 1 } : undefined }),
    }));
    const { text, values } = bulkInsert("activity", rows);
    expect(text).toMatch(/^INSERT INTO "activities" \(.*\) SELECT .* FROM unnest\(\$1::uuid\[\], .*\$9::text\[\]\) .*ON CONFLICT \("team_id", "id"\) DO NOTHING$/);
    expect(values).toHaveLength(9);
    // A binary array per varying column (id, at, meta); a column the same in every row goes once, as a scalar
    // (round trips of the encodings against Postgres: test/node/bulk-literals.test.ts).
    expect(values.map((v) => (v instanceof Uint8Array ? "array" : v))).toEqual(["array", "t", "u", "array", 0, "k", null, null, "array"]);
  });
});

describe("readClaims", () => {
  it("reads a token's claims, and says why it cannot", async () => {
    const { signToken } = await import("../../protocol/auth.ts");
    const { readClaims } = await import("../../protocol/claims.ts");
    const token = await signToken({ team: "t1", sub: "u1", role: "manager", name: "Mo" }, "secret");
    expect(readClaims(token)).toMatchObject({ ok: true, claims: { team: "t1", sub: "u1", role: "manager", name: "Mo" } });
    expect(readClaims("nope")).toEqual({ ok: false, reason: "malformed" });
    expect(readClaims("a.%%%.c")).toEqual({ ok: false, reason: "unreadable" });
    expect(readClaims(`a.${Buffer.from('{"sub":"u"}').toString("base64url")}.c`)).toEqual({ ok: false, reason: "claims" });
    expect(readClaims(token, Date.now() + 13 * 3600_000)).toMatchObject({ ok: false, reason: "expired" });
  });
});
