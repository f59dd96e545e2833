import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { call, newTeam, postEvents, tokenFor } from "./helpers.ts";

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = await res.json<{ error: { code: string; message: string } }>();
  expect(body.error.code).toBe(code);
  expect(body.error.message).toEqual(expect.any(String));
}

describe("JWT auth", () => {
  it("401 without a token", async () => {
    await expectError(await call("/v1/metrics"), 401, "missing_token");
  });

  it("401 for a token signed with another secret", async () => {
    const forged = await sign({ sub: "u", team: "t", role: "admin", exp: Math.floor(Date.now() / 1000) + 60 }, "not-the-secret", "HS256");
    await expectError(await call("/v1/metrics", { token: forged }), 401, "invalid_token");
  });

  it("401 for garbage", async () => {
    await expectError(await call("/v1/metrics", { token: "abc.def.ghi" }), 401, "invalid_token");
  });

  it("401 for an expired token", async () => {
    const expired = await sign({ sub: "u", team: "t", role: "manager", exp: Math.floor(Date.now() / 1000) - 10 }, env.AUTH_SECRET, "HS256");
    await expectError(await call("/v1/metrics", { token: expired }), 401, "token_expired");
  });

  it("401 for a token whose claims are incomplete", async () => {
    const noRole = await sign({ sub: "u", team: "t", exp: Math.floor(Date.now() / 1000) + 60 }, env.AUTH_SECRET, "HS256");
    await expectError(await call("/v1/metrics", { token: noRole }), 401, "invalid_token");
  });

  it("403 when the role may not do this", async () => {
    const field = await tokenFor(newTeam(), "field");
    await expectError(await call("/v1/metrics", { token: field }), 403, "forbidden");
    const manager = await tokenFor(newTeam(), "manager");
    await expectError(await call("/metrics", { token: manager }), 403, "forbidden");
  });

  it("lets each role through where it belongs", async () => {
    const team = newTeam();
    expect((await call("/v1/metrics", { token: await tokenFor(team, "manager") })).status).toBe(200);
    expect((await call("/metrics", { token: await tokenFor(team, "admin") })).status).toBe(200);
    const res = await postEvents(await tokenFor(team, "field"), [{ id: crypto.randomUUID(), type: "location", at: Date.now(), lat: 1, lng: 2 }]);
    expect(res.status).toBe(202);
  });

  it("admins mint tokens that work; others may not", async () => {
    const team = newTeam();
    const mint = (token: string) =>
      call("/v1/admin/tokens", {
        method: "POST",
        token,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ team, user: "canvasser-7", role: "field", name: "Sam" }),
      });
    await expectError(await mint(await tokenFor(team, "manager")), 403, "forbidden");
    const res = await mint(await tokenFor("hq", "admin"));
    expect(res.status).toBe(201);
    const { token } = await res.json<{ token: string }>();
    const post = await postEvents(token, [{ id: crypto.randomUUID(), type: "location", at: Date.now(), lat: 1, lng: 2 }]);
    expect(post.status).toBe(202);
  });
});
