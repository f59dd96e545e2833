import type { Reply } from "./ingest-reply.ts";

/** How long one POST may take before it counts as a network failure (a phone on one bar of signal). */
export const SEND_TIMEOUT_MS = 30_000;

/** POST /v1/events. Never throws: a failure to get any answer is a `network` reply. */
export async function postEvents(origin: string, token: string, events: readonly unknown[], fetchImpl: typeof fetch = fetch): Promise<Reply> {
  let res: Response;
  try {
    res = await fetchImpl(new URL("/v1/events", origin), {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ events }),
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      // The outbox already survives the page; keepalive would cap the body at 64 KiB.
      cache: "no-store",
    });
  } catch (err) {
    return { kind: "network", error: err instanceof Error ? err.message : String(err) };
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON (a proxy's error page, a cut connection mid-body): the status decides alone.
  }
  return { kind: "http", status: res.status, retryAfter: res.headers.get("Retry-After"), body };
}
