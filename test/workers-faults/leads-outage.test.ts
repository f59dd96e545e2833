import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { TeamHub } from "../support/test-worker.ts";
import { countRows, hubFor, leadEvent, newTeam, postEvents, tokenFor, waitFor } from "../workers/helpers.ts";

const proxy = (action: "pause" | "resume") => fetch(`${inject("controlUrl")}/fault-proxy/${action}`, { method: "POST" });

describe("a lead while Postgres is down", () => {
  afterEach(async () => {
    await proxy("resume");
  });

  it("is queued, still reaches the dialer, and lands in Postgres once it is back", async () => {
    const team = newTeam();
    await proxy("pause");
    const lead = leadEvent();
    const res = await postEvents(await tokenFor(team), [lead]);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 1, leads: [{ id: lead.id, status: "queued" }] });
    const hits = await waitFor(async () => {
      const r = (await (await fetch(`${inject("controlUrl")}/dialer/received?leadId=${lead.id}`)).json()) as { verified: boolean }[];
      return r.length ? r : undefined;
    }, { what: "the dialer to receive the queued lead" });
    expect(hits[0]!.verified).toBe(true);
    expect(await countRows("leads", [lead.id])).toBe(0);

    await proxy("resume");
    await waitFor(async () => (await countRows("leads", [lead.id])) === 1, { timeoutMs: 20_000, what: "the lead in Postgres" });
    // Its delivery state follows in a flush.
    await hubFor(team).flush();
    const synced = await runInDurableObject(hubFor(team), (_h: TeamHub, state) =>
      state.storage.sql.exec<{ synced: number; stored: number }>("SELECT synced, stored FROM outbox WHERE lead_id = ?", lead.id).one());
    expect(synced).toEqual({ synced: 1, stored: 1 });
    expect(await countRows("leads", [lead.id])).toBe(1);
  });
});
