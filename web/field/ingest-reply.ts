import { ingestReply, type IngestResult } from "../../protocol/events.ts";

/** The bodies POST /v1/events answers with, read with the server's own schema (protocol/events.ts), never cast. */
export { ingestReply };
export type IngestReply = IngestResult;

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
