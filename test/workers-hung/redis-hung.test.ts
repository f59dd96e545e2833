import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { hubFor, knockEvent, leadEvent, locationEvent, newTeam, postEvents, tokenFor, waitFor } from "../workers/helpers.ts";

/** How many requests the hung "Redis" (the control server's /hang/) has swallowed without answering. */
const swallowed = async () => ((await (await fetch(`${inject("controlUrl")}/hang/seen`)).json()) as { hung: number }).hung;

// This project's Upstash URL points at a server that takes requests and never answers.
describe("a Redis that hangs", () => {
  it("never holds ingest: no Redis call per request, and the ones per flush or lead run after the answer", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const before = await swallowed();
    // The buffer goes from empty to not empty (the cron's dirty mark) and a lead arrives (the pull list).
    const first = await postEvents(token, [locationEvent(), leadEvent()]);
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ accepted: 2, leads: [{ status: "stored" }] });
    await waitFor(async () => (await swallowed()) >= before + 2, { what: "the background Redis calls to hang" });
    const during = await swallowed();
    // Five more requests while those hang: every one answered, and not one more Redis call.
    for (let i = 0; i < 5; i++) expect((await postEvents(token, [locationEvent(), knockEvent()])).status).toBe(202);
    expect(await swallowed()).toBe(during);
    // The buffer still flushes (the mark-clean call fails open after its timeout).
    expect(await hubFor(team).flush()).toMatchObject({ ok: true, rows: 11, depth: 0 });
  }, 30_000);
});
