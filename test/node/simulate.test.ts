// The simulator's core without a server: the canvasser model, the time-compressed policy, and one phone's
// sender against a scripted transport. The decisions themselves are the PWA's (send-policy.test.ts).
import { describe, expect, it } from "vitest";
import { Canvasser, DEFAULT_CANVASSER, type CanvasserConfig } from "../../dev/sim/canvasser.ts";
import { FleetStats } from "../../dev/sim/fleet-stats.ts";
import { DEFAULT_GRID, toLatLng } from "../../dev/sim/geo.ts";
import { DeviceSender, PWA_POLICY, retryAfterViolations, scalePolicy, type Reply } from "../../dev/sim/sender.ts";
import { assertLocalUrl, type TimedReply, type Transport } from "../../dev/sim/transport.ts";
import { ingestEvent, type IngestEvent } from "../../protocol/ingest.ts";

const T0 = Date.UTC(2026, 10, 28, 9, 0, 0);
const HOUR = 3_600_000;

function canvasser(i: number, over: Partial<CanvasserConfig> = {}): Canvasser {
  return new Canvasser({ ...DEFAULT_CANVASSER, offlinePerHour: 0, userId: `u${i}`, name: `N ${i}`, grid: DEFAULT_GRID, seed: 1000 + i, ...over }, T0, (sim) => Math.floor(sim));
}

/** One simulated hour of a canvasser, advanced in 1 s steps as the fleet's ticks do. */
function hourOf(c: Canvasser, hours = 1): IngestEvent[] {
  const out: IngestEvent[] = [];
  for (let t = T0; t <= T0 + hours * HOUR; t += 1_000) out.push(...c.advance(t));
  return out;
}

const metres = (a: { lat: number; lng: number }, b: { lat: number; lng: number }) => {
  const dy = (a.lat - b.lat) * 111_320, dx = (a.lng - b.lng) * 111_320 * Math.cos((a.lat * Math.PI) / 180);
  return Math.hypot(dx, dy);
};

