import { z } from "zod/mini";
import { keepFix, type Fix, type FixFilter } from "./geo-filter.ts";
import { positionFrom, type Position } from "./event-factory.ts";
import { rememberFix } from "./position.ts";

/**
 * A shift: GPS watched with high accuracy, fixes passed through the filter, the screen kept on. The shift
 * (and the last kept fix, which the filter compares against) survive a reload.
 */
export type GeoState = "off" | "waiting" | "ok" | "denied" | "unavailable";

export interface ShiftOptions {
  filter(): FixFilter;
  /** Every fix: the current position, for knocks and the GPS line. */
  onFix(position: Position): void;
  /** A fix worth sending. */
  onKeep(position: Position): Promise<void>;
  onGeo(state: GeoState): void;
  onWakeLock(held: boolean): void;
}

const SHIFT_KEY = "fieldpulse.shift";
const LAST_KEPT_KEY = "fieldpulse.lastKept";
const KEPT_COUNT_KEY = "fieldpulse.shiftFixes";
/** A knock uses the watch's last fix when it is this fresh. */
const FRESH_FIX_MS = 60_000;

export class Shift {
  private watchId: number | null = null;
  private wake: WakeLockSentinel | null = null;
  private waiters: ((p: Position) => void)[] = [];
  lastFix: Position | null = null;
  geo: GeoState = "off";

  constructor(private readonly o: ShiftOptions) {}

  get on(): boolean {
    return localStorage.getItem(SHIFT_KEY) !== null;
  }

  /** Fixes kept since the shift started (across reloads). */
  get kept(): number {
    const v = Number(localStorage.getItem(KEPT_COUNT_KEY));
    return Number.isFinite(v) ? v : 0;
  }

  start(): void {
    localStorage.setItem(SHIFT_KEY, String(Date.now()));
    localStorage.removeItem(LAST_KEPT_KEY);
    localStorage.setItem(KEPT_COUNT_KEY, "0");
    this.watch();
    void this.holdScreen();
  }

  stop(): void {
    localStorage.removeItem(SHIFT_KEY);
    if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
    this.watchId = null;
    void this.wake?.release().catch(() => {});
    this.wake = null;
    this.setGeo("off");
  }

  /** After a reload: pick the shift up where it was. */
  resume(): void {
    if (!this.on || this.watchId !== null) return;
    this.watch();
    void this.holdScreen();
  }

  /** The page is visible again: the platform drops the wake lock whenever it is hidden. */
  onVisible(): void {
    if (this.on && !this.wake) void this.holdScreen();
  }

  /** The permission was granted after a refusal (site settings): watch again. */
  onPermissionGranted(): void {
    if (this.on && this.geo === "denied") this.watch();
  }

  /**
   * Where the canvasser stands: a fresh fix, or the watch's last one (on shift it reports every move, so a
   * canvasser standing at a door keeps their fix), else the next one (on shift) or a one-off reading.
   */
  currentPosition(timeoutMs = 15_000): Promise<Position> {
    if (this.lastFix && Date.now() - this.lastFix.at < FRESH_FIX_MS) return Promise.resolve(this.lastFix);
    if (this.lastFix && this.watchId !== null && this.geo === "ok") return Promise.resolve(this.lastFix);
    if (!("geolocation" in navigator)) return Promise.reject(new Error("This phone has no location service."));
    if (this.geo === "denied") return Promise.reject(new Error("Location is blocked for this app: allow it to log knocks."));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("No GPS fix yet. Try again in the open.")), timeoutMs);
      const done = (p: Position) => {
        clearTimeout(timer);
        resolve(p);
      };
      if (this.watchId !== null) {
        // A one-off request times out while a watch runs: wait for the watch's next fix instead.
        this.waiters.push(done);
        return;
      }
      navigator.geolocation.getCurrentPosition(
        (p) => done(this.accept(p)),
        (err) => {
          clearTimeout(timer);
          if (err.code === err.PERMISSION_DENIED) this.setGeo("denied");
          reject(new Error(err.code === err.PERMISSION_DENIED ? "Location is blocked for this app." : "No GPS fix yet. Try again in the open."));
        },
        { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: FRESH_FIX_MS },
      );
    });
  }

  private watch(): void {
    if (!("geolocation" in navigator)) return this.setGeo("unavailable");
    if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
    this.setGeo("waiting");
    this.watchId = navigator.geolocation.watchPosition(
      (p) => void this.onPosition(p),
      (err) => {
        // POSITION_UNAVAILABLE and TIMEOUT come and go (tunnels, indoors); only a refusal is final.
        if (err.code === err.PERMISSION_DENIED) this.setGeo("denied");
      },
      { enableHighAccuracy: true, maximumAge: 0 },
    );
  }

  private accept(p: GeolocationPosition): Position {
    const position = positionFrom(p);
    this.lastFix = position;
    rememberFix(position);
    this.setGeo("ok");
    this.o.onFix(position);
    return position;
  }

  private async onPosition(p: GeolocationPosition): Promise<void> {
    const position = this.accept(p);
    for (const w of this.waiters.splice(0)) w(position);
    const last = readFix(localStorage.getItem(LAST_KEPT_KEY));
    if (!keepFix(last, position, this.o.filter())) return;
    // Decided and remembered before the await, so a burst of fixes is filtered against each other.
    localStorage.setItem(LAST_KEPT_KEY, JSON.stringify({ lat: position.lat, lng: position.lng, at: position.at } satisfies Fix));
    localStorage.setItem(KEPT_COUNT_KEY, String(this.kept + 1));
    await this.o.onKeep(position);
  }

  private async holdScreen(): Promise<void> {
    if (this.wake || !("wakeLock" in navigator) || document.visibilityState !== "visible") return;
    try {
      const sentinel = await navigator.wakeLock.request("screen");
      this.wake = sentinel;
      this.o.onWakeLock(true);
      sentinel.addEventListener("release", () => {
        if (this.wake === sentinel) this.wake = null;
        this.o.onWakeLock(false);
      });
    } catch {
      // Refused (battery saver, not visible): the shift goes on; the status line shows it.
      this.o.onWakeLock(false);
    }
  }

  private setGeo(state: GeoState): void {
    this.geo = state;
    this.o.onGeo(state);
  }
}

const storedFix = z.object({ lat: z.number(), lng: z.number(), at: z.number() });

function readFix(raw: string | null): Fix | null {
  if (!raw) return null;
  try {
    const parsed = storedFix.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
