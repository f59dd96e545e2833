/**
 * The vocabulary of events, on its own so the manager's map can import it without the ingest schemas (and
 * the phone-number metadata they pull in). protocol/events.ts re-exports it.
 */
export const EVENT_KINDS = ["location", "knock", "activity", "lead"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
/** Kinds that wait in the TeamHub buffer; leads are written at once. */
export const BUFFERED_KINDS = ["location", "knock", "activity"] as const;

export const KNOCK_OUTCOMES = ["no_answer", "not_interested", "interested", "callback", "do_not_knock", "other"] as const;
export type KnockOutcome = (typeof KNOCK_OUTCOMES)[number];
export const LEAD_INTEREST = ["hot", "warm", "cold"] as const;
