// Socket limits in the TeamHub (durable-objects/socket-guard.ts): pass once the hub wires chargeFrame
// into webSocketMessage and admitSocket into fetch.
import { describe, expect, it } from "vitest";
import { call, locationEvent, newTeam, postEvents, tokenFor, waitFor } from "./helpers.ts";

async function open(token: string) {
  const res = await call("/v1/live", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `fieldpulse.v1, bearer.${token}` } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const frames: string[] = [];
  let closed: { code: number; reason: string } | null = null;
  ws.addEventListener("message", (e) => frames.push(String(e.data)));
  ws.addEventListener("close", (e) => (closed = { code: e.code, reason: e.reason }));
  ws.accept();
  return { ws, frames, closed: () => closed };
}

describe("live socket limits", () => {
  it("a flooding socket is closed with 1008; another manager's resync and a canvasser's ingest are still answered", async () => {
    const team = newTeam();
    const flooder = await open(await tokenFor(team, "manager"));
    const calm = await open(await tokenFor(team, "manager"));
    await waitFor(() => flooder.frames.length >= 1 && calm.frames.length >= 1, { what: "both snapshots" });
    for (let i = 0; i < 300; i++) flooder.ws.send(JSON.stringify({ type: "resync" }));
    for (let i = 0; i < 200; i++) flooder.ws.send("junk");
    const closed = await waitFor(() => flooder.closed() ?? undefined, { what: "the flooder closed" });
    expect(closed.code).toBe(1008);
    // Far fewer answers than frames: it was cut off, not served.
    expect(flooder.frames.length).toBeLessThan(20);
    const before = calm.frames.length;
    calm.ws.send(JSON.stringify({ type: "resync" }));
    await waitFor(() => calm.frames.slice(before).some((f) => f.includes('"snapshot"')), { what: "the calm manager's snapshot" });
    expect((await postEvents(await tokenFor(team, "field"), [locationEvent()])).status).toBe(202);
    expect(calm.closed()).toBeNull();
    calm.ws.close(1000);
  });

  it("one token holds at most 4 sockets: a fifth closes its oldest", async () => {
    const team = newTeam();
    const token = await tokenFor(team, "manager");
    const sockets: Awaited<ReturnType<typeof open>>[] = [];
    for (let i = 0; i < 5; i++) sockets.push(await open(token));
    const oldest = await waitFor(() => sockets[0]!.closed() ?? undefined, { what: "the oldest socket closed" });
    expect(oldest.code).toBe(1008);
    expect(sockets.slice(1).every((s) => s.closed() === null)).toBe(true);
    for (const s of sockets.slice(1)) s.ws.close(1000);
  });
});
