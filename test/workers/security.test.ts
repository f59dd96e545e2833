import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { call, locationEvent, newTeam, postEvents, tokenFor } from "./helpers.ts";

const json = { "Content-Type": "application/json" };
const now = () => Math.floor(Date.now() / 1000);

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(await res.json()).toMatchObject({ error: { code, message: expect.any(String) } });
}

async function ticketOf(token: string): Promise<string> {
  const res = await call("/v1/live/ticket", { method: "POST", token });
  expect(res.status).toBe(201);
  const body = await res.json<{ ticket: string; expiresInS: number }>();
  expect(body.expiresInS).toBeLessThanOrEqual(60);
  return body.ticket;
}

const openWithTicket = (ticket: string) => call(`/v1/live?ticket=${encodeURIComponent(ticket)}`, { headers: { Upgrade: "websocket" } });
const openWithToken = (token: string) => call("/v1/live", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `fieldpulse.v1, bearer.${token}` } });

function closeSocket(res: Response) {
  res.webSocket?.accept();
  res.webSocket?.close(1000);
}

const mint = (token: string, body: Record<string, unknown>) => call("/v1/admin/tokens", { method: "POST", token, headers: json, body: JSON.stringify(body) });

describe("live-map tickets", () => {
  it("are accepted by GET /v1/live?ticket= and carry aud live, a jti and at most 60 s", async () => {
    const team = newTeam();
    const ticket = await ticketOf(await tokenFor(team, "manager"));
    const claims = JSON.parse(atob(ticket.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    expect(claims).toMatchObject({ aud: "live", team, role: "manager", jti: expect.any(String), tok: expect.any(String) });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(60);
    const res = await openWithTicket(ticket);
    expect(res.status).toBe(101);
    closeSocket(res);
  });

  it("are refused as Bearer everywhere else, and as a socket subprotocol", async () => {
    const team = newTeam();
    const ticket = await ticketOf(await tokenFor(team, "admin"));
    for (const path of ["/v1/positions/latest", "/v1/metrics", "/v1/history?userId=u&from=1"]) {
      await expectError(await call(path, { token: ticket }), 401, "ticket_not_accepted");
    }
    await expectError(await openWithToken(ticket), 401, "ticket_not_accepted");
  });

  it("cannot mint anything: no ticket from a ticket, no token from an admin's ticket", async () => {
    const team = newTeam();
    const ticket = await ticketOf(await tokenFor(team, "admin"));
    await expectError(await call("/v1/live/ticket", { method: "POST", token: ticket }), 401, "ticket_not_accepted");
    await expectError(await mint(ticket, { team, user: "x", role: "admin" }), 401, "ticket_not_accepted");
    await expectError(await postEvents(ticket, [locationEvent()]), 401, "ticket_not_accepted");
  });

  it("?ticket= takes nothing but a ticket: a manager's token there is 401", async () => {
    const team = newTeam();
    await expectError(await openWithTicket(await tokenFor(team, "manager")), 401, "invalid_ticket");
    await expectError(await openWithTicket(await tokenFor(team, "field")), 401, "invalid_ticket");
    await expectError(await openWithTicket("nonsense"), 401, "invalid_token");
  });

  it("an expired ticket, a long-lived one, or one for a field role is 401", async () => {
    const base = { aud: "live", sub: "m", team: newTeam(), role: "manager", tok: crypto.randomUUID(), jti: crypto.randomUUID() };
    await expectError(await openWithTicket(await sign({ ...base, iat: now() - 120, exp: now() - 60 }, env.AUTH_SECRET, "HS256")), 401, "token_expired");
    await expectError(await openWithTicket(await sign({ ...base, iat: now(), exp: now() + 3600 }, env.AUTH_SECRET, "HS256")), 401, "invalid_ticket");
    await expectError(await openWithTicket(await sign({ ...base, role: "field", iat: now(), exp: now() + 30 }, env.AUTH_SECRET, "HS256")), 401, "invalid_ticket");
  });
});

describe("token lifetime", () => {
  it("refuses a token past its role's maximum: exp in year 9999, a 13 h manager token", async () => {
    const base = { sub: "u", team: newTeam(), role: "manager", jti: crypto.randomUUID(), iat: now() };
    await expectError(await call("/v1/metrics", { token: await sign({ ...base, exp: 253402300799 }, env.AUTH_SECRET, "HS256") }), 401, "invalid_token");
    await expectError(await call("/v1/metrics", { token: await sign({ ...base, exp: now() + 13 * 3600 }, env.AUTH_SECRET, "HS256") }), 401, "invalid_token");
    expect((await call("/v1/metrics", { token: await sign({ ...base, exp: now() + 11 * 3600 }, env.AUTH_SECRET, "HS256") })).status).toBe(200);
  });

  it("a field token may live 30 days, not 31", async () => {
    const base = { sub: "u", team: newTeam(), role: "field", jti: crypto.randomUUID(), iat: now() };
    expect((await postEvents(await sign({ ...base, exp: now() + 30 * 86_400 }, env.AUTH_SECRET, "HS256"), [locationEvent()])).status).toBe(202);
    await expectError(await postEvents(await sign({ ...base, exp: now() + 31 * 86_400 }, env.AUTH_SECRET, "HS256"), [locationEvent()]), 401, "invalid_token");
  });

  it("minting: a lifetime past the maximum or an operator role is 400 with its path; minted tokens carry iat, jti, exp", async () => {
    const team = newTeam();
    const admin = await tokenFor(team, "admin");
    const long = await mint(admin, { team, user: "m", role: "manager", ttlSeconds: 13 * 3600 });
    expect(long.status).toBe(400);
    expect(await long.json()).toMatchObject({ error: { issues: [{ path: "ttlSeconds" }] } });
    const operator = await mint(admin, { team, user: "o", role: "operator" });
    expect(operator.status).toBe(400);
    expect(await operator.json()).toMatchObject({ error: { issues: [{ path: "role" }] } });
    const ok = await mint(admin, { team, user: "f", role: "field", ttlSeconds: 30 * 86_400 });
    expect(ok.status).toBe(201);
    const { token } = await ok.json<{ token: string }>();
    const claims = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    expect(claims).toMatchObject({ sub: "f", team, role: "field", jti: expect.any(String), iat: expect.any(Number) });
    expect(claims.exp - claims.iat).toBe(30 * 86_400);
  });
});

describe("identifiers", () => {
  it("control characters in a user id or name are 400 at minting, with the path", async () => {
    const team = newTeam();
    const admin = await tokenFor(team, "admin");
    for (const [field, value] of [["user", "eve\nX-Injected: 1"], ["user", "eve\r"], ["user", "e\u0000ve"], ["user", "eve\u202e"], ["user", "a".repeat(129)], ["name", "Eve\nX: 1"], ["name", " Eve"]] as const) {
      const res = await mint(admin, { team, user: "eve", role: "manager", [field]: value });
      expect(res.status, `${field}=${JSON.stringify(value)}`).toBe(400);
      expect(await res.json()).toMatchObject({ error: { issues: [{ path: field }] } });
    }
  });

  it("a hand-forged token carrying one is 401 on every route and the socket, never 500", async () => {
    const team = newTeam();
    for (const sub of ["eve\nX-Injected: 1", "eve\r\n", "e\u0000ve"]) {
      const forged = await sign({ sub, team, role: "manager", jti: crypto.randomUUID(), iat: now(), exp: now() + 60 }, env.AUTH_SECRET, "HS256");
      await expectError(await openWithToken(forged), 401, "invalid_token");
      await expectError(await call("/v1/positions/latest", { token: forged }), 401, "invalid_token");
      await expectError(await postEvents(forged, [locationEvent()]), 401, "invalid_token");
    }
  });

  it("a user id outside Latin-1 opens a socket (the hub gets it percent-encoded)", async () => {
    const res = await openWithToken(await tokenFor(newTeam(), "manager", "José-Łukasz-山田"));
    expect(res.status).toBe(101);
    closeSocket(res);
  });
});

describe("API headers", () => {
  it("every API answer, success or error, is no-store, nosniff and unframeable", async () => {
    const team = newTeam();
    const answers = [
      await call("/v1/metrics", { token: await tokenFor(team, "manager") }),
      await call("/v1/metrics"),
      await call("/v1/nope"),
      await call("/healthz"),
      await call("/v1/map/config"),
    ];
    for (const res of answers) {
      expect(res.headers.get("Cache-Control"), res.url).toBe("no-store");
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(res.headers.get("X-Frame-Options")).toBe("DENY");
      expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
      expect(res.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
      await res.body?.cancel();
    }
  });
});
