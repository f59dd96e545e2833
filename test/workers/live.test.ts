import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { liveMessage, type LiveMessage } from "../../protocol/live.ts";
import { call, hubFor, knockEvent, leadEvent, locationEvent, newTeam, postEvents, tokenFor, waitFor } from "./helpers.ts";

/** A manager's socket, as the map page opens it, collecting every frame (validated by the protocol's schema). */
async function connect(team: string, opts: { user?: string; role?: "manager" | "admin" } = {}) {
  const token = await tokenFor(team, opts.role ?? "manager", opts.user ?? `mgr-${crypto.randomUUID().slice(0, 6)}`);
  const res = await call("/v1/live", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `fieldpulse.v1, bearer.${token}` } });
  expect(res.status).toBe(101);
  expect(res.headers.get("Sec-WebSocket-Protocol")).toBe("fieldpulse.v1");
  const ws = res.webSocket!;
  const frames: LiveMessage[] = [];
  ws.addEventListener("message", (e) => frames.push(liveMessage.parse(JSON.parse(String(e.data)))));
  ws.accept();
  const of = <T extends LiveMessage["type"]>(type: T) => frames.filter((f): f is Extract<LiveMessage, { type: T }> => f.type === type);
  const next = <T extends LiveMessage["type"]>(type: T, after = 0) =>
    waitFor(() => of(type)[after], { what: `${type} frame #${after + 1}` });
  return { ws, frames, of, next, close: () => ws.close(1000, "done") };
}

describe("GET /v1/live", () => {
  it("refuses before the upgrade: 401 without a token, 403 for a field token, 400 without the subprotocol", async () => {
    const team = newTeam();
    const none = await call("/v1/live", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": "fieldpulse.v1" } });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: "missing_token" } });
    const field = await tokenFor(team, "field");
    const forbidden = await call("/v1/live", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `fieldpulse.v1, bearer.${field}` } });
    expect(forbidden.status).toBe(403);
    // `?ticket=` takes a ticket and nothing else: a token there is not a credential at all.
    const fieldTicket = await call(`/v1/live?ticket=${field}`, { headers: { Upgrade: "websocket" } });
    expect(fieldTicket.status).toBe(401);
    const manager = await tokenFor(team, "manager");
    const bad = await call("/v1/live", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `chat, bearer.${manager}` } });
    expect(bad.status).toBe(400);
    const plain = await call("/v1/live", { token: manager });
    expect(plain.status).toBe(400);
    expect(await plain.json()).toMatchObject({ error: { code: "websocket_required" } });
  });

  it("sends a snapshot on connect: latest fix per person, trails, knocks, leads, queue", async () => {
    const team = newTeam();
    const ann = await tokenFor(team, "field", "ann");
    const now = Date.now();
    const fixes = [locationEvent({ at: now - 3_000, lat: 10, lng: 20 }), locationEvent({ at: now - 2_000, lat: 10.001, lng: 20.001, battery: 0.5 })];
    const knock = knockEvent({ outcome: "callback" });
    const lead = leadEvent({ name: "Bob Buyer", lat: 10, lng: 20 });
    await postEvents(ann, [...fixes, knock, lead]);
    // An old fix replayed from an offline queue must not move Ann back.
    await postEvents(ann, [locationEvent({ at: now - 60_000, lat: 50, lng: 50 })]);
    const m = await connect(team);
    const snap = await m.next("snapshot");
    expect(snap.users).toEqual([{ userId: "ann", lat: 10.001, lng: 20.001, at: now - 2_000, accuracy: 8, battery: 0.5 }]);
    expect(snap.trails.ann!.map(([lng, lat]) => [lng, lat])).toEqual([[50, 50], [20, 10], [20.001, 10.001]]);
    expect(snap.knocks).toMatchObject([{ id: knock.id, userId: "ann", outcome: "callback" }]);
    expect(snap.leads).toMatchObject([{ id: lead.id, userId: "ann", leadName: "Bob Buyer" }]);
    expect(snap.queue.depth).toBe(4);
    m.close();
  });

  it("fans positions out to every manager of the team, and to no other team", async () => {
    const team = newTeam();
    const [a, b, other] = [await connect(team), await connect(team, { role: "admin" }), await connect(newTeam())];
    await Promise.all([a.next("snapshot"), b.next("snapshot"), other.next("snapshot")]);
    const fix = locationEvent({ lat: 1.5, lng: 2.5 });
    await postEvents(await tokenFor(team, "field", "cara"), [fix]);
    for (const m of [a, b]) {
      const frame = await m.next("positions");
      expect(frame.points).toEqual([expect.objectContaining({ userId: "cara", lat: 1.5, lng: 2.5, at: fix.at })]);
    }
    const knock = knockEvent();
    await postEvents(await tokenFor(team, "field", "cara"), [knock]);
    expect((await a.next("knock")).knock).toMatchObject({ id: knock.id, userId: "cara" });
    // The other team's manager saw only its own snapshot, then nothing.
    await hubFor(team).flush();
    await a.next("queue");
    expect(other.frames.map((f) => f.type)).toEqual(["snapshot"]);
    for (const m of [a, b, other]) m.close();
  });

  it("coalesces: 50 fixes in one batch reach a manager as one message", async () => {
    const team = newTeam();
    const m = await connect(team);
    await m.next("snapshot");
    const fixes = Array.from({ length: 50 }, (_, i) => locationEvent({ lat: 1 + i / 1000 }));
    await postEvents(await tokenFor(team, "field", "dan"), fixes);
    const frame = await m.next("positions");
    expect(frame.points).toHaveLength(50);
    // A second batch inside the same tick waits for the tick, then arrives whole.
    await postEvents(await tokenFor(team, "field", "eve"), [locationEvent(), locationEvent()]);
    await postEvents(await tokenFor(team, "field", "fay"), [locationEvent()]);
    await waitFor(() => m.of("positions").flatMap((f) => f.points).length === 53);
    expect(m.of("positions").length).toBeLessThanOrEqual(3);
    m.close();
  });

  it("keeps a socket through hibernation: evict the object, send a fix, the frame still arrives", async () => {
    const team = newTeam();
    const m = await connect(team);
    await m.next("snapshot");
    await evictDurableObject(hubFor(team));
    const fix = locationEvent({ lat: 3.25 });
    await postEvents(await tokenFor(team, "field", "gus"), [fix]);
    expect((await m.next("positions")).points).toEqual([expect.objectContaining({ userId: "gus", lat: 3.25 })]);
    // And the ping is answered without waking the object.
    m.ws.send(JSON.stringify({ type: "ping" }));
    await m.next("pong");
    m.ws.send("nonsense");
    await m.next("error");
    m.close();
  });

  it("serves tickets and the REST snapshot", async () => {
    const team = newTeam();
    await postEvents(await tokenFor(team, "field", "hal"), [locationEvent({ lat: 7, lng: 8 })]);
    const manager = await tokenFor(team, "manager");
    const latest = await call("/v1/positions/latest", { token: manager });
    expect(latest.status).toBe(200);
    expect(liveMessage.parse(await latest.json())).toMatchObject({ type: "snapshot", users: [{ userId: "hal", lat: 7, lng: 8 }] });
    const ticketRes = await call("/v1/live/ticket", { method: "POST", token: manager });
    expect(ticketRes.status).toBe(201);
    const { ticket } = await ticketRes.json<{ ticket: string }>();
    const res = await call(`/v1/live?ticket=${ticket}`, { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(101);
    expect(res.headers.get("Sec-WebSocket-Protocol")).toBeNull();
    res.webSocket!.accept();
    res.webSocket!.close(1000);
  });
});

