// The real @upstash/redis client against dev/upstash-server.ts,
// backed by the machine's Redis (127.0.0.1:6379).
import { createHash, randomBytes } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashServer, type UpstashServer } from "../../dev/upstash-server.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const TOKEN = `test-${randomBytes(8).toString("hex")}`;
// Parallel runs share the Redis: every key lives under this run's prefix.
const PREFIX = `fieldpulse-test:${randomBytes(6).toString("hex")}:`;

let server: UpstashServer;
let redis: Redis;

beforeAll(async () => {
  server = await startUpstashServer({ redisUrl: REDIS_URL, token: TOKEN, log: () => {} });
  // No retries: a failure should surface at once, not after the client's backoff.
  redis = new Redis({ url: server.url, token: TOKEN, retry: false, enableTelemetry: false });
});

afterAll(async () => {
  if (redis) {
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await server?.close();
});

describe("upstash-server with @upstash/redis", () => {
  it("sets and gets strings, including non-ASCII", async () => {
    expect(await redis.set(`${PREFIX}s`, "héllo wörld")).toBe("OK");
    expect(await redis.get(`${PREFIX}s`)).toBe("héllo wörld");
    expect(await redis.get(`${PREFIX}missing`)).toBeNull();
  });

  it("round-trips a JSON object value", async () => {
    const value = { team: "north", members: [1, 2, 3], active: true, at: null };
    await redis.set(`${PREFIX}json`, value, { ex: 60 });
    expect(await redis.get(`${PREFIX}json`)).toEqual(value);
    expect(await redis.ttl(`${PREFIX}json`)).toBeGreaterThan(0);
  });

  it("runs a pipeline and a multi-exec transaction", async () => {
    const p = redis.pipeline();
    p.set(`${PREFIX}counter`, 1);
    p.incr(`${PREFIX}counter`);
    p.incrby(`${PREFIX}counter`, 10);
    p.get(`${PREFIX}counter`);
    expect(await p.exec()).toEqual(["OK", 2, 12, 12]);

    const tx = redis.multi();
    tx.incr(`${PREFIX}counter`);
    tx.lpush(`${PREFIX}list`, "a", "b");
    tx.lrange(`${PREFIX}list`, 0, -1);
    expect(await tx.exec()).toEqual([13, 2, ["b", "a"]]);
  });

  it("returns HGETALL as an object", async () => {
    await redis.hset(`${PREFIX}hash`, { name: "Ana", level: 3 });
    expect(await redis.hgetall(`${PREFIX}hash`)).toEqual({ name: "Ana", level: 3 });
    expect(await redis.hget(`${PREFIX}hash`, "name")).toBe("Ana");
  });

  it("handles sets", async () => {
    expect(await redis.sadd(`${PREFIX}set`, "x", "y", "z")).toBe(3);
    expect((await redis.smembers(`${PREFIX}set`)).sort()).toEqual(["x", "y", "z"]);
  });

  it("evaluates Lua scripts", async () => {
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), 42}";
    expect(await redis.eval(script, [`${PREFIX}lua`], ["from-lua"])).toEqual(["from-lua", 42]);
  });

  it("accepts Upstash-only script flags and keeps the client's script SHA", async () => {
    // @upstash/ratelimit's scripts start like this; plain Redis rejects the flag.
    const script = `#!lua flags=allow-key-locking\nreturn ARGV[1] .. '${PREFIX}'`;
    const sha = await redis.scriptLoad(script);
    expect(sha).toBe(createHash("sha1").update(script).digest("hex"));
    expect(await redis.scriptExists(sha)).toEqual([1]);
    expect(await redis.evalsha(sha, [], ["v:"])).toBe(`v:${PREFIX}`);
  });

  it("surfaces Redis errors as rejections", async () => {
    await redis.set(`${PREFIX}str`, "x");
    await expect(redis.incr(`${PREFIX}str`)).rejects.toThrow(/ERR/);
  });

  it("rejects a wrong token", async () => {
    const intruder = new Redis({ url: server.url, token: "wrong", retry: false, enableTelemetry: false });
    await expect(intruder.get(`${PREFIX}s`)).rejects.toThrow(/Unauthorized/);
  });
});

describe("upstash-server's command meter", () => {
  it("counts every command as Upstash bills them: one each, pipelined or not", async () => {
    const stats = async () => ((await (await fetch(`${server.url}/__stats`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()) as { commands: number }).commands;
    const before = await stats();
    await redis.set(`${PREFIX}meter`, "1");
    await redis.pipeline().get(`${PREFIX}meter`).incr(`${PREFIX}meter-n`).exec();
    expect((await stats()) - before).toBe(3);
  });
});

describe("upstash-server without Redis", () => {
  it("answers 500 instead of hanging", async () => {
    // A port that was free a moment ago: connecting to it is refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const orphan = await startUpstashServer({ redisUrl: `redis://127.0.0.1:${deadPort}`, token: TOKEN, log: () => {} });
    try {
      const res = await fetch(orphan.url, {
        method: "POST",
        headers: { Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(["PING"]),
        signal: AbortSignal.timeout(5_000),
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: expect.stringContaining("Redis unavailable") });
    } finally {
      await orphan.close();
    }
  }, 15_000);
});
