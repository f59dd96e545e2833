import { Pool, neonConfig, type PoolClient } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import * as schema from "./schema.ts";

export interface DbEnv {
  DATABASE_URL: string;
  /** host:port of a local WebSocket↔TCP proxy standing in for Neon's; empty in production. */
  NEON_WS_PROXY?: string;
}

export type Db = NeonDatabase<typeof schema>;

let configuredProxy: string | undefined;

/** Neon's driver is configured globally; local settings are applied only when a local proxy is named. */
function configure(env: DbEnv, webSocket?: unknown): void {
  if (webSocket) neonConfig.webSocketConstructor = webSocket as typeof neonConfig.webSocketConstructor;
  const proxy = env.NEON_WS_PROXY?.trim();
  if (!proxy || proxy === configuredProxy) return;
  const base = proxy.replace(/^wss?:\/\//, "").replace(/\/+$/, "");
  neonConfig.wsProxy = (host, port) => `${base}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  configuredProxy = proxy;
}

function ignoreLateError(): void {}

export interface UnitOfWork {
  client: PoolClient;
  db: Db;
}

export class DatabaseNotConfigured extends Error {
  constructor() {
    super("DATABASE_URL is not set");
  }
}

/**
 * Open a pool for one unit of work (a flush, a lead write, a health probe) and close it after.
 * A pool per unit keeps Workers' rule that I/O objects never outlive their request, and Neon pools
 * connections at its proxy anyway.
 */
export async function withDb<T>(
  env: DbEnv,
  work: (unit: UnitOfWork) => Promise<T>,
  options: { webSocket?: unknown; connectTimeoutMs?: number } = {},
): Promise<T> {
  if (!env.DATABASE_URL) throw new DatabaseNotConfigured();
  configure(env, options.webSocket);
  const pool = new Pool({
    connectionString: env.DATABASE_URL,
    max: 1,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
  });
  // A server-side close surfaces as an 'error' event after the work is done; unhandled, it would
  // crash the isolate (docs/toolchain.md, "Neon driver"). Errors that matter reach the caller through the awaited query.
  pool.on("error", ignoreLateError);
  let client: PoolClient | undefined;
  try {
    client = await pool.connect();
    client.on("error", ignoreLateError);
    const db = drizzle({ client, schema });
    return await work({ client, db });
  } finally {
    // release(true) destroys the connection so that end() does not wait for an idle timeout.
    client?.release(true);
    await pool.end().catch(ignoreLateError);
  }
}

/** Run `work` inside BEGIN … COMMIT, rolling back on any error. */
export async function inTransaction<T>(client: PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  try {
    const result = await work();
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
