import { exports } from "cloudflare:workers";
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { inject } from "vitest";
import { ANY_TEAM, signToken, type Role } from "../../protocol/auth.ts";

export const BASE = "http://fieldpulse.test";

export function newTeam(): string {
  return `team-${crypto.randomUUID().slice(0, 8)}`;
}

/** A token of `team` (an operator's names no team: `team` is ignored for it). */
export function tokenFor(team: string, role: Role = "field", user = `user-${crypto.randomUUID().slice(0, 8)}`, ttlSeconds?: number) {
  return signToken({ team: role === "operator" ? ANY_TEAM : team, sub: user, role, ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) }, env.AUTH_SECRET);
}

export function call(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  return exports.default.fetch(new Request(BASE + path, { ...init, headers }));
}

export function postEvents(token: string, events: unknown[] | unknown): Promise<Response> {
  return call("/v1/events", {
    method: "POST",
    token,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(Array.isArray(events) ? { events } : events),
  });
}

let at = Date.now() - 60_000;
export function locationEvent(overrides: Record<string, unknown> = {}) {
  at += 1;
  return { id: crypto.randomUUID(), type: "location", at, lat: 52.37 + Math.random() / 100, lng: 4.89 + Math.random() / 100, accuracy: 8, ...overrides };
}
export function makeLocations(n: number) {
  return Array.from({ length: n }, () => locationEvent());
}
export function knockEvent(overrides: Record<string, unknown> = {}) {
  return { id: crypto.randomUUID(), type: "knock", at: new Date().toISOString(), lat: 52.37, lng: 4.89, outcome: "interested", address: "1 Main St", ...overrides };
}
export function leadEvent(overrides: Record<string, unknown> = {}) {
  return { id: crypto.randomUUID(), type: "lead", at: Date.now(), name: "Ada Lovelace", phone: "+31 6 1234 5678", interest: "hot", ...overrides };
}
export function activityEvent(overrides: Record<string, unknown> = {}) {
  return { id: crypto.randomUUID(), type: "activity", at: Date.now(), kind: "break", meta: { minutes: 10 }, ...overrides };
}

/** Rows as a separate client (node `pg` in the control server) sees them: committed or nothing. */
export async function sql<T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> {
  const res = await fetch(`${inject("controlUrl")}/sql`, { method: "POST", body: JSON.stringify({ sql: query, params }) });
  const body = (await res.json()) as { rows?: T[]; error?: string };
  if (!res.ok || !body.rows) throw new Error(`control /sql: ${body.error ?? res.status}`);
  return body.rows;
}

export async function countRows(table: string, ids: string[]): Promise<number> {
  const rows = await sql<{ n: string }>(`SELECT count(*) AS n FROM "${table}" WHERE id = ANY($1::uuid[])`, [ids]);
  return Number(rows[0]?.n ?? 0);
}

/** Poll a condition until it holds or the deadline passes; never a fixed sleep. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? "condition"}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

export function hubFor(team: string) {
  return env.TEAM_HUB.get(env.TEAM_HUB.idFromName(team));
}

/**
 * Fire a team's alarm now and wait until its buffer is empty. An alarm due at once may already have
 * fired by itself (alarms are real here), so the outcome is awaited, not the call's return value.
 */
export async function drainByAlarm(team: string): Promise<void> {
  const hub = hubFor(team);
  await runDurableObjectAlarm(hub);
  await waitFor(async () => (await hub.figures()).depth === 0, { what: `team ${team}'s buffer to drain` });
}
