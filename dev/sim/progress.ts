/** One progress line, rewritten in place on a terminal; a plain line every few seconds in a log. */
import type { FleetProgress } from "./fleet.ts";
import { fmtInt, fmtMs } from "./stats.ts";

const clock = (ms: number) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
};

export function progressLine(p: FleetProgress, totalMs?: number): string {
  const c = p.counts;
  return [
    `[${clock(p.elapsedMs)}${totalMs ? `/${clock(totalMs)}` : ""}${p.phase === "draining" ? " draining" : ""}]`,
    `${fmtInt(p.devices)} devices${p.offline ? ` (${p.offline} offline)` : ""}`,
    `sent ${fmtInt(c.sent)}`,
    `accepted ${fmtInt(c.accepted)}`,
    `rejected ${fmtInt(c.rejected)}`,
    `refused ${fmtInt(c.refused)}`,
    `${p.requestsPerS.toFixed(1)} req/s`,
    `p50 ${fmtMs(p.p50)} ms p99 ${fmtMs(p.p99)} ms`,
    `phones hold ${fmtInt(p.queued)}`,
    `server queue ${p.serverDepth === null ? "?" : fmtInt(p.serverDepth)}`,
    ...(c.networkErrors ? [`net errors ${fmtInt(c.networkErrors)}`] : []),
    ...(c.throttled ? [`429/503 ${fmtInt(c.throttled)}`] : []),
  ].join(" · ");
}

export function progressPrinter(stream: NodeJS.WriteStream = process.stderr, everyMsWhenLogging = 5_000) {
  let last = 0;
  return {
    update(line: string): void {
      if (stream.isTTY) {
        stream.write(`\r\x1b[K${line.slice(0, (stream.columns ?? 200) - 1)}`);
      } else if (Date.now() - last >= everyMsWhenLogging) {
        last = Date.now();
        stream.write(`${line}\n`);
      }
    },
    done(line?: string): void {
      if (stream.isTTY) stream.write(`\r\x1b[K${line ?? ""}${line ? "\n" : ""}`);
      else if (line) stream.write(`${line}\n`);
    },
  };
}
