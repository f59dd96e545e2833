/**
 * A fleet of simulated canvassers against a local fieldpulse: the core that `npm run simulate`, the
 * benchmarks and the drills share. Time may be compressed (`timeScale` k: one wall second stands for
 * k simulated seconds — fixes, knocks and the phones' own waits all come k times as often).
 */
import { signToken } from "../../protocol/auth.ts";
import { Canvasser, DEFAULT_CANVASSER, personName, type CanvasserConfig } from "./canvasser.ts";
import { FleetStats, type FleetCounts } from "./fleet-stats.ts";
import { DEFAULT_GRID, type StreetGrid } from "./geo.ts";
import type { SendPolicy } from "../../web/field/send-policy.ts";
import { seededRng } from "./rng.ts";
import { DeviceSender, PWA_POLICY, retryAfterViolations, scalePolicy, type SenderHooks } from "./sender.ts";
import { createTransport, type Transport } from "./transport.ts";

export interface FleetOptions {
  url: string;
  team: string;
  devices: number;
  /** Wall time during which the canvassers work (then the phones send what they still hold). */
  durationMs: number;
  authSecret: string;
  timeScale?: number;
  canvasser?: Partial<Omit<CanvasserConfig, "userId" | "name" | "grid" | "seed">>;
  grid?: StreetGrid;
  seed?: number;
  /** The PWA's send policy with these changes, in real time (scaled by timeScale here). */
  policy?: Partial<SendPolicy>;
  /** The route the phones post to: the real one, or the bench-only naive baseline. */
  path?: string;
  userPrefix?: string;
  tickMs?: number;
  /** After the work ends, how long the phones may take to send what they hold. */
  drainMs?: number;
  requestTimeoutMs?: number;
  maxSockets?: number;
  trackIds?: boolean;
  recordTimeline?: boolean;
  hooks?: SenderHooks;
  /** Poll GET /v1/metrics (manager token) for the server's queue depth this often; 0 = never. */
  metricsEveryMs?: number;
  onProgress?: (p: FleetProgress) => void;
  progressEveryMs?: number;
  signal?: AbortSignal;
}

export interface FleetProgress {
  elapsedMs: number;
  phase: "working" | "draining";
  devices: number;
  offline: number;
  /** Events the phones still hold. */
  queued: number;
  counts: FleetCounts;
  requestsPerS: number;
  p50: number;
  p99: number;
  /** The server's buffered rows (GET /v1/metrics), when polled. */
  serverDepth: number | null;
}

export interface FleetReport {
  wallMs: number;
  timeScale: number;
  simulatedMs: number;
  devices: number;
  counts: FleetCounts;
  p50: number;
  p99: number;
  /** Events the phones still held when the drain deadline passed (0 when all went). */
  stillQueued: number;
  retryAfterViolations: number;
  acceptedIds: Set<string> | null;
  generatedIds: Set<string> | null;
  aborted: boolean;
  /** The first few bodies of each unexpected answer. */
  samples: Record<string, string[]>;
}

export interface Fleet {
  /** The sim's manager token (GET /v1/metrics, the live socket). */
  managerToken: string;
  stats: FleetStats;
  senders: DeviceSender[];
  done: Promise<FleetReport>;
}

export async function fleetTokens(opts: Pick<FleetOptions, "team" | "devices" | "authSecret" | "userPrefix" | "seed">): Promise<{ userId: string; name: string; token: string }[]> {
  const rng = seededRng((opts.seed ?? 1) * 7919);
  const prefix = opts.userPrefix ?? "sim";
  return Promise.all(
    Array.from({ length: opts.devices }, async (_, i) => {
      const userId = `${prefix}-${String(i + 1).padStart(4, "0")}`;
      const name = personName(rng);
      return { userId, name, token: await signToken({ team: opts.team, sub: userId, role: "field", name, ttlSeconds: 24 * 3600 }, opts.authSecret) };
    }),
  );
}

