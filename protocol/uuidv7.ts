/**
 * UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter in `rand_a` (method 1, "fixed-length
 * dedicated counter"), then 62 random bits. Ids made by one generator sort in creation order, even
 * within one millisecond and when the clock steps back, so the outbox's key order is its creation order.
 */
export type RandomFill = (bytes: Uint8Array) => void;

export function createUuidV7(now: () => number = Date.now, fill: RandomFill = (b) => crypto.getRandomValues(b)) {
  let lastMs = -1;
  let counter = 0;
  const bytes = new Uint8Array(16);

  // Seeded with 11 random bits: the top bit stays clear, leaving at least 2,048 increments per millisecond.
  const seed = () => {
    fill(bytes.subarray(6, 8));
    return ((bytes[6]! << 8) | bytes[7]!) & 0x7ff;
  };

  return function uuidv7(): string {
    let ms = Math.max(0, Math.floor(now()));
    if (ms > lastMs) {
      counter = seed();
    } else {
      // Same millisecond, or the clock went back: stay on the last timestamp and count up.
      ms = lastMs;
      counter += 1;
      if (counter > 0xfff) {
        ms += 1;
        counter = seed();
      }
    }
    lastMs = ms;

    fill(bytes);
    for (let i = 5; i >= 0; i--) {
      bytes[i] = ms % 256;
      ms = Math.floor(ms / 256);
    }
    bytes[6] = 0x70 | (counter >> 8);
    bytes[7] = counter & 0xff;
    bytes[8] = 0x80 | (bytes[8]! & 0x3f);

    let hex = "";
    for (const b of bytes) hex += b.toString(16).padStart(2, "0");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}

/**
 * A UUIDv7 for a given time, with no ordering state: for simulated devices and benches that stamp events
 * with their own (simulated) clocks, where a shared monotonic counter would bend the embedded times.
 */
export function uuidv7At(ms: number, fill: RandomFill = (b) => crypto.getRandomValues(b)): string {
  return createUuidV7(() => ms, fill)();
}

/** Epoch milliseconds encoded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.replace(/-/g, "").slice(0, 12), 16);
}

export const uuidv7 = createUuidV7();
