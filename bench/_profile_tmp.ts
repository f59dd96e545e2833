import pg from "pg";
import ws from "ws";
import { bulkInsert } from "../db/bulk.ts";
import { withDb } from "../db/client.ts";
import { migrateDatabase } from "../dev/migrate.ts";
import { startWsProxy } from "../dev/ws-proxy.ts";
import { makeLocationEvents } from "./flush.ts";

const admin = new pg.Client("postgres://postgres@127.0.0.1:5432/postgres"); await admin.connect();
await admin.query("DROP DATABASE IF EXISTS fp_prof WITH (FORCE)"); await admin.query("CREATE DATABASE fp_prof");
const url = "postgres://postgres@127.0.0.1:5432/fp_prof";
await migrateDatabase(url);
const proxy = await startWsProxy({ port: 0, log: () => {} });
const env = { DATABASE_URL: url, NEON_WS_PROXY: `127.0.0.1:${proxy.port}` };
const rows = makeLocationEvents(100_000);
const direct = new pg.Client(url); await direct.connect();
for (const mode of ["neon", "pg"]) {
  await direct.query("TRUNCATE locations"); await direct.query("CHECKPOINT");
  const t = { build: 0, connect: 0, begin: 0, insert: 0, commit: 0, end: 0 };
  const T0 = performance.now();
  for (let i = 0; i < rows.length; i += 5000) {
    let a = performance.now();
    const { text, values } = bulkInsert("location", rows.slice(i, i + 5000));
    t.build += performance.now() - a; a = performance.now();
    if (mode === "neon") {
      let b = 0;
      await withDb(env, async ({ client }) => {
        t.connect += performance.now() - a; a = performance.now();
        await client.query("BEGIN"); t.begin += performance.now() - a; a = performance.now();
        await client.query(text, values); t.insert += performance.now() - a; a = performance.now();
        await client.query("COMMIT"); t.commit += performance.now() - a; b = performance.now();
      }, { webSocket: ws });
      t.end += performance.now() - b;
    } else {
      await direct.query("BEGIN"); t.begin += performance.now() - a; a = performance.now();
      await direct.query(text, values); t.insert += performance.now() - a; a = performance.now();
      await direct.query("COMMIT"); t.commit += performance.now() - a;
    }
  }
  const total = performance.now() - T0;
  console.log(mode, Math.round(100000 / total * 1000), "rows/s", Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v)])), "total", Math.round(total));
}
await direct.end(); await proxy.close();
await admin.query("DROP DATABASE fp_prof WITH (FORCE)"); await admin.end();
