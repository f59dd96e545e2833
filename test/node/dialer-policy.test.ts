import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { GIVE_UP_AFTER_MS, nextAttemptAt, verdictFor } from "../../durable-objects/dialer-policy.ts";
import { signedHeaders } from "../../durable-objects/webhook.ts";

describe("nextAttemptAt", () => {
  it("follows 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h", () => {
    const start = 1_000_000;
    let now = start;
    const delays: number[] = [];
    for (let attempts = 1; attempts <= 9; attempts++) {
      const next = nextAttemptAt(attempts, start, now);
      if (next === "dead") break;
      delays.push(next - now);
      now = next;
    }
    expect(delays).toEqual([5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 7_200_000, 7_200_000]);
  });

  it("gives up once the next try would fall past 24 h", () => {
    expect(nextAttemptAt(20, 0, GIVE_UP_AFTER_MS - 7_200_000)).toBe(GIVE_UP_AFTER_MS);
    expect(nextAttemptAt(20, 0, GIVE_UP_AFTER_MS - 7_199_999)).toBe("dead");
  });
});

describe("verdictFor", () => {
  it("2xx delivers, 410 stops, the rest retries", () => {
    expect([200, 201, 204, 299, 410, 400, 404, 429, 500, 503, null].map(verdictFor)).toEqual([
      "delivered", "delivered", "delivered", "delivered", "stop", "retry", "retry", "retry", "retry", "retry", "retry",
    ]);
  });
});

describe("signedHeaders", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const body = JSON.stringify({ type: "lead.created", data: { id: "x", name: "Ada" } });
  const headers = signedHeaders(secret, "msg_1", body, new Date());

  it("verifies with the standardwebhooks library", () => {
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });
  it("fails on a tampered body, a wrong secret, or a stale timestamp", () => {
    expect(() => new Webhook(secret).verify(body.replace("Ada", "Eve"), headers)).toThrow();
    expect(() => new Webhook("whsec_" + Buffer.from("some other secret").toString("base64")).verify(body, headers)).toThrow();
    const old = signedHeaders(secret, "msg_1", body, new Date(Date.now() - 3_600_000));
    expect(() => new Webhook(secret).verify(body, old)).toThrow();
  });
});
