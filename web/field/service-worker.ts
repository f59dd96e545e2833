/** The page's side of the service worker: register it, and ask it to drain the outbox in the background. */

export const SW_URL = "/field/sw.js";
export const SW_SCOPE = "/field/";
/** The Background Sync tag the service worker drains the outbox on (see sw-sync.ts). */
export const SYNC_TAG = "fieldpulse-outbox";

interface SyncManagerLike {
  register(tag: string): Promise<void>;
}

export async function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!("serviceWorker" in navigator)) return null;
  try {
    return await navigator.serviceWorker.register(SW_URL, { scope: SW_SCOPE });
  } catch (err) {
    console.warn("fieldpulse: no service worker; the app will not open offline", err);
    return null;
  }
}

/**
 * Background Sync (Chromium): the browser wakes the service worker to drain the outbox once it is
 * online, even if every tab has been closed. Elsewhere this is a no-op; the page drains on its own.
 */
export async function requestBackgroundSync(): Promise<boolean> {
  if (!("serviceWorker" in navigator)) return false;
  const registration = await navigator.serviceWorker.getRegistration(SW_SCOPE);
  const sync = (registration as (ServiceWorkerRegistration & { sync?: SyncManagerLike }) | undefined)?.sync;
  if (!sync) return false;
  try {
    await sync.register(SYNC_TAG);
    return true;
  } catch {
    return false;
  }
}
