/** docs/architecture.md "Dialer": retry after 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h, for 24 h. */
export const RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000] as const;
export const RETRY_EVERY_MS = 7_200_000;
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;

/**
 * After `attempts` failed deliveries of a lead first tried at `firstAttemptAt`, when to try again —
 * or "dead" once the next try would fall outside the 24 h window.
 */
export function nextAttemptAt(attempts: number, firstAttemptAt: number, now: number): number | "dead" {
  const delay = RETRY_DELAYS_MS[attempts - 1] ?? RETRY_EVERY_MS;
  const next = now + delay;
  return next - firstAttemptAt > GIVE_UP_AFTER_MS ? "dead" : next;
}

export type DeliveryVerdict = "delivered" | "stop" | "retry";

/** 2xx = delivered; 410 Gone = the dialer wants no more of this lead; anything else = try again. */
export function verdictFor(status: number | null): DeliveryVerdict {
  if (status !== null && status >= 200 && status < 300) return "delivered";
  if (status === 410) return "stop";
  return "retry";
}
