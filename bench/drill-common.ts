/** What every drill shares: its result shape, and a deadline that turns a hang into a FAIL. */
import type { BenchStack } from "./stack.ts";

export interface DrillContext {
  stack: BenchStack;
  /** CI form: seconds, not minutes. */
  short: boolean;
  say: (line: string) => void;
}

export interface DrillResult {
  name: string;
  pass: boolean;
  seconds: number;
  /** Why it passed or failed, one fact a line. */
  lines: string[];
  figures: Record<string, unknown>;
}

export interface Check {
  ok: boolean;
  text: string;
}

export const check = (ok: boolean, text: string): Check => ({ ok, text: `${ok ? "ok  " : "FAIL"} ${text}` });

/** Run one drill within `deadlineMs`; an exception or the deadline is a FAIL with the reason. */
export async function runDrill(
  name: string,
  deadlineMs: number,
  ctx: DrillContext,
  body: (signal: AbortSignal) => Promise<{ checks: Check[]; figures: Record<string, unknown> }>,
): Promise<DrillResult> {
  const t0 = Date.now();
  ctx.say(`-- drill: ${name}`);
  let timer: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new Error(`did not finish within ${deadlineMs / 1000} s`));
      }, deadlineMs);
    });
    const { checks, figures } = await Promise.race([body(abort.signal), deadline]);
    return { name, pass: checks.every((c) => c.ok), seconds: (Date.now() - t0) / 1000, lines: checks.map((c) => c.text), figures };
  } catch (err) {
    return { name, pass: false, seconds: (Date.now() - t0) / 1000, lines: [`FAIL ${err instanceof Error ? err.message : String(err)}`], figures: {} };
  } finally {
    clearTimeout(timer);
    await ctx.stack.stopWorker().catch(() => {});
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
