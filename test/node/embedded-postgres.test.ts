// dev/embedded-postgres.ts: in-memory PGlite reachable by node `pg` over TCP.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../dev/embedded-postgres.ts";

let server: EmbeddedPostgres | undefined;

beforeAll(async () => {
  // PGlite boots in a few seconds (WASM + initdb for memory://).
  server = await startEmbeddedPostgres({ log: () => {} });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe("embedded Postgres (PGlite)", () => {
  it("answers node pg on the URL it reports", async () => {
    expect(server!.url).toBe(`postgres://postgres:postgres@127.0.0.1:${server!.port}/postgres`);
    const client = new pg.Client({ connectionString: server!.url, connectionTimeoutMillis: 5_000 });
    client.on("error", () => {});
    await client.connect();
    try {
      const { rows } = await client.query<{ version: string }>("select version()");
      expect(rows[0]!.version).toContain("PostgreSQL");
      await client.query("create table visits (id serial primary key, at timestamptz default now())");
      await client.query("insert into visits default values");
      const count = await client.query<{ n: number }>("select count(*)::int as n from visits");
      expect(count.rows[0]!.n).toBe(1);
    } finally {
      await client.end();
    }
  });

  it("accepts more than one connection at a time", async () => {
    const clients = [1, 2].map(() => new pg.Client({ connectionString: server!.url, connectionTimeoutMillis: 5_000 }));
    for (const c of clients) c.on("error", () => {});
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const answers = await Promise.all(clients.map((c, i) => c.query<{ v: number }>("select $1::int as v", [i])));
      expect(answers.map((a) => a.rows[0]!.v)).toEqual([0, 1]);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
