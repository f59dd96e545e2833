import { z } from "zod";
import type { IngestResult } from "../../protocol/events.ts";

/**
 * The bodies POST /v1/events answers with (202, and the 503 / 400 that carry the same detail), read with
 * zod rather than cast. `protocol/` has the interface only; `satisfies` below keeps the two in step.
 */
const issue = z.object({ path: z.string(), message: z.string() });

export const ingestReply = z.object({
  accepted: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
  rejected: z.array(z.object({ index: z.number().int().nonnegative(), id: z.string().optional(), issues: z.array(issue) })),
  leads: z.array(z.object({ id: z.string(), status: z.enum(["stored", "queued", "rejected"]) })),
  refused: z.number().int().nonnegative().optional(),
});

export type IngestReply = z.infer<typeof ingestReply>;

// Compile-time check: every reply we accept is an IngestResult, and the other way round.
const _toProtocol = (r: IngestReply) => r satisfies IngestResult;
const _fromProtocol = (r: IngestResult): IngestReply => r;
void _toProtocol;
void _fromProtocol;

/** What the sender saw: an HTTP answer (body parsed as JSON when it was JSON), or no answer at all. */
export type Reply =
  | { kind: "network"; error: string }
  | { kind: "http"; status: number; retryAfter: string | null; body: unknown };

/** The leads a reply reports (202, or 503 under backpressure) with their dialer status; none otherwise. */
export function leadStatusesOf(reply: Reply): IngestReply["leads"] {
  if (reply.kind !== "http") return [];
  const parsed = ingestReply.safeParse(reply.body);
  return parsed.success ? parsed.data.leads : [];
}
