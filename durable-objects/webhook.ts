import { Webhook } from "standardwebhooks";
import { verdictFor, type DeliveryVerdict } from "./dialer-policy.ts";

export interface DeliveryResult {
  verdict: DeliveryVerdict;
  status: number | null;
  error?: string;
}

/** How long one delivery attempt may take before it counts as failed. */
const ATTEMPT_TIMEOUT_MS = 10_000;

/** The three Standard Webhooks headers for one attempt: a fresh timestamp and signature each time. */
export function signedHeaders(secret: string, msgId: string, body: string, now: Date): Record<string, string> {
  const signature = new Webhook(secret).sign(msgId, now, body);
  return {
    "webhook-id": msgId,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": signature,
  };
}

export async function deliver(url: string, secret: string, msgId: string, body: string, now = new Date()): Promise<DeliveryResult> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "User-Agent": "fieldpulse-webhooks/1", ...signedHeaders(secret, msgId, body, now) },
      body,
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    // Drain the body so the connection is released; its content does not matter.
    await res.arrayBuffer().catch(() => undefined);
    const verdict = verdictFor(res.status);
    return verdict === "delivered" ? { verdict, status: res.status } : { verdict, status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    return { verdict: "retry", status: null, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}
