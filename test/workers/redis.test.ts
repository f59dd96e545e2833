import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { redisFrom } from "../../common/redis.ts";

describe("@upstash/redis from the Worker", () => {
  const redis = redisFrom(env)!;
  const key = (k: string) => `fp:test:${crypto.randomUUID()}:${k}`;

  it("round-trips set/get with JSON values", async () => {
    const k = key("json");
    await redis.set(k, { lat: 52.1, who: "ann" }, { ex: 60 });
    expect(await redis.get(k)).toEqual({ lat: 52.1, who: "ann" });
    await redis.del(k);
  });

  it("runs a pipeline and reads a hash back as an object", async () => {
    const h = key("hash");
    const s = key("set");
    const results = await redis.pipeline().hset(h, { depth: 3, team: "t1" }).sadd(s, "a", "b").scard(s).exec();
    expect(results).toEqual([2, 2, 2]);
    expect(await redis.hgetall(h)).toEqual({ depth: 3, team: "t1" });
    await redis.del(h, s);
  });

  it("evaluates a Lua script", async () => {
    const k = key("lua");
    const n = await redis.eval<[string], number>("return redis.call('INCRBY', KEYS[1], ARGV[1])", [k], ["41"]);
    expect(n).toBe(41);
    expect(await redis.eval("return redis.call('INCR', KEYS[1])", [k], [])).toBe(42);
    await redis.del(k);
  });
});
