// Postgres for machines without one: PGlite (Postgres compiled to WASM) served over TCP
// in-process by @electric-sql/pglite-socket. Node `pg` connects directly; the Neon driver
// connects through dev/ws-proxy.ts. Any user/password/database name is accepted.
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export type LogFn = (entry: Record<string, unknown>) => void;

export interface EmbeddedPostgresOptions {
  /** Directory that keeps data across restarts; undefined = in memory. */
  dataDir?: string;
  host?: string;
  port?: number;
  /**
   * Concurrent client connections. PGlite still runs one query at a time (the socket server
   * queues them and keeps a transaction's queries together); the socket server's own default
   * of 1 would refuse a connection pool's second connection.
   */
  maxConnections?: number;
  /** Structured log sink; defaults to one JSON line per event on stderr. */
  log?: LogFn;
}

export interface EmbeddedPostgres {
  port: number;
  /** postgres://postgres:postgres@HOST:PORT/postgres */
  url: string;
  close(): Promise<void>;
}

const stderrLog: LogFn = (entry) =>
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), component: "embedded-postgres", ...entry }) + "\n");

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const { dataDir, host = "127.0.0.1", port = 0, maxConnections = 32, log = stderrLog } = options;
  const started = Date.now();

  let location = "memory://";
  if (dataDir) {
    location = resolve(dataDir);
    await mkdir(location, { recursive: true });
  }
  const db = await PGlite.create(location);

  const server = new PGLiteSocketServer({ db, host, port, maxConnections });
  server.addEventListener("error", (event) => {
    const detail = (event as CustomEvent<unknown>).detail;
    log({ level: "warn", event: "socket_error", error: detail instanceof Error ? detail.message : String(detail) });
  });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }

  // start() resolves the OS-assigned port (port 0) into getServerConn() = "host:port".
  const boundPort = Number(server.getServerConn().split(":").pop());
  if (!Number.isInteger(boundPort) || boundPort <= 0) {
    await server.stop();
    await db.close();
    throw new Error(`embedded-postgres: could not read bound port from ${server.getServerConn()}`);
  }
  const hostInUrl = host.includes(":") ? `[${host}]` : host;
  const url = `postgres://postgres:postgres@${hostInUrl}:${boundPort}/postgres`;
  log({ level: "info", event: "listening", url, data: location, startupMs: Date.now() - started });

  let closing: Promise<void> | undefined;
  return {
    port: boundPort,
    url,
    close() {
      closing ??= (async () => {
        await server.stop();
        await db.close();
      })();
      return closing;
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "5433" },
    },
  });
  const pg = await startEmbeddedPostgres({ dataDir: values.data, host: values.host, port: Number(values.port) });
  process.stdout.write(JSON.stringify({ event: "ready", component: "embedded-postgres", url: pg.url, port: pg.port }) + "\n");
  // Close cleanly: a data directory left mid-write may not open next time.
  const shutdown = () => void pg.close().then(() => process.exit(0));
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    stderrLog({ level: "error", event: "fatal", error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
}
