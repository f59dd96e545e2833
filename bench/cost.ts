/**
 * What a million events cost at Cloudflare's and Upstash's list prices, from what one run measures: the
 * TeamHub's own meter (SQLite rows written, alarms set — both billed as row writes), the requests made,
 * and the Redis commands the local Upstash server served. Side by side with the first version's
 * per-event buffer (figures measured in issue 10) and the seed story's one-INSERT-per-event path.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { BenchStack } from "./stack.ts";

/** List prices (USD), Workers Paid plan, December 2026, beyond the included allowances. */
export const PRICES = {
  workerRequestPerM: 0.3,
  doRequestPerM: 0.15,
  rowWrittenPerM: 1.0,
  rowReadPerM: 0.001,
  upstashCommandPerM: 2.0, // $0.20 per 100K commands, pay as you go
} as const;

export interface CostLine {
  path: string;
  rowsWrittenPerEvent: number;
  redisCommandsPerEvent: number;
  requestsPerEvent: number;
  dollarsPerMillion: number;
  measured: boolean;
  note: string;
}

export interface CostResult {
  events: number;
  requests: number;
  batch: number;
  canvassers: number;
  rowsWritten: number;
  rowsRead: number;
  alarmsSet: number;
  redisCommands: number | null;
  lines: CostLine[];
}

const dollars = (l: Omit<CostLine, "dollarsPerMillion" | "path" | "measured" | "note">, doRequestsPerEvent: number, rowsReadPerEvent = 0) =>
  l.requestsPerEvent * PRICES.workerRequestPerM +
  doRequestsPerEvent * PRICES.doRequestPerM +
  l.rowsWrittenPerEvent * PRICES.rowWrittenPerM +
  rowsReadPerEvent * PRICES.rowReadPerM +
  l.redisCommandsPerEvent * PRICES.upstashCommandPerM;

function batchOf(n: number, now: number) {
  const events: unknown[] = [];
  for (let i = 0; i < n - 2; i++) events.push({ id: randomUUID(), type: "location", at: now - (n - i) * 1_000, lat: 30.26 + Math.random() / 100, lng: -97.74 + Math.random() / 100, accuracy: 8 });
  events.push({ id: randomUUID(), type: "knock", at: now, lat: 30.26, lng: -97.74, outcome: "no_answer" });
  events.push({ id: randomUUID(), type: "activity", at: now, kind: "note", description: "bench" });
  return { events };
}

/** 50 canvassers × `rounds` batches of 20 (18 fixes, a knock, an activity), flushed by the alarms alone. */
export async function runCost(stack: BenchStack, opts: { canvassers?: number; rounds?: number; batch?: number } = {}): Promise<CostResult> {
  const canvassers = opts.canvassers ?? 50, rounds = opts.rounds ?? 10, batch = opts.batch ?? 20;
  const team = `cost-${randomBytes(3).toString("hex")}`;
  const tokens = await Promise.all(Array.from({ length: canvassers }, (_, i) => stack.token(team, `walker-${i}`, "field")));
  const before = await stack.figures(team);
  const redisBefore = await stack.redisCommands();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(tokens.map(async (token) => {
      const res = await fetch(`${stack.url}/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(batchOf(batch, Date.now())),
      });
      if (res.status !== 202) throw new Error(`POST /v1/events: ${res.status} ${await res.text()}`);
    }));
    // Spread like phones do: a round every ~1 s (the per-device limit is 20 requests / 10 s).
    await new Promise((res) => setTimeout(res, 1_000));
  }
  await stack.waitDrained(team, 60_000);
  const after = await stack.figures(team);
  const redisAfter = await stack.redisCommands();
  const events = canvassers * rounds * batch;
  const requests = canvassers * rounds;
  const rowsWritten = after.storageRowsWritten - before.storageRowsWritten;
  const rowsRead = after.storageRowsRead - before.storageRowsRead;
  const alarmsSet = after.alarmsSet - before.alarmsSet;
  const redisCommands = redisBefore === null || redisAfter === null ? null : redisAfter - redisBefore;

  const measured = {
    requestsPerEvent: requests / events,
    rowsWrittenPerEvent: (rowsWritten + alarmsSet) / events,
    redisCommandsPerEvent: (redisCommands ?? 0) / events,
  };
  // Every POST is one Worker request and one DO request (the RPC); each alarm is one more DO request.
  const doRequests = (requests + alarmsSet) / events;
  const firstVersion = { requestsPerEvent: 1 / batch, rowsWrittenPerEvent: 7.0 + 2.0, redisCommandsPerEvent: 1 / batch + 0.002 };
  const naive = { requestsPerEvent: 1, rowsWrittenPerEvent: 0, redisCommandsPerEvent: 0 };
  return {
    events, requests, batch, canvassers, rowsWritten, rowsRead, alarmsSet, redisCommands,
    lines: [
      { path: `fieldpulse, ${batch}-event batches`, ...measured, dollarsPerMillion: dollars(measured, doRequests, rowsRead / events), measured: true, note: "measured in this run" },
      { path: "first version (one buffer row per event)", ...firstVersion, dollarsPerMillion: dollars(firstVersion, 1 / batch), measured: false, note: "issue 10's probe: 7.0 rows/event + ~2 when pruning; 1 rate-limit command per request" },
      { path: "naive: one request + one INSERT per event", ...naive, dollarsPerMillion: dollars(naive, 0), measured: false, note: "no buffer; Postgres takes one transaction per event (not priced here)" },
    ],
  };
}

export function formatCost(r: CostResult): string {
  const head = "path                                          rows written/event  Redis cmds/event  requests/event  $ per M events";
  const lines = r.lines.map((l) =>
    `${l.path.padEnd(46)}${l.rowsWrittenPerEvent.toFixed(3).padStart(18)}${l.redisCommandsPerEvent.toFixed(4).padStart(18)}${l.requestsPerEvent.toFixed(3).padStart(16)}${("$" + l.dollarsPerMillion.toFixed(2)).padStart(16)}`);
  return [
    `cost: ${r.events.toLocaleString("en-US")} events in ${r.requests} requests (${r.canvassers} canvassers × ${r.batch}-event batches): ` +
      `${r.rowsWritten} rows written + ${r.alarmsSet} alarms set, ${r.rowsRead} rows read, ${r.redisCommands ?? "?"} Redis commands`,
    head, ...lines,
    `prices: Workers $${PRICES.workerRequestPerM}/M requests, DO $${PRICES.doRequestPerM}/M requests, SQLite $${PRICES.rowWrittenPerM}/M rows written and $${PRICES.rowReadPerM}/M read, Upstash $${PRICES.upstashCommandPerM}/M commands; CPU time and DO duration not counted.`,
  ].join("\n");
}