describe("the REST picture after the object restarts", () => {
  it("GET /v1/positions/latest and /v1/knocks read the team's day back from Postgres, as the socket does", async () => {
    const team = newTeam();
    const knock = knockEvent({ lat: 5, lng: 6 });
    await postEvents(await tokenFor(team, "field", "rae"), [locationEvent({ lat: 5, lng: 6 }), knock]);
    expect((await hubFor(team).flush()).ok).toBe(true);
    await evictDurableObject(hubFor(team));
    const manager = await tokenFor(team, "manager");
    // The first call after the restart may answer before the read lands (it waits at most 2 s): poll.
    const snapshot = await waitFor(async () => {
      const s = liveMessage.parse(await (await call("/v1/positions/latest", { token: manager })).json());
      return s.type === "snapshot" && s.users.length > 0 && s.knocks.length > 0 ? s : undefined;
    }, { what: "the snapshot with the day read back" });
    expect(snapshot).toMatchObject({ users: [{ userId: "rae", lat: 5, lng: 6 }], knocks: [{ id: knock.id }] });
    await evictDurableObject(hubFor(team));
    const page = await waitFor(async () => {
      const p = await (await call(`/v1/knocks?before=${Date.now() + 60_000}`, { token: manager })).json<{ knocks: { id: string }[] }>();
      return p.knocks.length > 0 ? p : undefined;
    }, { what: "the knocks page with the day read back" });
    expect(page.knocks.map((k) => k.id)).toEqual([knock.id]);
  });
});

describe("GET /v1/map/config", () => {
  it("tells the page its basemap style, without a token", async () => {
    const res = await call("/v1/map/config");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ styleUrl: "https://demotiles.maplibre.org/style.json" });
  });
});
