import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { call, hubFor, leadEvent, locationEvent, newTeam, postEvents, sql, tokenFor } from "./helpers.ts";

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

// What an outside probe found (2026-12-06): each class, not just its example.
describe("bodies are UTF-8 JSON, or refused", () => {
  const post = (token: string, body: BodyInit, type = "application/json") => call("/v1/events", { method: "POST", token, headers: { "Content-Type": type }, body });

  it("invalid UTF-8 is a 400 (never stored as U+FFFD); another charset is a 415; UTF-8 with or without a BOM is taken", async () => {
    const team = newTeam();
    const token = await tokenFor(team);
    const event = (kind: string) => ({ id: crypto.randomUUID(), type: "activity", at: Date.now(), kind });
    const bytes = (text: string, tail: number[]) => new Uint8Array([...new TextEncoder().encode(text), ...tail]);

    const e = event("x");
    const invalid = bytes(`{"events":[{"id":"${e.id}","type":"activity","at":${e.at},"kind":"x`, [0xff, 0xfe, ...new TextEncoder().encode('"}]}')]);
    const res = await post(token, invalid);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_json", message: expect.stringMatching(/UTF-8/) } });

    const latin1 = await post(token, JSON.stringify({ events: [event("caf\u00e9")] }), "application/json; charset=iso-8859-1");
    expect(latin1.status).toBe(415);
    expect(await latin1.json()).toMatchObject({ error: { code: "unsupported_media_type", message: expect.stringMatching(/UTF-8/) } });

    const fine = event("caf\u00e9");
    expect((await post(token, JSON.stringify({ events: [fine] }), "application/json; charset=UTF-8")).status).toBe(202);
    const bom = event("bom");
    expect((await post(token, bytes("", [0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify({ events: [bom] }))]))).status).toBe(202);
    await hubFor(team).flush();
    expect(await sql("SELECT kind FROM activities WHERE team_id = $1 ORDER BY kind", [team])).toEqual([{ kind: "bom" }, { kind: "caf\u00e9" }]);
  });
});

describe("an Authorization header that is not one Bearer token", () => {
  it("is told so (invalid_token), not that the token is missing", async () => {
    const token = await tokenFor(newTeam());
    for (const header of [`Bearer ${token} ${token}`, `Bearer ${token}, Bearer ${token}`, `Basic ${btoa("a:b")}`, token]) {
      const res = await call("/v1/events", { method: "POST", headers: { ...json, Authorization: header }, body: JSON.stringify({ events: [locationEvent()] }) });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: "invalid_token", message: expect.stringMatching(/one token/) } });
    }
    await expectError(await call("/v1/events", { method: "POST", headers: json, body: "{}" }), 401, "missing_token");
    // The subprotocol carries a token only for a WebSocket upgrade: a REST call with it alone has none.
    const viaProtocol = { ...json, "Sec-WebSocket-Protocol": `fieldpulse.v1, bearer.${token}` };
    await expectError(await call("/v1/events", { method: "POST", headers: viaProtocol, body: JSON.stringify({ events: [locationEvent()] }) }), 401, "missing_token");
  });
});

describe("?team= is a team id, and a team role's own", () => {
  it("an operator's ?team= that cannot be a team id is a 400 naming team (no 500, no object made for it)", async () => {
    const operator = await tokenFor("any", "operator");
    for (const path of ["/v1/metrics?team=%00", "/v1/admin/devices?team=%00", `/v1/admin/devices?team=${"t".repeat(300)}`, "/v1/metrics?team=a%20b", "/v1/metrics?team=*"]) {
      const res = await call(path, { token: operator });
      expect(res.status, path).toBe(400);
      expect(await res.json()).toMatchObject({ error: { issues: [{ path: "team" }] } });
    }
    const redeliver = await call(`/v1/admin/leads/${crypto.randomUUID()}/redeliver?team=%00`, { method: "POST", token: operator });
    expect(redeliver.status).toBe(400);
  });

  it("a team that has sent nothing yet is still named in its figures (it answered teamId \"\")", async () => {
    const team = newTeam();
    const res = await call("/v1/metrics", { token: await tokenFor(team, "manager") });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ teams: [{ teamId: team, depth: 0 }] });
  });

  it("a manager naming another team on the map's routes is refused (403), as on every other route", async () => {
    const manager = await tokenFor(newTeam(), "manager");
    const other = newTeam();
    for (const path of [`/v1/positions/latest?team=${other}`, `/v1/knocks?team=${other}`, `/v1/history?userId=u&from=${Date.now() - 1000}&team=${other}`, `/v1/metrics?team=${other}`]) {
      await expectError(await call(path, { token: manager }), 403, "forbidden");
    }
  });
});

