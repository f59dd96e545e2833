/**
 * Decisions that keep one live-map socket from starving its team (issue 11): a message budget per socket
 * and caps on sockets per token and per team. Pure: the TeamHub keeps the state (the budget in the
 * socket's attachment, so it survives hibernation) and carries the decisions out.
 */

/** A frame as the hub classified it: a valid ping or resync, or anything else (junk). */
export type FrameKind = "ping" | "resync" | "junk";

export interface SocketPolicy {
  /** Budget a socket starts with and can save up to. */
  burst: number;
  /** Budget regained per second. */
  refillPerS: number;
  /** What each kind of frame spends. A resync is the expensive one (a whole snapshot). */
  cost: Readonly<Record<FrameKind, number>>;
  /** Sockets one token (jti) may hold open at once; past it the oldest makes way (a reload's stale socket). */
  maxPerToken: number;
  /** Sockets a team may hold open at once; past it new ones are refused. */
  maxPerTeam: number;
}

/**
 * Burst 60, 1 a second: six resyncs at once and then one every 10 s (six a minute); twelve junk frames
 * and then one every 5 s; a ping every second forever. An honest map pings every 30 s and resyncs after
 * a gap, far inside this.
 */
export const SOCKET_POLICY: SocketPolicy = {
  burst: 60,
  refillPerS: 1,
  cost: { ping: 1, resync: 10, junk: 5 },
  maxPerToken: 4,
  maxPerTeam: 200,
};

/** WebSocket close code "policy violation" (RFC 6455), for a socket past its budget. */
export const CLOSE_POLICY_VIOLATION = 1008;

/** Serializable (it lives in the socket's attachment): the budget left as of `at` (ms). */
export interface Budget {
  left: number;
  at: number;
}

export type FrameVerdict =
  | { ok: true; budget: Budget }
  | { ok: false; budget: Budget; close: { code: typeof CLOSE_POLICY_VIOLATION; reason: string } };

export function freshBudget(now: number, policy: SocketPolicy = SOCKET_POLICY): Budget {
  return { left: policy.burst, at: now };
}

/** Charge one frame to a socket's budget. Past it the socket is to be closed with 1008, unanswered. */
export function chargeFrame(budget: Budget | undefined, kind: FrameKind, now: number, policy: SocketPolicy = SOCKET_POLICY): FrameVerdict {
  const start = budget ?? freshBudget(now, policy);
  // A clock that went backwards (another isolate) regains nothing rather than going negative.
  const elapsedS = Math.max(0, now - start.at) / 1000;
  const left = Math.min(policy.burst, start.left + elapsedS * policy.refillPerS) - policy.cost[kind];
  if (left < 0) {
    return {
      ok: false,
      budget: { left: 0, at: now },
      close: { code: CLOSE_POLICY_VIOLATION, reason: kind === "junk" ? "too many invalid messages" : "too many messages" },
    };
  }
  return { ok: true, budget: { left, at: now } };
}

/** An open socket as the caps see it. */
export interface OpenSocket {
  jti: string;
  connectedAt: number;
}

export type Admission<T> = { ok: true; evict: T[] } | { ok: false; reason: string };

/**
 * May a new socket for token `jti` open, given the team's open sockets? Past the per-token cap the
 * oldest sockets of that token are closed to make way (a reloaded page's old socket lingers); past the
 * per-team cap the new one is refused.
 */
export function admitSocket<T extends OpenSocket>(open: readonly T[], jti: string, policy: SocketPolicy = SOCKET_POLICY): Admission<T> {
  const mine = open.filter((s) => s.jti === jti).sort((a, b) => a.connectedAt - b.connectedAt);
  const evict = mine.slice(0, Math.max(0, mine.length - (policy.maxPerToken - 1)));
  if (open.length - evict.length >= policy.maxPerTeam) {
    return { ok: false, reason: `the team already has ${policy.maxPerTeam} live sockets open` };
  }
  return { ok: true, evict };
}
