/**
 * One simulated canvasser: walks a street grid at walking speed, stops at doors, logs each knock's
 * outcome, submits a lead for some of the interested ones, and records a GPS fix every few seconds
 * with realistic noise. A pure model over simulated time: `advance(t)` returns what happened up to t.
 */
import type { ActivityEvent, IngestEvent, KnockEvent, KnockOutcome, LeadEvent, LocationEvent } from "../../protocol/events.ts";
import { houseNumber, nextNode, nodeXY, randomNode, streetName, toLatLng, type Node, type StreetGrid } from "./geo.ts";
import { exponential, gaussian, pickOne, pickWeighted, seededRng, uniform, type Rng } from "./rng.ts";
import { uuidv7At as uuidv7 } from "../../protocol/uuidv7.ts";

export interface CanvasserConfig {
  userId: string;
  name: string;
  grid: StreetGrid;
  seed: number;
  /** Simulated seconds between GPS fixes (±10 % jitter, as phones deliver them). */
  fixIntervalS: number;
  /** Doors knocked per hour by this canvasser (realistic: 15–40; the seed story's fleet: 2.5). */
  knocksPerHour: number;
  /** Share of all knocks that end in a lead (the seed story: 50 leads per 500 knocks = 0.1). */
  leadShare: number;
  activitiesPerHour: number;
  /** Spells without network per hour, and their mean length (simulated seconds). */
  offlinePerHour: number;
  offlineMeanS: number;
  walkSpeedMps: number;
  /**
   * The first fix comes within this many simulated seconds (default: one fix interval). Phones are switched
   * on at different moments: spreading first fixes over a whole send period keeps a fleet that starts at
   * once from sending in lockstep.
   */
  startWithinS?: number;
}

export const DEFAULT_CANVASSER: Omit<CanvasserConfig, "userId" | "name" | "grid" | "seed"> = {
  fixIntervalS: 5,
  knocksPerHour: 20,
  leadShare: 0.1,
  activitiesPerHour: 1,
  offlinePerHour: 0.5,
  offlineMeanS: 90,
  walkSpeedMps: 1.35,
};

/** What happens at a door, and how long it takes (seconds). Canvassing rule of thumb: half nobody home. */
export const OUTCOME_MIX: Readonly<Record<KnockOutcome, number>> = {
  no_answer: 0.5,
  not_interested: 0.22,
  interested: 0.12,
  callback: 0.08,
  do_not_knock: 0.03,
  other: 0.05,
};
const VISIT_S: Readonly<Record<KnockOutcome, [number, number]>> = {
  no_answer: [15, 40],
  not_interested: [25, 60],
  interested: [120, 300],
  callback: [60, 120],
  do_not_knock: [10, 30],
  other: [30, 90],
};
export const MEAN_VISIT_S = (Object.keys(OUTCOME_MIX) as KnockOutcome[]).reduce(
  (s, k) => s + OUTCOME_MIX[k] * (VISIT_S[k][0] + VISIT_S[k][1]) / 2,
  0,
);

const FIRST = ["Ava", "Liam", "Maya", "Noah", "Sofia", "Ethan", "Chloe", "Lucas", "Zoe", "Mateo", "Priya", "Omar", "Grace", "Diego", "Hana", "Isaac"];
const LAST = ["Martinez", "Nguyen", "Johnson", "Patel", "Garcia", "Kim", "Okafor", "Smith", "Rossi", "Cohen", "Silva", "Brown", "Lopez", "Walker"];
const NOTES = ["asked about pricing", "wants a call after 6 pm", "has a dog, use the side gate", "spoke with the owner", "renter, owner lives nearby"];
const ACTIVITIES = ["break", "note", "script_viewed", "territory_check"] as const;

export function personName(rng: Rng): string {
  return `${pickOne(rng, FIRST)} ${pickOne(rng, LAST)}`;
}

type Phase =
  | { kind: "walking"; until: number }
  | { kind: "door"; until: number; outcome: KnockOutcome; x: number; y: number; address: string };

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

export class Canvasser {
  readonly userId: string;
  readonly name: string;
  private readonly cfg: CanvasserConfig;
  private readonly rng: Rng;
  /** Simulated time (ms) up to which the model has run. */
  private t: number;
  // Walking on the grid: along the segment from → to, `along` metres from `from`.
  private from: Node;
  private to: Node;
  private along = 0;
  private phase: Phase;
  private nextFixAt: number;
  private nextActivityAt: number;
  private offline: { from: number; until: number };
  private noise = { x: 0, y: 0 };
  private battery: number;
  private started = false;