describe("canvasser model", () => {
  it("makes only events the ingest API accepts, oldest first", () => {
    const events = hourOf(canvasser(1));
    expect(events.length).toBeGreaterThan(600);
    for (const e of events) expect(ingestEvent.safeParse(e).success, JSON.stringify(e)).toBe(true);
    const ats = events.map((e) => e.at as number);
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  it("records a fix every fix interval (±10 %) and walks at walking speed inside the grid", () => {
    const fixes = hourOf(canvasser(2, { fixIntervalS: 5 })).filter((e) => e.type === "location");
    expect(fixes.length).toBeGreaterThan(3600 / 5.5);
    expect(fixes.length).toBeLessThan(3600 / 4.5 + 2);
    const half = (DEFAULT_GRID.blocks / 2) * DEFAULT_GRID.blockM + 100; // the grid plus doors and GPS noise
    const corner = toLatLng(DEFAULT_GRID.origin, half, half);
    for (const f of fixes) {
      expect(Math.abs(f.lat - DEFAULT_GRID.origin.lat)).toBeLessThan(corner.lat - DEFAULT_GRID.origin.lat);
      expect(f.accuracy).toBeGreaterThanOrEqual(3);
      expect(f.accuracy).toBeLessThanOrEqual(40);
    }
    // Between consecutive fixes nobody moves faster than a brisk walk plus GPS error.
    for (let i = 1; i < fixes.length; i++) {
      const dt = ((fixes[i]!.at as number) - (fixes[i - 1]!.at as number)) / 1000;
      expect(metres(fixes[i]!, fixes[i - 1]!)).toBeLessThan(1.35 * dt + 4 * 40);
    }
    const walking = fixes.filter((f) => (f.speed ?? 0) > 0.5);
    const mean = walking.reduce((s, f) => s + f.speed!, 0) / walking.length;
    expect(mean).toBeGreaterThan(1.1);
    expect(mean).toBeLessThan(1.6);
  });

  it("knocks at the configured rate with a realistic outcome mix, and leads for about leadShare of knocks", () => {
    const all = Array.from({ length: 40 }, (_, i) => hourOf(canvasser(100 + i, { knocksPerHour: 20, leadShare: 0.1 }), 2)).flat();
    const knocks = all.filter((e) => e.type === "knock");
    const leads = all.filter((e) => e.type === "lead");
    const perHour = knocks.length / 40 / 2;
    expect(perHour).toBeGreaterThan(15);
    expect(perHour).toBeLessThan(25);
    const share = (o: string) => knocks.filter((k) => k.outcome === o).length / knocks.length;
    expect(share("no_answer")).toBeGreaterThan(0.4);
    expect(share("no_answer")).toBeLessThan(0.6);
    expect(share("interested")).toBeGreaterThan(0.06);
    expect(leads.length / knocks.length).toBeGreaterThan(0.06);
    expect(leads.length / knocks.length).toBeLessThan(0.14);
    for (const l of leads) expect(l.name.length).toBeGreaterThan(0);
  });

  it("starts in the steady state: a short run at the seed's rates already ends long visits in leads", () => {
    // The seed story's fleet for ten minutes: 200 phones, 500 knocks/h and 50 leads/h in all.
    const all = Array.from({ length: 200 }, (_, i) => {
      const c = canvasser(300 + i, { knocksPerHour: 2.5, leadShare: 0.1 });
      const out: IngestEvent[] = [];
      for (let t = T0; t <= T0 + 10 * 60_000; t += 1_000) out.push(...c.advance(t));
      return out;
    }).flat();
    const knocks = all.filter((e) => e.type === "knock").length;
    const leads = all.filter((e) => e.type === "lead").length;
    expect(knocks).toBeGreaterThan(500 / 6 / 2);
    expect(knocks).toBeLessThan((500 / 6) * 2);
    expect(leads).toBeGreaterThan(0);
    expect(leads).toBeLessThan(knocks * 0.3);
  });

  it("is reproducible: the same seed walks the same streets", () => {
    const a = hourOf(canvasser(7)).map((e) => (e.type === "location" ? [e.at, e.lat, e.lng] : [e.at, e.type]));
    const b = hourOf(canvasser(7)).map((e) => (e.type === "location" ? [e.at, e.lat, e.lng] : [e.at, e.type]));
    expect(a).toEqual(b);
  });

  it("goes offline now and then for a while, and comes back", () => {
    const c = canvasser(9, { offlinePerHour: 2, offlineMeanS: 120 });
    let offline = 0;
    for (let t = T0; t < T0 + 5 * HOUR; t += 1_000) if (c.isOffline(t)) offline += 1;
    expect(offline).toBeGreaterThan(60);
    expect(offline).toBeLessThan(5 * 3600 * 0.5);
  });
});

describe("the phones' policy", () => {
  it("is the PWA's own, with the phone's waits compressed with the clock", () => {
    expect(PWA_POLICY.send.maxAgeS).toEqual({ location: 15, knock: 3, activity: 15 });
    const p = scalePolicy(PWA_POLICY, 10);
    expect(p.send.maxAgeS).toEqual({ location: 1.5, knock: 0.3, activity: 1.5 });
    expect(p.send.sendAtCount).toBe(PWA_POLICY.send.sendAtCount);
    expect(p.backoff).toEqual({ baseMs: 100, capMs: 30_000 });
    expect(p.limits).toEqual(PWA_POLICY.limits);
    expect(scalePolicy(PWA_POLICY, 1)).toBe(PWA_POLICY);
  });

  it("refuses anything but a local server", () => {
    expect(assertLocalUrl("http://127.0.0.1:8787").port).toBe("8787");
    expect(() => assertLocalUrl("http://localhost:8787")).not.toThrow();
    expect(() => assertLocalUrl("https://fieldpulse.example.com")).toThrow(/only/);
    expect(() => assertLocalUrl("http://10.0.0.5:8787")).toThrow(/only/);
  });
});

describe("a phone's sender", () => {
  /** A transport that answers from a script and records what was sent. */
  function scripted(replies: Reply[]): Transport & { bodies: string[] } {
    const bodies: string[] = [];
    return {
      base: new URL("http://127.0.0.1:1"),
      bodies,
      async post(_path, _token, body): Promise<TimedReply> {
        bodies.push(body);
        return { reply: replies.shift() ?? { kind: "http", status: 202, body: { accepted: 0, duplicates: 0, rejected: [], leads: [] }, retryAfter: null }, ms: 3 };
      },
      async get(): Promise<TimedReply> {
        return { reply: { kind: "network", error: "n/a" }, ms: 0 };
      },
      close() {},
    };
  }
  const settle = () => new Promise((r) => setImmediate(r));
  const loc = (id: string, at: number): IngestEvent => ({ id, type: "location", at, lat: 30, lng: -97 });
  const lead = (id: string, at: number): IngestEvent => ({ id, type: "lead", at, name: "Ana" });

  it("keeps refused events after a 503, honours its Retry-After, then sends them again", async () => {
    const t = scripted([{ kind: "http", status: 503, body: { accepted: 1, duplicates: 0, rejected: [], leads: [{ id: "L", status: "stored" }], refused: 2 }, retryAfter: "2" }]);
    const stats = new FleetStats(true);
    const s = new DeviceSender("u1", "tok", t, PWA_POLICY, stats, "/v1/events", {}, true);
    const now = Date.now();
    s.enqueue(loc("a", now - 20_000));
    s.enqueue(loc("b", now - 19_000));
    s.enqueue(lead("L", now));
    s.tick(now, false);
    await settle();
    expect(JSON.parse(t.bodies[0]!).events.map((e: { id: string }) => e.id)).toEqual(["L", "a", "b"]);
    expect(s.queued()).toBe(2);
    expect([...stats.acceptedIds!]).toEqual(["L"]);
    s.tick(Date.now() + 1_000, false); // still inside Retry-After: nothing goes
    await settle();
    expect(t.bodies).toHaveLength(1);
    s.tick(Date.now() + 2_100, false);
    await settle();
    expect(t.bodies).toHaveLength(2);
    expect(s.queued()).toBe(0);
    expect(stats.counts.throttledWithRetryAfter).toBe(1);
    expect(stats.counts.refused).toBe(2);
    expect(retryAfterViolations(s.timeline!)).toBe(0);
  });

  it("does not send while offline or before a batch is due", async () => {
    const t = scripted([]);
    const s = new DeviceSender("u2", "tok", t, PWA_POLICY, new FleetStats(), "/v1/events");
    const now = Date.now();
    s.enqueue(loc("a", now));
    s.tick(now, false);
    s.tick(now + 20_000, true);
    await settle();
    expect(t.bodies).toHaveLength(0);
    s.tick(now + 20_000, false);
    await settle();
    expect(t.bodies).toHaveLength(1);
  });

  it("backs off after a 500 with the PWA's jitter, halves its batches after a 413, stops on 401", async () => {
    const t = scripted([
      { kind: "http", status: 500, body: {}, retryAfter: null },
      { kind: "http", status: 413, body: {}, retryAfter: null },
      { kind: "http", status: 401, body: {}, retryAfter: null },
    ]);
    const s = new DeviceSender("u3", "tok", t, PWA_POLICY, new FleetStats(), "/v1/events");
    const now = Date.now();
    for (let i = 0; i < 4; i++) s.enqueue(loc(`a${i}`, now - 30_000 + i));
    s.tick(now, false);
    await settle();
    s.tick(Date.now() + PWA_POLICY.backoff.baseMs, false); // the first backoff is below the base: past it, the phone retries
    await settle();
    expect(t.bodies.map((b) => JSON.parse(b).events.length)).toEqual([4, 4]);
    s.tick(Date.now() + PWA_POLICY.backoff.baseMs, false);
    await settle();
    expect(JSON.parse(t.bodies[2]!).events).toHaveLength(2);
    s.tick(Date.now() + 10 * 60_000, false, true);
    await settle();
    expect(t.bodies).toHaveLength(3);
    expect(s.queued()).toBe(4);
  });

  it("counts a request sent before the previous Retry-After elapsed as a violation", () => {
    expect(retryAfterViolations([
      { start: 0, end: 10, status: 503, retryAfterMs: 1_000 },
      { start: 500, end: 510, status: 202, retryAfterMs: null },
      { start: 600, end: 610, status: 202, retryAfterMs: null },
    ])).toBe(1);
  });
});