export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const k = opts.timeScale ?? 1;
  if (!(k > 0 && k <= 1000)) throw new Error("timeScale must be in (0, 1000]");
  const transport: Transport = createTransport(opts.url, { maxSockets: opts.maxSockets ?? 128, timeoutMs: opts.requestTimeoutMs ?? 10_000 });
  const unscaled = { ...PWA_POLICY, send: { ...PWA_POLICY.send, ...opts.policy } };
  const policy = scalePolicy(unscaled, k);
  const stats = new FleetStats(opts.trackIds ?? false);
  const people = await fleetTokens(opts);
  const managerToken = await signToken({ team: opts.team, sub: `${opts.userPrefix ?? "sim"}-manager`, role: "manager", name: "Simulator", ttlSeconds: 24 * 3600 }, opts.authSecret);
  const wallStart = Date.now();
  const wallOf = (sim: number) => Math.floor(wallStart + (sim - wallStart) / k);
  const simOf = (wall: number) => wallStart + (wall - wallStart) * k;
  const grid = opts.grid ?? DEFAULT_GRID;
  // First fixes spread over one send period (the phone's location max age, in simulated seconds), unless told.
  const fixIntervalS = opts.canvasser?.fixIntervalS ?? DEFAULT_CANVASSER.fixIntervalS;
  const startWithinS = opts.canvasser?.startWithinS ?? Math.max(fixIntervalS, Math.min(unscaled.send.maxAgeS.location, unscaled.send.sendAtCount * fixIntervalS));
  const canvassers = people.map((p, i) => new Canvasser(
    { ...DEFAULT_CANVASSER, startWithinS, ...opts.canvasser, userId: p.userId, name: p.name, grid, seed: (opts.seed ?? 1) * 100_003 + i },
    wallStart, wallOf,
  ));
  const senders = people.map((p) => new DeviceSender(p.userId, p.token, transport, policy, stats, opts.path, opts.hooks, opts.recordTimeline));
  const tickMs = opts.tickMs ?? 100;
  const drainMs = opts.drainMs ?? 30_000;
  const offlineModel = (opts.canvasser?.offlinePerHour ?? DEFAULT_CANVASSER.offlinePerHour) > 0;

  let serverDepth: number | null = null;
  let metricsBusy = false;
  const pollMetrics = async () => {
    if (metricsBusy) return;
    metricsBusy = true;
    const { reply } = await transport.get("/v1/metrics", managerToken);
    metricsBusy = false;
    if (reply.kind === "http" && reply.status === 200) {
      const teams = (reply.body as { teams?: { depth?: number }[] }).teams;
      serverDepth = teams?.[0]?.depth ?? null;
    }
  };

  const done = new Promise<FleetReport>((resolve) => {
    let phase: "working" | "draining" = "working";
    let drainUntil = Infinity;
    let aborted = false;
    let lastProgress = 0;
    let lastMetrics = 0;
    const workUntil = wallStart + opts.durationMs;

    const progress = (now: number): FleetProgress => {
      let queued = 0, offline = 0;
      for (const s of senders) queued += s.queued();
      if (phase === "working" && offlineModel) for (const c of canvassers) if (c.isOffline(simOf(now))) offline += 1;
      const [p50, p99] = stats.latency.window(now);
      return {
        elapsedMs: now - wallStart, phase, devices: senders.length, offline, queued, counts: stats.counts,
        requestsPerS: stats.requestRate(now), p50, p99, serverDepth,
      };
    };

    const finish = () => {
      clearInterval(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      const [p50, p99] = stats.latency.total();
      let stillQueued = 0, violations = 0;
      for (const s of senders) {
        stillQueued += s.queued();
        if (s.timeline) violations += retryAfterViolations(s.timeline);
      }
      transport.close();
      const wallMs = Date.now() - wallStart;
      resolve({
        wallMs, timeScale: k, simulatedMs: Math.min(wallMs, opts.durationMs) * k, devices: senders.length, counts: stats.counts, p50, p99,
        stillQueued, retryAfterViolations: violations, acceptedIds: stats.acceptedIds, generatedIds: stats.generatedIds, aborted, samples: stats.samples,
      });
    };

    const startDrain = (now: number, ms: number) => {
      phase = "draining";
      drainUntil = now + ms;
    };
    const onAbort = () => {
      aborted = true;
      if (phase === "working") startDrain(Date.now(), Math.min(drainMs, 5_000));
      else drainUntil = Math.min(drainUntil, Date.now() + 5_000);
    };
    opts.signal?.addEventListener("abort", onAbort);

    const timer = setInterval(() => {
      const now = Date.now();
      if (phase === "working" && now >= workUntil) startDrain(now, drainMs);
      if (phase === "working") {
        const sim = simOf(now);
        for (let i = 0; i < canvassers.length; i++) {
          const c = canvassers[i]!, s = senders[i]!;
          for (const e of c.advance(sim)) s.enqueue(e);
          s.tick(now, offlineModel && c.isOffline(sim));
        }
      } else {
        // Shift over: every phone is back on the network and sends what it holds, still obeying waits.
        let idle = true;
        for (const s of senders) {
          s.tick(now, false, true);
          if (s.queued() > 0 || s.busy()) idle = false;
        }
        if (idle || now >= drainUntil) return finish();
      }
      if (opts.metricsEveryMs && now - lastMetrics >= opts.metricsEveryMs) {
        lastMetrics = now;
        void pollMetrics();
      }
      if (opts.onProgress && now - lastProgress >= (opts.progressEveryMs ?? 1_000)) {
        lastProgress = now;
        opts.onProgress(progress(now));
      }
    }, tickMs);
  });

  return { managerToken, stats, senders, done };
}

/** Run a fleet to the end. */
export async function runFleet(opts: FleetOptions): Promise<FleetReport> {
  return (await startFleet(opts)).done;
}
