import type { LiveKnock, LiveLead, LivePoint, LiveMessage, LiveQueue, PersonStatus } from "../../protocol/live.ts";

/*
 * The page's state as tests and a developer at the console read it. Only protocol types here: the
 * browser tests import this file under tsconfig.node.json, which must not pull in the page's DOM code.
 */

export type ConnectionState =
  /** Opening a socket (first time, or after a wait). */
  | "connecting"
  /** Open: frames flow. */
  | "open"
  /** Dropped; the next attempt is scheduled (`retryAt`). */
  | "waiting"
  /** The server refused the token (401/403): no more attempts until a new sign-in. */
  | "refused"
  /** Stopped by the page (signed out). */
  | "stopped";

export interface ConnectionInfo {
  state: ConnectionState;
  /** Failed attempts since the last good snapshot. */
  attempt: number;
  retryAt: number | null;
  /** Sockets that opened, over the session's life. */
  opened: number;
  lastFrameAt: number | null;
  lastError: string | null;
  /** When the page lost the server (browser offline, missed pongs, a closed socket), until a fresh snapshot. */
  disconnectedSince: number | null;
}

export type FrameCounts = Record<LiveMessage["type"] | "invalid" | "total", number>;

export type BasemapState = { kind: "loading" | "styled" | "offline"; note: string | null };

export interface PersonView extends LivePoint {
  /** The name from the token, or the user id. */
  label: string;
  status: PersonStatus;
}

/**
 * `window.__fieldpulseMap`: what the page shows, read-only. Every call returns a copy; the one action
 * is a simulated network drop.
 */
export interface MapHooks {
  readonly view: "login" | "map";
  readonly connection: ConnectionState | "signed-out";
  connectionInfo(): ConnectionInfo | null;
  frames(): FrameCounts | null;
  readonly mapReady: boolean;
  basemap(): BasemapState | null;
  readonly following: boolean;
  people(): PersonView[];
  knocks(): LiveKnock[];
  leads(): LiveLead[];
  queue(): LiveQueue | null;
  /** Knocks the window holds in all (the snapshot's total, kept by knock/unknock frames). */
  readonly knocksTotal: number;
  /** A person's knocks over the window, from the server's per-outcome counts. */
  knockCount(userId: string): number;
  /** Server time the page froze statuses at (it lost the server), or null. */
  readonly frozenAt: number | null;
  /** Whole reloads and diffs sent to the people source. */
  peopleUpdates(): { full: number; diffs: number } | null;
  /** The history on show, if any: its person, segments, stops and knocks. */
  history(): { userId: string; segments: number; stops: number; knocks: number } | null;
  /** Close the live socket from the page, as a network drop would; the page reconnects by itself. */
  dropConnection(): void;
}
