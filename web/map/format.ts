/** How the page words times, speeds and batteries: short, for a glance at a side panel. */

export function ago(ms: number): string {
  if (ms < 1_500) return "just now";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s ago`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ${min % 60} min ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** A duration without "ago": the age of the oldest buffered row, a countdown. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ${s % 60} s`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** Formatters in the browser's own locale (undefined = the user's), made once: they are costly to build. */
const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const shortClockFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const numberFmt = new Intl.NumberFormat();

export function clock(at: number): string {
  return clockFmt.format(at);
}

/** hh:mm, for "Disconnected since 14:05". */
export function shortClock(at: number): string {
  return shortClockFmt.format(at);
}

export function day(at: number): string {
  return dayFmt.format(at);
}

/** Speed arrives in m/s (the Geolocation API's unit). */
export function speed(mps: number | undefined): string {
  return mps === undefined ? "—" : `${Math.round(mps * 3.6)} km/h`;
}

/** Battery arrives as 0..1. */
export function battery(level: number | undefined): string {
  return level === undefined ? "—" : `${Math.round(level * 100)} %`;
}

export function accuracy(metres: number | undefined): string {
  return metres === undefined ? "—" : `± ${Math.round(metres)} m`;
}

export function count(n: number): string {
  return numberFmt.format(n);
}

/** "1 row", "3 rows". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** Start of the manager's local day containing `now`: "knocks today" follows the wall clock on the desk. */
export function startOfDay(now: number): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}
