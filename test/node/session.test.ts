// The pages' shared session rules (web/shared/session.ts): what each page refuses, and what a store keeps.
import { describe, expect, it } from "vitest";
import { signToken } from "../../protocol/auth.ts";
import { parseToken, sessionStore } from "../../web/shared/session.ts";

const memory = () => {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
};

describe("shared session", () => {
  it("reads the claims and names the owner; refuses by reason", async () => {
    const field = await signToken({ team: "t1", sub: "ana", role: "field" }, "s");
    const parsed = parseToken(` ${field} `);
    expect(parsed).toMatchObject({ ok: true, session: { token: field, owner: "t1/ana", claims: { role: "field" } } });
    expect(parseToken(field, { roles: ["manager", "admin"] })).toEqual({ ok: false, reason: "role", role: "field" });
    expect(parseToken("nope")).toEqual({ ok: false, reason: "malformed" });
    const expired = parseToken(field, {}, Date.now() + 365 * 86_400_000);
    expect(expired).toMatchObject({ ok: false, reason: "expired" });
    expect(parseToken(field, {}, 0).ok).toBe(true);
  });

  it("keeps a token under the page's key and forgets one that is refused", async () => {
    const storage = memory();
    const store = sessionStore({ key: "k", storage: () => storage, roles: ["manager"] });
    expect(store.load()).toBeNull();
    const manager = await signToken({ team: "t1", sub: "boss", role: "manager" }, "s");
    store.store({ token: manager });
    expect(store.load()).toMatchObject({ ok: true, session: { owner: "t1/boss" } });
    storage.setItem("k", await signToken({ team: "t1", sub: "ana", role: "field" }, "s"));
    expect(store.load()).toMatchObject({ ok: false, reason: "role" });
    expect(storage.m.has("k")).toBe(false);
  });
});
