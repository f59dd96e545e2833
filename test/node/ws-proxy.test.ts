// The Neon serverless driver, through dev/ws-proxy.ts, against the machine's Postgres
// (127.0.0.1:5432, trust auth) and against an embedded PGlite.
import { Client, Pool, neonConfig } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ws from "ws";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../dev/embedded-postgres.ts";
import { startWsProxy, TerminateWatcher, type WsProxy } from "../../dev/ws-proxy.ts";

const PG_URL = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const DEADLINE_MS = 5_000;

/** Fails with a message instead of letting a hang run into vitest's timeout. */
function within<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function waitFor(condition: () => boolean, what: string, ms = DEADLINE_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function newClient(connectionString: string): Client {
  const client = new Client({ connectionString });
  // A server-side close surfaces as an 'error' event; unhandled, it fails the whole run.
  client.on("error", () => {});
  return client;
}

let proxy: WsProxy;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  proxy = await startWsProxy({ log: (entry) => logs.push(entry) });
  neonConfig.webSocketConstructor = ws;
  neonConfig.wsProxy = (host, port) => `127.0.0.1:${proxy.port}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
});

afterAll(async () => {
  await proxy?.close();
});

describe("ws-proxy → local Postgres", () => {
  it("runs a query and lets client.end() finish", async () => {
    const client = newClient(PG_URL);
    await within(client.connect(), "connect");
    const { rows } = await within(client.query("select 1 as one"), "select 1");
    expect(rows).toEqual([{ one: 1 }]);
    expect(proxy.connections()).toBeGreaterThanOrEqual(1);
    await within(client.end(), "client.end()");
    await waitFor(() => proxy.connections() === 0, "proxy connections back to 0");
  });

  it("commits and rolls back transactions", async () => {
    const client = newClient(PG_URL);
    await within(client.connect(), "connect");
    try {
      await client.query("create temp table pings (id int primary key, note text)");
      await client.query("begin");
      for (const [id, note] of [[1, "a"], [2, "b"], [3, "c"]] as const) {
        await client.query("insert into pings (id, note) values ($1, $2)", [id, note]);
      }
      await client.query("commit");
      await client.query("begin");
      await client.query("insert into pings (id, note) values (4, 'gone')");
      await client.query("rollback");
      const { rows } = await client.query<{ n: number }>("select count(*)::int as n from pings");
      expect(rows[0]!.n).toBe(3);
    } finally {
      await within(client.end(), "client.end()");
    }
    await waitFor(() => proxy.connections() === 0, "proxy connections back to 0");
  });

  it("serves a Pool with concurrent queries", async () => {
    const pool = new Pool({ connectionString: PG_URL, max: 3 });
    pool.on("error", () => {});
    const results = await within(
      Promise.all([1, 2, 3, 4, 5].map((n) => pool.query<{ v: number }>("select $1::int * 2 as v", [n]))),
      "pool queries",
    );
    expect(results.map((r) => r.rows[0]!.v)).toEqual([2, 4, 6, 8, 10]);
    // pool.end() resolves before the sockets close, hence the wait on the proxy's count.
    await within(pool.end(), "pool.end()");
    await waitFor(() => proxy.connections() === 0, "proxy connections back to 0");
  });
});

describe("ws-proxy → embedded PGlite", () => {
  let pglite: EmbeddedPostgres | undefined;

  beforeAll(async () => {
    pglite = await startEmbeddedPostgres({ log: () => {} });
  }, 60_000);

  afterAll(async () => {
    await pglite?.close();
  });

  it("closes on Terminate, so client.end() finishes", async () => {
    const client = newClient(pglite!.url);
    await within(client.connect(), "connect");
    const { rows } = await within(client.query<{ version: string }>("select version()"), "select version()");
    expect(rows[0]!.version).toContain("PostgreSQL");
    // PGlite never hangs up by itself: only the proxy's Terminate handling ends this.
    await within(client.end(), "client.end()");
    await waitFor(() => proxy.connections() === 0, "proxy connections back to 0");
    expect(logs).toContainEqual(expect.objectContaining({ event: "session_close", terminated: true }));
  });
});

describe("ws-proxy pause/resume", () => {
  it("fails connects while paused, drops open sessions, and recovers on resume", async () => {
    const open = newClient(PG_URL);
    await within(open.connect(), "connect");

    proxy.pause();
    try {
      await expect(within(open.query("select 1"), "query on a dropped session")).rejects.toThrow();
      const refused = newClient(PG_URL);
      await expect(within(refused.connect(), "connect while paused")).rejects.toThrow();
      await waitFor(() => proxy.connections() === 0, "sessions dropped");
    } finally {
      proxy.resume();
    }

    const client = newClient(PG_URL);
    await within(client.connect(), "connect after resume");
    const { rows } = await client.query("select 1 as one");
    expect(rows).toEqual([{ one: 1 }]);
    await within(client.end(), "client.end()");
    await waitFor(() => proxy.connections() === 0, "proxy connections back to 0");
  });
});

describe("ws-proxy allowedHosts", () => {
  it("refuses upstream addresses that are not allowed", async () => {
    const strict = await startWsProxy({ allowedHosts: ["127.0.0.2"], log: () => {} });
    try {
      const client = newClient(PG_URL);
      client.neonConfig.wsProxy = (host, port) => `127.0.0.1:${strict.port}/v1?address=${host}:${port}`;
      await expect(within(client.connect(), "connect to a refused address")).rejects.toThrow();
      expect(strict.connections()).toBe(0);
    } finally {
      await strict.close();
    }
  });
});

describe("TerminateWatcher", () => {
  const startup = (() => {
    const params = Buffer.from("user\0postgres\0database\0postgres\0\0");
    const head = Buffer.alloc(8);
    head.writeInt32BE(8 + params.length, 0);
    head.writeInt32BE(196608, 4); // protocol 3.0
    return Buffer.concat([head, params]);
  })();
  const message = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, "latin1");
    head.writeInt32BE(4 + body.length, 1);
    return Buffer.concat([head, body]);
  };
  const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
  const terminate = message("X", Buffer.alloc(0));

  it("finds Terminate across arbitrary chunk splits, not inside message bodies", () => {
    // A query whose text contains 'X' bytes that must not count as a Terminate.
    const query = message("Q", Buffer.from("select 'X\0\0\0\x04'\0", "latin1"));
    const stream = Buffer.concat([sslRequest, startup, query, terminate]);
    for (const size of [1, 2, 3, 7, 64]) {
      const watcher = new TerminateWatcher();
      const seen: number[] = [];
      for (let i = 0; i < stream.length; i += size) {
        if (watcher.push(stream.subarray(i, i + size))) seen.push(i);
      }
      expect(seen, `chunk size ${size}`).toHaveLength(1);
      expect(seen[0]! + size).toBeGreaterThanOrEqual(stream.length);
    }
  });

  it("gives up on a stream that is not plaintext Postgres (TLS after SSLRequest)", () => {
    const watcher = new TerminateWatcher();
    const clientHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]);
    expect(watcher.push(Buffer.concat([sslRequest, clientHello]))).toBe(false);
    expect(watcher.push(terminate)).toBe(false);
  });
});
