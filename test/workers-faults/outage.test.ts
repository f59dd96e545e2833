import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { TeamHub } from "../support/test-worker.ts";
import { countRows, hubFor, leadEvent, makeLocations, newTeam, postEvents, tokenFor, waitFor } from "../workers/helpers.ts";

// This project's Worker reaches Postgres through the fault proxy, which these tests cut and restore.
const proxy = (action: "pause" | "resume") => fetch(`${inject("controlUrl")}/fault-proxy/${action}`, { method: "POST" });

describe("Postgres outage", () => {
  afterEach(async () => {
    await proxy("resume");
  });

  it("keeps answering 202, deletes nothing, backs off; lands everything once when Postgres is back", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const hub = hubFor(team);
    await proxy("pause");
    const sent: string[] = [];
    // A lead is due at once, so the alarm fires by itself and only the backoff spaces the retries.
    for (let round = 0; round < 3; round++) {
      const events = [...makeLocations(25), leadEvent()];
      sent.push(...events.map((e) => e.id));
      const res = await postEvents(token, events);
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ accepted: 26 });
    }
    const failing = await waitFor(async () => {
      const f = await hub.figures();
      return f.consecutiveFailures >= 3 ? f : undefined;
    }, { timeoutMs: 15_000, what: "three failed flushes" });
    expect(failing.depth).toBe(sent.length);
    expect(failing.lastError).toEqual(expect.any(String));
    // The next retry waits at least half of its 2^(n-1) s ceiling (equal jitter), never "now".
    const [alarm, figures] = await runInDurableObject(hub, async (h: TeamHub, state) => [await state.storage.getAlarm(), h.figures()] as const);
    expect(alarm).not.toBeNull();
    expect(alarm! - figures.lastErrorAt!).toBeGreaterThanOrEqual(500 * 2 ** (figures.consecutiveFailures - 1));
    expect((await countRows("locations", sent)) + (await countRows("leads", sent))).toBe(0);

    await proxy("resume");
    // No nudge: the backed-off alarm retries by itself and drains everything.
    await waitFor(async () => (await hub.figures()).depth === 0, { timeoutMs: 25_000, what: "the buffer to drain after the outage" });
    expect(await hub.figures()).toMatchObject({ depth: 0, consecutiveFailures: 0 });
    expect((await countRows("locations", sent)) + (await countRows("leads", sent))).toBe(sent.length);
  });
});
