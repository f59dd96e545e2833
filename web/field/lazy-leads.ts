/** The lead module (leads.ts: the phone-number metadata), loaded once, on demand; a failed load is tried again next time. */
let loading: Promise<typeof import("./leads.ts")> | null = null;

export function loadLeads(): Promise<typeof import("./leads.ts")> {
  loading ??= import("./leads.ts").catch((err: unknown) => {
    loading = null;
    throw err;
  });
  return loading;
}

/** Start loading once the page has drawn and the main thread is idle: the first screen never waits for it. */
export function preloadLeads(): void {
  const start = () => void loadLeads().catch(() => {});
  if ("requestIdleCallback" in globalThis) requestIdleCallback(start, { timeout: 5_000 });
  else setTimeout(start, 2_000);
}
