/**
 * Ingest ceiling: events/s that one TeamHub accepts with 20-event batches, at increasing concurrency
 * (1, 2, 4, …), until p99 request latency passes 50 ms or the time budget runs out. Each concurrent
 * client posts as a rotating pool of devices (tokens), posting its next batch as soon as the last one is answered.
 */
import { randomBytes } from "node:crypto";
import { percentiles } from "../dev/sim/stats.ts";
import { createTransport } from "../dev/sim/transport.ts";
import { uuidv7At as uuidv7 } from "../protocol/uuidv7.ts";
import type { BenchStack } from "./stack.ts";

export interface CeilingOptions {
  batch?: number;
  stepS?: number;
  maxConcurrency?: number;
  p99LimitMs?: number;
  /** The whole part stops starting new steps after this long. */
  budgetS?: number;
  onProgress?: (line: string) => void;
}

export interface CeilingStep {
  concurrency: number;
  seconds: number;
  requests: number;
  eventsAccepted: number;
  eventsPerS: number;
  p50: number;
  p99: number;
  errors: Record<string, number>;
}

export interface CeilingResult {
  batch: number;
  steps: CeilingStep[];
  /** The best events/s among steps whose p99 stayed within the limit (null: not even one client did). */
  ceilingEventsPerS: number | null;
  ceilingAt: CeilingStep | null;
  p99LimitMs: number;
  stoppedBecause: string;
}

/** A 20-event body, built from a template: the load generator must not be the bottleneck. */
function batchBody(n: number, at: number, lat: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(`{"id":"${uuidv7(at)}","type":"location","at":${at},"lat":${(lat + i * 1e-5).toFixed(6)},"lng":-97.7431,"accuracy":8.5,"speed":1.3,"battery":0.8}`);
  }
  return `{"events":[${parts.join(",")}]}`;
}

export async function runCeiling(stack: BenchStack, opts: CeilingOptions = {}): Promise<CeilingResult> {
  const batch = opts.batch ?? 20, stepS = opts.stepS ?? 5, maxConcurrency = opts.maxConcurrency ?? 64;
  const limit = opts.p99LimitMs ?? 50, budgetMs = (opts.budgetS ?? 60) * 1000;
  const say = opts.onProgress ?? (() => {});
  const team = `ceiling-${randomBytes(3).toString("hex")}`;
  // The per-device rate limit (wrangler.toml [[ratelimits]], 20 requests / 10 s) would refuse a client that
  // sends as fast as it can: the load comes from a pool of devices, each used far below its limit.
  const tokens = await Promise.all(Array.from({ length: 2_000 }, (_, i) => stack.token(team, `load-${i + 1}`, "field")));
  let nextToken = 0;
  const token = () => tokens[nextToken++ % tokens.length]!;
  const transport = createTransport(stack.url, { maxSockets: maxConcurrency + 4, timeoutMs: 10_000 });
  const started = Date.now();
  const steps: CeilingStep[] = [];
  let stoppedBecause = `reached the largest concurrency (${maxConcurrency})`;
  try {
    // Warm-up: the first requests load the Worker and wake the object.
    for (let i = 0; i < 5; i++) await transport.post("/v1/events", token(), batchBody(batch, Date.now(), 30.2672));
    for (let c = 1; c <= maxConcurrency; c *= 2) {
      if (Date.now() - started > budgetMs) {
        stoppedBecause = `time budget of ${budgetMs / 1000} s used`;
        break;
      }
      const latencies: number[] = [];
      const errors: Record<string, number> = {};
      let accepted = 0, requests = 0;
      const t0 = performance.now();
      const end = t0 + stepS * 1000;
      await Promise.all(Array.from({ length: c }, async (_, w) => {
        while (performance.now() < end) {
          const { reply, ms } = await transport.post("/v1/events", token(), batchBody(batch, Date.now(), 30.2 + w * 0.001));
          requests += 1;
          if (reply.kind === "http" && reply.status === 202) {
            latencies.push(ms);
            accepted += (reply.body as { accepted: number }).accepted;
          } else {
            const key = reply.kind === "http" ? String(reply.status) : "network";
            errors[key] = (errors[key] ?? 0) + 1;
            if (reply.kind === "http") latencies.push(ms);
          }
        }
      }));
      const seconds = (performance.now() - t0) / 1000;
      const [p50, p99] = percentiles(latencies);
      const step: CeilingStep = { concurrency: c, seconds, requests, eventsAccepted: accepted, eventsPerS: accepted / seconds, p50: p50!, p99: p99!, errors };
      steps.push(step);
      say(`ceiling: ${c} concurrent → ${Math.round(step.eventsPerS).toLocaleString("en-US")} events/s, p50 ${step.p50.toFixed(1)} ms, p99 ${step.p99.toFixed(1)} ms${Object.keys(errors).length ? `, errors ${JSON.stringify(errors)}` : ""}`);
      if (step.p99 > limit) {
        stoppedBecause = `p99 ${step.p99.toFixed(1)} ms > ${limit} ms at ${c} concurrent`;
        break;
      }
    }
  } finally {
    transport.close();
  }
  const within = steps.filter((s) => s.p99 <= limit && Object.keys(s.errors).length === 0);
  const best = within.reduce<CeilingStep | null>((a, s) => (a === null || s.eventsPerS > a.eventsPerS ? s : a), null);
  return { batch, steps, ceilingEventsPerS: best?.eventsPerS ?? null, ceilingAt: best, p99LimitMs: limit, stoppedBecause };
}
