import IORedis from "ioredis";

/** Delete every key matching `pattern` (a test run's or a bench's prefix) with SCAN, never KEYS. */
export async function deleteKeys(url: string, pattern: string): Promise<void> {
  const redis = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    for await (const keys of redis.scanStream({ match: pattern, count: 500 })) {
      if ((keys as string[]).length) await redis.del(...(keys as string[]));
    }
  } finally {
    redis.disconnect();
  }
}
