import { describe, expect, it } from "vitest";
import { admitSocket, chargeFrame, CLOSE_POLICY_VIOLATION, SOCKET_POLICY, type Budget, type FrameKind } from "../../durable-objects/socket-guard.ts";

/** Send frames at a steady rate; how many pass before the socket is to be closed (or all of them). */
function flood(kind: FrameKind, frames: number, everyMs: number, t0 = 1_000_000) {
  let budget: Budget | undefined;
  for (let i = 0; i < frames; i++) {
    const v = chargeFrame(budget, kind, t0 + i * everyMs);
    if (!v.ok) return { passed: i, close: v.close };
    budget = v.budget;
  }
  return { passed: frames, close: null };
}

describe("chargeFrame", () => {
  it("closes a resync flood with 1008 after a few", () => {
    const r = flood("resync", 3_000, 0);
    expect(r.passed).toBe(6);
    expect(r.close).toEqual({ code: CLOSE_POLICY_VIOLATION, reason: "too many messages" });
  });

  it("counts junk frames and closes a junk flood with 1008", () => {
    const r = flood("junk", 2_000, 1);
    expect(r.passed).toBeGreaterThanOrEqual(12);
    expect(r.passed).toBeLessThan(20);
    expect(r.close?.code).toBe(1008);
    expect(r.close?.reason).toBe("too many invalid messages");
  });

  it("never closes an honest map: a ping every 30 s and a resync every 10 s, for hours", () => {
    expect(flood("ping", 1_000, 30_000).close).toBeNull();
    expect(flood("resync", 2_000, 10_000).close).toBeNull();
    // Six resyncs a minute is the sustained ceiling: a seventh each minute is too many.
    expect(flood("resync", 2_000, 8_000).close).not.toBeNull();
  });

  it("regains its budget with time, up to the burst and no further", () => {
    let v = chargeFrame(undefined, "resync", 0);
    for (let i = 0; i < 5; i++) v = chargeFrame(v.budget, "resync", 0);
    expect(v.ok && v.budget.left).toBe(0);
    expect(chargeFrame(v.budget, "resync", 0).ok).toBe(false);
    expect(chargeFrame(v.budget, "resync", 10_000).ok).toBe(true);
    const rested = chargeFrame(v.budget, "ping", 3_600_000);
    expect(rested.ok && rested.budget.left).toBe(SOCKET_POLICY.burst - 1);
  });

  it("a clock going backwards regains nothing", () => {
    const v = chargeFrame({ left: 0, at: 10_000 }, "ping", 5_000);
    expect(v.ok).toBe(false);
  });
});

describe("admitSocket", () => {
  const sockets = (jti: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ jti, connectedAt: from + i, id: `${jti}-${i}` }));

  it("admits within the caps", () => {
    expect(admitSocket([], "a")).toEqual({ ok: true, evict: [] });
    expect(admitSocket(sockets("a", 3), "a")).toEqual({ ok: true, evict: [] });
  });

  it("past the per-token cap, closes that token's oldest sockets to make way", () => {
    const open = [...sockets("b", 2), ...sockets("a", 4, 100)];
    const r = admitSocket(open, "a");
    expect(r).toEqual({ ok: true, evict: [open[2]] });
    const policy = { ...SOCKET_POLICY, maxPerToken: 2 };
    expect(admitSocket(open, "a", policy)).toEqual({ ok: true, evict: [open[2], open[3], open[4]] });
  });

  it("past the per-team cap, refuses the new socket", () => {
    const policy = { ...SOCKET_POLICY, maxPerTeam: 5 };
    const open = [...sockets("a", 2), ...sockets("b", 3)];
    const r = admitSocket(open, "c", policy);
    expect(r.ok).toBe(false);
    // A token at its own cap makes room for itself by closing its oldest, even in a full team.
    expect(admitSocket(open, "b", { ...policy, maxPerToken: 3 })).toEqual({ ok: true, evict: [open[2]] });
  });
});