  /** `wallOf` maps a simulated instant to the wall-clock ms the event carries as `at`. */
  constructor(cfg: CanvasserConfig, simStart: number, private readonly wallOf: (simMs: number) => number) {
    this.cfg = cfg;
    this.userId = cfg.userId;
    this.name = cfg.name;
    this.rng = seededRng(cfg.seed);
    this.t = simStart;
    this.from = randomNode(cfg.grid, this.rng);
    this.to = nextNode(cfg.grid, this.from, null, this.rng);
    this.along = this.rng() * cfg.grid.blockM;
    this.battery = uniform(this.rng, 0.6, 1);
    // Phones do not all wake on the same second.
    this.nextFixAt = simStart + this.rng() * (cfg.startWithinS ?? cfg.fixIntervalS) * 1000;
    // Start in the steady state, not all on the pavement: gaps between doors are exponential (so a full gap
    // is the time left to the first door), and a canvasser is at a door a visit's share of the time, caught
    // part-way through a visit picked in proportion to how long it lasts. Else a short run sees no long
    // (interested → lead) visits end at all.
    this.phase = { kind: "walking", until: simStart + this.walkMs() };
    const meanWalkS = Math.max(15, 3600 / Math.max(cfg.knocksPerHour, 1e-6) - MEAN_VISIT_S);
    if (cfg.knocksPerHour > 0 && this.rng() < MEAN_VISIT_S / (MEAN_VISIT_S + meanWalkS)) {
      const byTime = Object.fromEntries((Object.keys(OUTCOME_MIX) as KnockOutcome[]).map((k) => [k, OUTCOME_MIX[k] * (VISIT_S[k][0] + VISIT_S[k][1])])) as Record<KnockOutcome, number>;
      const outcome = pickWeighted(this.rng, byTime);
      this.atDoor(outcome, this.visitMs(outcome) * this.rng());
    }
    this.nextActivityAt = cfg.activitiesPerHour > 0 ? simStart + exponential(this.rng, 3_600_000 / cfg.activitiesPerHour) : Infinity;
    const firstOffline = cfg.offlinePerHour > 0 ? simStart + exponential(this.rng, 3_600_000 / cfg.offlinePerHour) : Infinity;
    this.offline = { from: firstOffline, until: firstOffline + this.offlineMs() };
  }

  /** Whether the phone has no network at simulated time `simMs` (it keeps recording all the same). */
  isOffline(simMs: number): boolean {
    while (simMs >= this.offline.until) {
      const from = this.offline.until + exponential(this.rng, 3_600_000 / this.cfg.offlinePerHour);
      this.offline = { from, until: from + this.offlineMs() };
    }
    return simMs >= this.offline.from;
  }

  /** Run the model up to simulated time `simMs`; the events it produced, oldest first. */
  advance(simMs: number): IngestEvent[] {
    const out: IngestEvent[] = [];
    if (!this.started) {
      this.started = true;
      if (this.cfg.activitiesPerHour > 0) out.push(this.activity("shift_start", "started canvassing"));
    }
    for (;;) {
      const next = Math.min(this.nextFixAt, this.phase.until, this.nextActivityAt);
      if (next > simMs) {
        this.move(simMs);
        return out;
      }
      this.move(next);
      if (next === this.nextFixAt) {
        out.push(this.fix());
        this.nextFixAt += this.cfg.fixIntervalS * 1000 * uniform(this.rng, 0.9, 1.1);
      } else if (next === this.phase.until) {
        this.endPhase(out);
      } else {
        const kind = pickOne(this.rng, ACTIVITIES);
        out.push(this.activity(kind, kind === "break" ? "short break" : undefined));
        this.nextActivityAt += exponential(this.rng, 3_600_000 / this.cfg.activitiesPerHour);
      }
    }
  }

  /** Where the canvasser is (metres from the grid's origin) and which way they face. */
  private here(): { x: number; y: number; heading: number } {
    if (this.phase.kind === "door") return { x: this.phase.x, y: this.phase.y, heading: this.headingDeg() };
    const a = nodeXY(this.cfg.grid, this.from), b = nodeXY(this.cfg.grid, this.to);
    const f = this.along / this.cfg.grid.blockM;
    return { x: a.x + (b.x - a.x) * f, y: a.y + (b.y - a.y) * f, heading: this.headingDeg() };
  }

  private headingDeg(): number {
    const dx = this.to.i - this.from.i, dy = this.to.j - this.from.j;
    return ((Math.atan2(dx, dy) * 180) / Math.PI + 360) % 360;
  }

  private move(until: number): void {
    const dt = (until - this.t) / 1000;
    this.battery = Math.max(0.05, this.battery - dt * (0.08 / 3600));
    if (this.phase.kind === "walking" && dt > 0) {
      let d = dt * this.cfg.walkSpeedMps;
      while (d > 0) {
        const left = this.cfg.grid.blockM - this.along;
        if (d < left) {
          this.along += d;
          break;
        }
        d -= left;
        const prev = this.from;
        this.from = this.to;
        this.to = nextNode(this.cfg.grid, this.from, prev, this.rng);
        this.along = 0;
      }
    }
    this.t = until;
  }

  private walkMs(): number {
    const meanGapS = 3600 / Math.max(this.cfg.knocksPerHour, 1e-6);
    return Math.max(10, exponential(this.rng, Math.max(15, meanGapS - MEAN_VISIT_S))) * 1000;
  }

