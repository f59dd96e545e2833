// Revocation and single-use tickets: the Worker's side is in worker/auth.ts and worker/live.ts, the
// list in durable-objects/access.ts; these pass once TeamHub wires authorize(), revoke(), the ticket
// headers and ingest's jti/iat (see the hub interface in worker/auth.ts, HubAccess).
import { describe, expect, it } from "vitest";
import { call, locationEvent, newTeam, postEvents, tokenFor, waitFor } from "./helpers.ts";

const json = { "Content-Type": "application/json" };
const claimsOf = (token: string) => JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));

const revoke = (admin: string, body: Record<string, unknown>) => call("/v1/admin/tokens/revoke", { method: "POST", token: admin, headers: json, body: JSON.stringify(body) });
const openWithToken = (token: string) => call("/v1/live", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `fieldpulse.v1, bearer.${token}` } });
const openWithTicket = (ticket: string) => call(`/v1/live?ticket=${ticket}`, { headers: { Upgrade: "websocket" } });

function closeSocket(res: Response) {
  res.webSocket?.accept();
  res.webSocket?.close(1000);
}

async function expectRevoked(res: Response) {
  expect(res.status).toBe(401);
  expect(await res.json()).toMatchObject({ error: { code: "token_revoked" } });
}

describe("POST /v1/admin/tokens/revoke", () => {
  it("by jti: that token is refused on every route and the socket; the user's other tokens still work", async () => {
    const team = newTeam();
    const admin = await tokenFor(team, "admin");
    const lost = await tokenFor(team, "manager", "mo");
    const spare = await tokenFor(team, "manager", "mo");
    expect((await call("/v1/positions/latest", { token: lost })).status).toBe(200);
    const res = await revoke(admin, { jti: claimsOf(lost).jti });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ team, jti: claimsOf(lost).jti, revokedAt: expect.any(Number) });
    await expectRevoked(await call("/v1/positions/latest", { token: lost }));
    await expectRevoked(await call("/v1/metrics", { token: lost }));
    await expectRevoked(await call("/v1/live/ticket", { method: "POST", token: lost }));
    await expectRevoked(await openWithToken(lost));
    expect((await call("/v1/positions/latest", { token: spare })).status).toBe(200);
  });

  it("by user: everything issued to that user until now, field tokens at ingest included; a new token works", async () => {
    const team = newTeam();
    const admin = await tokenFor(team, "admin");
    const phone = await tokenFor(team, "field", "leaver");
    const managerToken = await tokenFor(team, "manager", "leaver");
    expect((await postEvents(phone, [locationEvent()])).status).toBe(202);
    expect((await revoke(admin, { user: "leaver" })).status).toBe(200);
    await expectRevoked(await postEvents(phone, [locationEvent()]));
    await expectRevoked(await call("/v1/metrics", { token: managerToken }));
    // A token minted in the same second as the revocation counts as before it: wait for the next second.
    const revokedAt = Date.now();
    await waitFor(() => Math.floor(Date.now() / 1000) > Math.floor(revokedAt / 1000), { what: "the next second" });
    expect((await postEvents(await tokenFor(team, "field", "leaver"), [locationEvent()])).status).toBe(202);
  });

  it("a ticket taken before its token was revoked is refused", async () => {
    const team = newTeam();
    const manager = await tokenFor(team, "manager");
    const ticketRes = await call("/v1/live/ticket", { method: "POST", token: manager });
    const { ticket } = await ticketRes.json<{ ticket: string }>();
    expect((await revoke(await tokenFor(team, "admin"), { jti: claimsOf(manager).jti })).status).toBe(200);
    await expectRevoked(await openWithTicket(ticket));
  });

  it("an admin revokes in its own team only; an operator names the team; bad bodies are 400", async () => {
    const team = newTeam();
    const admin = await tokenFor(team, "admin");
    expect((await revoke(admin, { team: newTeam(), user: "x" })).status).toBe(403);
    expect((await revoke(admin, { user: "x", jti: crypto.randomUUID() })).status).toBe(400);
    expect((await revoke(admin, {})).status).toBe(400);
    expect((await revoke(admin, { user: "bad\nid" })).status).toBe(400);
  });
});

describe("operator tokens", () => {
  it("are revoked like any other (team \"*\", by an operator only): refused on every route, other operators unaffected", async () => {
    const leaked = await tokenFor("any", "operator", `ops-${crypto.randomUUID().slice(0, 6)}`);
    const other = await tokenFor("any", "operator");
    expect((await call("/metrics", { token: leaked })).status).toBe(200);
    // An admin cannot touch the operators' list; an operator must name it.
    expect((await revoke(await tokenFor(newTeam(), "admin"), { team: "*", jti: claimsOf(leaked).jti })).status).toBe(403);
    expect((await revoke(other, { team: "nope*", jti: claimsOf(leaked).jti })).status).toBe(400);

    const res = await revoke(other, { team: "*", jti: claimsOf(leaked).jti });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ team: "*", jti: claimsOf(leaked).jti });
    await expectRevoked(await call("/metrics", { token: leaked }));
    await expectRevoked(await call("/v1/metrics", { token: leaked }));
    await expectRevoked(await revoke(leaked, { team: "*", jti: claimsOf(other).jti }));
    expect((await call("/metrics", { token: other })).status).toBe(200);

    // By subject: every operator token of that person issued until now.
    const person = `ops-${crypto.randomUUID().slice(0, 6)}`;
    const mine = await tokenFor("any", "operator", person);
    expect((await revoke(other, { team: "*", user: person })).status).toBe(200);
    await expectRevoked(await call("/metrics", { token: mine }));
  });
});

describe("tickets are single use", () => {
  it("the second open with the same ticket is refused", async () => {
    const team = newTeam();
    const res = await call("/v1/live/ticket", { method: "POST", token: await tokenFor(team, "manager") });
    const { ticket } = await res.json<{ ticket: string }>();
    const first = await openWithTicket(ticket);
    expect(first.status).toBe(101);
    closeSocket(first);
    const second = await openWithTicket(ticket);
    expect(second.status).toBe(401);
    await second.body?.cancel();
  });
});
