import { z } from "zod";
import { EARLIEST_AT } from "../protocol/events.ts";

const FUTURE_SLACK_MS = 86_400_000;
const FORMS = "must be epoch milliseconds or an ISO-8601 date-time with a zone (2026-12-06T09:00:00Z)";

/**
 * A time in a query string (`from`, `to`, `before`): epoch ms or ISO-8601 with a zone, and a date this service
 * can hold — from 2000 (what ingest accepts: trackers replay old fixes) to a day ahead, never year 287,000.
 */
export const queryTime = z
  .union([z.coerce.number().int(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))], { error: FORMS })
  .refine((t) => t >= EARLIEST_AT && t <= Date.now() + FUTURE_SLACK_MS, { message: `${FORMS}, between 2000-01-01 and tomorrow` });
