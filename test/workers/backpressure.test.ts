import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TeamHub } from "../support/test-worker.ts";
import { countRows, hubFor, leadEvent, makeLocations, newTeam, postEvents, tokenFor } from "./helpers.ts";

const holdBuffer = () => {
  throw new Error("held for the test: committed, not deleted");
};

describe("backpressure", () => {
  it("503 + Retry-After above the high-water mark; the lead in the batch is still taken", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const hub = hubFor(team);
    // At the mark the hub flushes at once; hold its buffer full by failing each flush after its commit.
    await runInDurableObject(hub, (h: TeamHub) => {
      h.tune({ BUFFER_HIGH_WATER: 10 });
      h.afterCommit = holdBuffer;
    });
    expect((await postEvents(token, makeLocations(10))).status).toBe(202);
    const lead = leadEvent();
    const refusedFixes = makeLocations(5);
    const res = await postEvents(token, [...refusedFixes, lead]);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(await res.json()).toMatchObject({
      accepted: 1,
      refused: 5,
      refusedIds: refusedFixes.map((e) => e.id),
      leads: [{ id: lead.id, status: "stored" }],
      error: { code: "backpressure" },
    });
    // Drain, then the refused fixes are welcome again; nothing was lost.
    await runInDurableObject(hub, (h: TeamHub) => {
      h.afterCommit = null;
    });
    await hub.flush();
    expect(await countRows("leads", [lead.id])).toBe(1);
    expect(await countRows("locations", refusedFixes.map((e) => e.id))).toBe(0);
    const retry = await postEvents(token, refusedFixes);
    expect(retry.status).toBe(202);
    await hub.flush();
    expect(await countRows("locations", refusedFixes.map((e) => e.id))).toBe(5);
  });

  it("Retry-After follows the measured drain rate", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const hub = hubFor(team);
    await runInDurableObject(hub, (h: TeamHub) => {
      h.tune({ BUFFER_HIGH_WATER: 100, FLUSH_THRESHOLD_ROWS: 100_000 });
    });
    await postEvents(token, makeLocations(50));
    await hub.flush(); // measures a drain rate
    await runInDurableObject(hub, (h: TeamHub) => {
      h.afterCommit = holdBuffer;
    });
    await postEvents(token, makeLocations(400));
    const res = await postEvents(token, makeLocations(1));
    expect(res.status).toBe(503);
    const drain = (await hub.figures()).drainRowsPerS!;
    expect(drain).toBeGreaterThan(0);
    const expected = Math.min(300, Math.max(1, Math.ceil((400 - 90) / drain)));
    expect(Number(res.headers.get("Retry-After"))).toBe(expected);
    await runInDurableObject(hub, (h: TeamHub) => {
      h.afterCommit = null;
    });
    await hub.flush();
  });
});