  private offlineMs(): number {
    return Math.min(20 * 60, Math.max(10, exponential(this.rng, this.cfg.offlineMeanS))) * 1000;
  }

  private visitMs(outcome: KnockOutcome): number {
    const [lo, hi] = VISIT_S[outcome];
    return uniform(this.rng, lo, hi) * 1000;
  }

  /** Step off the street to a door on one side, for a visit that ends `visitMs` from now with `outcome`. */
  private atDoor(outcome: KnockOutcome, visitMs: number): void {
    const { x, y } = this.here();
    const side: 1 | -1 = this.rng() < 0.5 ? 1 : -1;
    const offset = uniform(this.rng, 8, 15) * side;
    const horizontal = this.from.j === this.to.j;
    const west = nodeXY(this.cfg.grid, { i: 0, j: 0 });
    const along = horizontal ? x - west.x : y - west.y;
    const address = `${houseNumber(along, this.cfg.grid.blockM, side)} ${streetName(this.from, this.to)}`;
    this.phase = { kind: "door", until: this.t + visitMs, outcome, x: horizontal ? x : x + offset, y: horizontal ? y + offset : y, address };
  }

  private endPhase(out: IngestEvent[]): void {
    if (this.phase.kind === "walking") {
      const outcome = pickWeighted(this.rng, OUTCOME_MIX);
      this.atDoor(outcome, this.visitMs(outcome));
      return;
    }
    const door = this.phase;
    const { lat, lng } = toLatLng(this.cfg.grid.origin, door.x, door.y);
    const knock: KnockEvent = {
      id: uuidv7(this.wallOf(this.t)), type: "knock", at: this.wallOf(this.t),
      lat: round(lat, 7), lng: round(lng, 7), outcome: door.outcome, address: door.address,
      ...(door.outcome !== "no_answer" && this.rng() < 0.3 ? { notes: pickOne(this.rng, NOTES) } : {}),
    };
    out.push(knock);
    if (this.wantsLead(door.outcome)) out.push(this.lead(door.address, lat, lng));
    this.phase = { kind: "walking", until: this.t + this.walkMs() };
  }

  /** Leads come from interested people first, then from callbacks, so that leads ≈ leadShare × knocks. */
  private wantsLead(outcome: KnockOutcome): boolean {
    const share = this.cfg.leadShare;
    if (outcome === "interested") return this.rng() < Math.min(1, share / OUTCOME_MIX.interested);
    if (outcome === "callback") return this.rng() < Math.max(0, Math.min(1, (share - OUTCOME_MIX.interested) / OUTCOME_MIX.callback));
    return false;
  }

  private lead(address: string, lat: number, lng: number): LeadEvent {
    const name = personName(this.rng);
    const at = this.wallOf(this.t) + 1;
    return {
      id: uuidv7(at), type: "lead", at, name,
      phone: `+1 512-555-${String(Math.floor(this.rng() * 10_000)).padStart(4, "0")}`,
      ...(this.rng() < 0.4 ? { email: `${name.toLowerCase().replace(" ", ".")}@example.com` } : {}),
      address, lat: round(lat, 7), lng: round(lng, 7),
      interest: pickWeighted(this.rng, { hot: 0.3, warm: 0.5, cold: 0.2 }),
      ...(this.rng() < 0.5 ? { notes: pickOne(this.rng, NOTES) } : {}),
    };
  }

  private fix(): LocationEvent {
    const { x, y, heading } = this.here();
    // Consumer GPS: 3–40 m accuracy, error correlated from one fix to the next (AR(1)).
    const accuracy = Math.min(40, 3 + Math.abs(gaussian(this.rng)) * 7);
    const sigma = accuracy / 2;
    this.noise.x = 0.7 * this.noise.x + 0.71 * sigma * gaussian(this.rng);
    this.noise.y = 0.7 * this.noise.y + 0.71 * sigma * gaussian(this.rng);
    const { lat, lng } = toLatLng(this.cfg.grid.origin, x + this.noise.x, y + this.noise.y);
    const walking = this.phase.kind === "walking";
    const at = this.wallOf(this.t);
    return {
      id: uuidv7(at), type: "location", at,
      lat: round(lat, 7), lng: round(lng, 7),
      accuracy: round(accuracy, 1),
      speed: round(Math.max(0, walking ? this.cfg.walkSpeedMps + gaussian(this.rng) * 0.15 : Math.abs(gaussian(this.rng)) * 0.1), 2),
      heading: round(heading, 1),
      altitude: round(150 + gaussian(this.rng) * 3, 1),
      battery: round(this.battery, 2),
    };
  }

  private activity(kind: string, description?: string): ActivityEvent {
    const at = this.wallOf(this.t);
    return { id: uuidv7(at), type: "activity", at, kind, ...(description ? { description } : {}), meta: { source: "simulator" } };
  }
}