describe("leads: what the dialer gets is what was meant", () => {
  it("a phone with an extension or longer than E.164 is refused with its path; a half position is refused as for knocks", async () => {
    const team = newTeam();
    const events = [
      leadEvent({ phone: "+44 20 7946 0958 ext. 123" }),
      leadEvent({ phone: "+31 6 1234 5678;ext=9" }),
      leadEvent({ phone: "+49 30 1234567890123" }),
      leadEvent({ lat: 52.1 }),
      leadEvent({ lng: 4.1 }),
      leadEvent({ phone: "+44 20 7946 0958", lat: 52.1, lng: 4.1 }),
    ];
    const res = await postEvents(await tokenFor(team), events);
    expect(res.status).toBe(202);
    const body = await res.json<{ accepted: number; rejected: { index: number; issues: { path: string; message: string }[] }[] }>();
    expect(body.accepted).toBe(1);
    expect(body.rejected.map((r) => [r.index, r.issues[0]!.path])).toEqual([
      [0, "events.0.phone"], [1, "events.1.phone"], [2, "events.2.phone"], [3, "events.3.lng"], [4, "events.4.lat"],
    ]);
    expect(body.rejected[0]!.issues[0]!.message).toMatch(/extension \(123\)/);
    expect(body.rejected[2]!.issues[0]!.message).toMatch(/15 digits/);
    expect(await sql("SELECT phone FROM leads WHERE team_id = $1", [team])).toEqual([{ phone: "+442079460958" }]);
  });
});

describe("messages that say what to send", () => {
  it("`at` in epoch seconds, a meta key Postgres refuses, an email with a trailing space", async () => {
    const team = newTeam();
    const seconds = locationEvent({ at: Math.floor(Date.now() / 1000) });
    const badKey = { id: crypto.randomUUID(), type: "activity", at: Date.now(), kind: "k", meta: { outer: { "k\u0000": 1 } } };
    const spaced = leadEvent({ email: "  ada@example.org " });
    const res = await postEvents(await tokenFor(team), [seconds, badKey, spaced]);
    const body = await res.json<{ accepted: number; rejected: { index: number; issues: { path: string; message: string }[] }[] }>();
    expect(body.accepted).toBe(1);
    expect(body.rejected).toEqual([
      { index: 0, id: seconds.id, issues: [{ path: "events.0.at", message: "is before 2000-01-01: epoch seconds? `at` takes epoch milliseconds" }] },
      { index: 1, id: badKey.id, issues: [{ path: "events.1.meta.outer.k\u0000", message: expect.stringMatching(/^key "k\\u0000" must not contain the NUL/) }] },
    ]);
    expect(await sql("SELECT email FROM leads WHERE team_id = $1", [team])).toEqual([{ email: "ada@example.org" }]);
  });

  it("query times: epoch ms or ISO-8601 with a zone, from 2000 (what ingest takes) — the same on history and knocks pages", async () => {
    const team = newTeam();
    const manager = await tokenFor(team, "manager");
    // A tracker's 2015 fix is stored; its day can be read back.
    expect((await call(`/v1/history?userId=u&from=2015-01-01T00:00:00Z&to=2015-01-02T00:00:00Z`, { token: manager })).status).toBe(200);
    expect((await call(`/v1/knocks?before=${encodeURIComponent(new Date().toISOString())}`, { token: manager })).status).toBe(200);
    for (const path of [`/v1/history?userId=u&from=abc`, `/v1/history?userId=u&from=2026-12-06T05:00:00`, `/v1/knocks?before=abc`, `/v1/knocks?before=1999-12-31T00:00:00Z`]) {
      const res = await call(path, { token: manager });
      expect(res.status, path).toBe(400);
      const { error } = await res.json<{ error: { issues: { path: string; message: string }[] } }>();
      expect(error.issues[0]!.message, path).toMatch(/epoch milliseconds or an ISO-8601 date-time with a zone/);
    }
  });
});
