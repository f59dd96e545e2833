import { z } from "zod/mini";

/**
 * Page ↔ page ↔ service worker news over a BroadcastChannel: the outbox changed, a send started or
 * ended, the sign-in changed. Every listener re-reads IndexedDB; messages carry no data of their own.
 */
const busMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("outbox") }),
  z.object({ type: z.literal("sending"), on: z.boolean() }),
  z.object({ type: z.literal("session") }),
]);
export type BusMessage = z.infer<typeof busMessage>;

const CHANNEL = "fieldpulse-field";

let channel: BroadcastChannel | null = null;
const open = () => (channel ??= typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : null);

export function announce(message: BusMessage): void {
  open()?.postMessage(message);
}

/** Messages from other tabs and the service worker (a channel does not echo to its sender). */
export function listen(handler: (message: BusMessage) => void): void {
  open()?.addEventListener("message", (e: MessageEvent) => {
    const parsed = busMessage.safeParse(e.data);
    if (parsed.success) handler(parsed.data);
  });
}
