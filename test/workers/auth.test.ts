import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../protocol/auth.ts";
import { call, locationEvent, newTeam, postEvents, tokenFor } from "./helpers.ts";

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = await res.json<{ error: { code: string; message: string } }>();
  expect(body.error.code).toBe(code);
  expect(body.error.message).toEqual(expect.any(String));
}

const now = () => Math.floor(Date.now() / 1000);
const claimsFor = (over: Record<string, unknown> = {}) => ({ sub: "u", team: "t", role: "manager", jti: crypto.randomUUID(), iat: now(), exp: now() + 60, ...over });

describe("JWT auth", () => {
  it("401 without a token", async () => {
    await expectError(await call("/v1/metrics"), 401, "missing_token");
  });

  it("401 for a token signed with another secret", async () => {
    const forged = await sign(claimsFor({ role: "admin" }), "not-the-secret", "HS256");
    await expectError(await call("/v1/metrics", { token: forged }), 401, "invalid_token");
  });

  it("401 for garbage", async () => {
    await expectError(await call("/v1/metrics", { token: "abc.def.ghi" }), 401, "invalid_token");
  });

  it("401 for an expired token", async () => {
    const expired = await sign(claimsFor({ iat: now() - 100, exp: now() - 10 }), env.AUTH_SECRET, "HS256");
    await expectError(await call("/v1/metrics", { token: expired }), 401, "token_expired");
  });

  it("401 for a token whose claims are incomplete: no role, no jti, no iat, no exp", async () => {
    for (const missing of ["role", "jti", "iat", "exp"]) {
      const claims: Record<string, unknown> = claimsFor();
      delete claims[missing];
      await expectError(await call("/v1/metrics", { token: await sign(claims, env.AUTH_SECRET, "HS256") }), 401, "invalid_token");
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The matrix: every route and the live socket × every credential (a revoked one too) × the target team
// its own or another.

type Cred = "none" | "field" | "manager" | "admin" | "operator" | "ticket" | "revoked";
type Scope = "own" | "other";
const CREDS: Cred[] = ["none", "field", "manager", "admin", "operator", "ticket", "revoked"];
const SCOPES: Scope[] = ["own", "other"];

const operatorToken = () => tokenFor("any", "operator");

async function ticketFor(team: string): Promise<string> {
  const res = await call("/v1/live/ticket", { method: "POST", token: await tokenFor(team, "manager") });
  expect(res.status).toBe(201);
  return (await res.json<{ ticket: string }>()).ticket;
}

/** An admin's token of `team`, revoked by jti by another admin of the team. */
async function revokedToken(team: string): Promise<string> {
  const token = await tokenFor(team, "admin");
  const { jti } = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
  const res = await call("/v1/admin/tokens/revoke", { method: "POST", token: await tokenFor(team, "admin"), headers: json, body: JSON.stringify({ jti }) });
  expect(res.status).toBe(200);
  return token;
}

/** A fresh credential (tickets are single use) of `team`; an operator belongs to no team. */
function credential(cred: Cred, team: string): Promise<string | undefined> {
  switch (cred) {
    case "none":
      return Promise.resolve(undefined);
    case "ticket":
      return ticketFor(team);
    case "revoked":
      return revokedToken(team);
    default:
      return tokenFor(team, cred satisfies Role);
  }
}

interface Target {
  /** The team every request aims at: its data, or named in the query or body. */
  team: string;
  /** A canvasser of that team with a fix on the map. */
  user: string;
}

type Expect = (cred: Cred, scope: Scope) => number;
const json = { "Content-Type": "application/json" };

/**
 * 401 for no credential and for a ticket (accepted by GET /v1/live?ticket= only); a revoked admin token
 * is 401 wherever an admin may go (revocation is checked before the team), 403 elsewhere; else by role.
 */
const byRole = (allowed: Partial<Record<Role, number | ((scope: Scope) => number)>>): Expect => (cred, scope) => {
  if (cred === "none" || cred === "ticket") return 401;
  if (cred === "revoked") return allowed.admin === undefined ? 403 : 401;
  const rule = allowed[cred];
  return rule === undefined ? 403 : typeof rule === "number" ? rule : rule(scope);
};
const ownOnly = (status: number) => (scope: Scope) => (scope === "own" ? status : 403);

interface Route {
  name: string;
  send(token: string | undefined, target: Target, cred: Cred): Promise<Response>;
  expect: Expect;
  /** Given a success answer to a credential of another team: nothing of the target team is in it. */
  seesOnlyOwn?: (res: Response, target: Target) => Promise<void>;
}

const ROUTES: Route[] = [
  {
    name: "POST /v1/events",
    send: (token) => call("/v1/events", { method: "POST", ...(token ? { token } : {}), headers: json, body: JSON.stringify({ events: [locationEvent()] }) }),
    expect: byRole({ field: 202, manager: 202, admin: 202 }),
  },
  {
    name: "GET /v1/positions/latest",
    send: (token) => call("/v1/positions/latest", token ? { token } : {}),
    expect: byRole({ manager: 200, admin: 200 }),
    seesOnlyOwn: async (res, target) => expect(JSON.stringify(await res.json())).not.toContain(target.user),
  },
  {
    name: "POST /v1/live/ticket",
    send: (token) => call("/v1/live/ticket", { method: "POST", ...(token ? { token } : {}) }),
    expect: byRole({ manager: 201, admin: 201 }),
  },
  {
    name: "GET /v1/knocks",
    send: (token) => call("/v1/knocks", token ? { token } : {}),
    expect: byRole({ manager: 200, admin: 200 }),
  },
  {
    name: "GET /v1/history",
    send: (token, t) => call(`/v1/history?userId=${t.user}&from=${Date.now() - 3_600_000}`, token ? { token } : {}),
    expect: byRole({ manager: 200, admin: 200 }),
  },
  {
    name: "GET /v1/metrics?team=",
    send: (token, t) => call(`/v1/metrics?team=${t.team}`, token ? { token } : {}),
    expect: byRole({ manager: ownOnly(200), admin: ownOnly(200), operator: 200 }),
  },
  {
    name: "GET /v1/metrics",
    send: (token) => call("/v1/metrics", token ? { token } : {}),
    expect: byRole({ manager: 200, admin: 200, operator: 200 }),
    seesOnlyOwn: async (res, target) => expect(JSON.stringify(await res.json())).not.toContain(target.team),
  },
  {
    name: "GET /metrics",
    send: (token) => call("/metrics", token ? { token } : {}),
    expect: byRole({ operator: 200 }),
  },
  {
    name: "POST /v1/admin/tokens",
    send: (token, t) =>
      call("/v1/admin/tokens", { method: "POST", ...(token ? { token } : {}), headers: json, body: JSON.stringify({ team: t.team, user: "new-canvasser", role: "field" }) }),
    expect: byRole({ admin: ownOnly(201), operator: 201 }),
  },
  {
    name: "POST /v1/admin/tokens/revoke",
    send: (token, t) =>
      call("/v1/admin/tokens/revoke", { method: "POST", ...(token ? { token } : {}), headers: json, body: JSON.stringify({ team: t.team, user: `gone-${crypto.randomUUID().slice(0, 6)}` }) }),
    expect: byRole({ admin: ownOnly(200), operator: 200 }),
  },
  {
    // No such lead: 404 means the caller got past authorization to the team's outbox.
    name: "POST /v1/admin/leads/:id/redeliver?team=",
    send: (token, t) => call(`/v1/admin/leads/${crypto.randomUUID()}/redeliver?team=${t.team}`, { method: "POST", ...(token ? { token } : {}) }),
    expect: byRole({ admin: ownOnly(404), operator: 404 }),
  },
  {
    name: "GET /v1/map/config (public)",
    send: (token) => call("/v1/map/config", token ? { token } : {}),
    expect: () => 200,
  },
  {
    name: "GET /healthz (public)",
    send: (token) => call("/healthz", token ? { token } : {}),
    expect: () => 200,
  },
];

/** A live socket as the map opens it: the token as a subprotocol, or a ticket as `?ticket=`. */
const SOCKET: Route = {
  name: "GET /v1/live (socket)",
  send: (credential, _t, cred) => {
    if (cred === "ticket") return call(`/v1/live?ticket=${credential}`, { headers: { Upgrade: "websocket" } });
    const protocols = credential ? `fieldpulse.v1, bearer.${credential}` : "fieldpulse.v1";
    return call("/v1/live", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols } });
  },
  expect: (cred) => ({ none: 401, field: 403, manager: 101, admin: 101, operator: 403, ticket: 101, revoked: 401 })[cred],
  seesOnlyOwn: async (res, target) => {
    const ws = res.webSocket!;
    const first = new Promise<string>((resolve) => ws.addEventListener("message", (e) => resolve(String(e.data)), { once: true }));
    ws.accept();
    expect(await first).not.toContain(target.user);
    ws.close(1000);
  },
};

describe("role × route × team matrix", () => {
  const target: Target = { team: newTeam(), user: `ann-${crypto.randomUUID().slice(0, 6)}` };
  const other = newTeam();

  beforeAll(async () => {
    expect((await postEvents(await tokenFor(target.team, "field", target.user), [locationEvent()])).status).toBe(202);
  });

  it.each([...ROUTES, SOCKET].map((r) => [r.name, r] as const))("%s", async (_name, route) => {
    const got: Record<string, number> = {};
    const want: Record<string, number> = {};
    for (const cred of CREDS) {
      for (const scope of SCOPES) {
        // An operator belongs to no team: "own" and "other" are the same credential.
        const res = await route.send(await credential(cred, scope === "own" ? target.team : other), target, cred);
        got[`${cred}/${scope}`] = res.status;
        want[`${cred}/${scope}`] = route.expect(cred, scope);
        if (res.status < 300 && scope === "other" && cred !== "operator" && route.seesOnlyOwn) await route.seesOnlyOwn(res, target);
        else if (res.webSocket) {
          res.webSocket.accept();
          res.webSocket.close(1000);
        } else await res.body?.cancel();
      }
    }
    expect(got).toEqual(want);
  });

  it("a manager's metrics are its own team's, even without ?team=", async () => {
    const res = await call("/v1/metrics", { token: await tokenFor(target.team, "manager") });
    const { teams } = await res.json<{ teams: { teamId: string }[] }>();
    expect(teams.map((t) => t.teamId)).toEqual([target.team]);
  });

  it("an admin's mint works for its team; an operator's for any team", async () => {
    for (const minter of [await tokenFor(target.team, "admin"), await operatorToken()]) {
      const res = await call("/v1/admin/tokens", { method: "POST", token: minter, headers: json, body: JSON.stringify({ team: target.team, user: "canvasser-7", role: "field", name: "Sam" }) });
      expect(res.status).toBe(201);
      const { token } = await res.json<{ token: string }>();
      expect((await postEvents(token, [locationEvent()])).status).toBe(202);
    }
  });

  it("an operator reads /metrics for every team, or one team", async () => {
    const ops = await operatorToken();
    const all = await call("/metrics", { token: ops });
    expect(all.headers.get("Content-Type")).toMatch(/^text\/plain/);
    await all.body?.cancel();
    const one = await call(`/metrics?team=${target.team}`, { token: ops });
    expect(await one.text()).toContain(`fieldpulse_queue_depth{team="${target.team}"}`);
  });
});
