import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { AccessList, type SqlHandle } from "../../durable-objects/access.ts";

/** node:sqlite behind the `SqlStorage.exec` shape, counting writes (the list must not write per check). */
function sqlite(db = new DatabaseSync(":memory:")) {
  const stats = { writes: 0 };
  const handle: SqlHandle = {
    exec(query, ...bindings) {
      const stmt = db.prepare(query);
      if (/^\s*SELECT/i.test(query)) return { toArray: () => stmt.all(...bindings) };
      stats.writes++;
      stmt.run(...bindings);
      return { toArray: () => [] };
    },
  };
  return { db, handle, stats };
}

const T0 = Date.UTC(2026, 5, 1, 12);
const token = (over: Partial<{ sub: string; jti: string; iat: number }> = {}) => ({ sub: "ann", jti: "jti-aaaaaaaa", iat: T0 / 1000 - 3600, ...over });

describe("AccessList", () => {
  it("revokes one token by jti, and only that one", () => {
    const { handle } = sqlite();
    const list = new AccessList(handle);
    expect(list.isRevoked(token())).toBe(false);
    list.revoke({ jti: "jti-aaaaaaaa" }, T0);
    expect(list.isRevoked(token())).toBe(true);
    expect(list.isRevoked(token({ jti: "jti-bbbbbbbb" }))).toBe(false);
  });

  it("revokes everything issued to a user up to now; a token minted afterwards works", () => {
    const { handle } = sqlite();
    const list = new AccessList(handle);
    list.revoke({ user: "ann" }, T0);
    expect(list.isRevoked(token({ iat: T0 / 1000 - 1 }))).toBe(true);
    // Same second as the revocation: counted as before it (the safe side).
    expect(list.isRevoked(token({ iat: T0 / 1000 }))).toBe(true);
    expect(list.isRevoked(token({ iat: T0 / 1000 + 1 }))).toBe(false);
    expect(list.isRevoked(token({ sub: "bob" }))).toBe(false);
    // An earlier revocation arriving late does not shorten a later one.
    list.revoke({ user: "ann" }, T0 - 60_000);
    expect(list.isRevoked(token({ iat: T0 / 1000 - 1 }))).toBe(true);
  });

  it("survives a restart: revocations and used tickets are reloaded from SQLite", () => {
    const { db, handle } = sqlite();
    const first = new AccessList(handle);
    first.revoke({ jti: "jti-aaaaaaaa" }, T0);
    first.revoke({ user: "bob" }, T0);
    expect(first.useTicket("ticket-11111111", T0 + 60_000, T0)).toBe(true);
    const again = new AccessList(sqlite(db).handle);
    expect(again.isRevoked(token())).toBe(true);
    expect(again.isRevoked(token({ sub: "bob", jti: "jti-cccccccc" }))).toBe(true);
    expect(again.useTicket("ticket-11111111", T0 + 60_000, T0 + 1_000)).toBe(false);
    expect(again.size).toEqual({ jti: 1, user: 1, ticket: 1 });
  });

  it("checks from memory: no write per check, one per revocation or ticket", () => {
    const { handle, stats } = sqlite();
    const list = new AccessList(handle);
    const created = stats.writes;
    for (let i = 0; i < 1_000; i++) list.isRevoked(token({ jti: `jti-${String(i).padStart(8, "0")}` }));
    expect(stats.writes).toBe(created);
    list.revoke({ jti: "jti-aaaaaaaa" }, T0);
    list.revoke({ jti: "jti-aaaaaaaa" }, T0 + 1);
    list.useTicket("ticket-11111111", T0 + 60_000, T0);
    list.useTicket("ticket-11111111", T0 + 60_000, T0);
    expect(stats.writes).toBe(created + 2);
  });

  it("spends a ticket once; an expired ticket is never good", () => {
    const { handle } = sqlite();
    const list = new AccessList(handle);
    expect(list.useTicket("ticket-11111111", T0 + 60_000, T0)).toBe(true);
    expect(list.useTicket("ticket-11111111", T0 + 60_000, T0 + 1)).toBe(false);
    expect(list.useTicket("ticket-22222222", T0, T0)).toBe(false);
    expect(list.useTicket("ticket-33333333", T0 + 60_000, T0)).toBe(true);
  });

  it("prunes what can no longer match a live token, in memory and in SQLite", () => {
    const { db, handle } = sqlite();
    const keepMs = 86_400_000;
    const list = new AccessList(handle, keepMs);
    list.revoke({ jti: "jti-aaaaaaaa" }, T0);
    list.revoke({ user: "ann" }, T0);
    list.useTicket("ticket-11111111", T0 + 60_000, T0);
    expect(list.prune(T0 + 30_000)).toBe(0);
    expect(list.prune(T0 + 61_000)).toBe(1);
    expect(list.size).toEqual({ jti: 1, user: 1, ticket: 0 });
    expect(list.prune(T0 + keepMs + 1)).toBe(2);
    expect(list.size).toEqual({ jti: 0, user: 0, ticket: 0 });
    expect(db.prepare("SELECT count(*) AS n FROM access").get()).toEqual({ n: 0 });
    expect(new AccessList(sqlite(db).handle).size).toEqual({ jti: 0, user: 0, ticket: 0 });
  });

  it("keeps a revocation marked forever (a device key never expires) through every prune and restart", () => {
    const { db, handle } = sqlite();
    const keepMs = 86_400_000;
    const list = new AccessList(handle, keepMs);
    list.revoke({ jti: "fpd1.device.key", forever: true }, T0);
    list.revoke({ jti: "jti-aaaaaaaa" }, T0);
    expect(list.prune(T0 + 10 * 365 * keepMs)).toBe(1);
    expect(list.isRevoked(token({ sub: "device:x", jti: "fpd1.device.key", iat: 0 }))).toBe(true);
    expect(new AccessList(sqlite(db).handle).isRevoked(token({ jti: "fpd1.device.key" }))).toBe(true);
  });
});
