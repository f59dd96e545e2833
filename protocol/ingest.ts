import { z } from "zod/mini";
import { activityEvent, knockEvent, locationEvent, toIssues, type Issue } from "./events.ts";
import { leadEvent } from "./lead.ts";

/** Every event POST /v1/events takes, told apart by `type` (the server's view: it needs the lead's phone check). */
export const ingestEvent = z.discriminatedUnion("type", [locationEvent, knockEvent, activityEvent, leadEvent]);
export type IngestEvent = z.infer<typeof ingestEvent>;

export interface RejectedEvent {
  index: number;
  id?: string;
  issues: Issue[];
}

/**
 * Validate each event on its own: valid ones are kept (with their index in the request, `indexes[i]` for
 * `valid[i]`), each invalid one is reported with its index and id.
 */
export function partitionEvents(raw: readonly unknown[]): { valid: IngestEvent[]; indexes: number[]; rejected: RejectedEvent[] } {
  const valid: IngestEvent[] = [];
  const indexes: number[] = [];
  const rejected: RejectedEvent[] = [];
  raw.forEach((item, index) => {
    const parsed = ingestEvent.safeParse(item);
    if (parsed.success) {
      // The same id twice in one batch is a duplicate, not an error: the buffer counts it.
      valid.push(parsed.data);
      indexes.push(index);
      return;
    }
    const id = typeof item === "object" && item !== null && typeof (item as { id?: unknown }).id === "string"
      ? (item as { id: string }).id
      : undefined;
    rejected.push({ index, ...(id ? { id } : {}), issues: toIssues(parsed.error, ["events", index]) });
  });
  return { valid, indexes, rejected };
}
