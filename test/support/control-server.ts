/**
 * A test-only HTTP server in Node: workerd tests call it to read Postgres through a second, independent
 * client (node `pg`, so a row seen here was really committed) and to cut or restore the fault proxy.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";

interface FaultProxy {
  pause(): void;
  resume(): void;
}

export async function startControlServer(opts: { port: number; databaseUrl: string; faultProxy: FaultProxy; redisUrl: string }) {
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 4 });
  pool.on("error", () => {});
  const server = http.createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>) : {};
      switch (`${req.method} ${req.url}`) {
        case "POST /sql": {
          const result = await pool.query(String(body.sql), (body.params as unknown[]) ?? []);
          return send(200, { rows: result.rows, rowCount: result.rowCount });
        }
        case "POST /fault-proxy/pause":
          opts.faultProxy.pause();
          return send(200, { paused: true });
        case "POST /fault-proxy/resume":
          opts.faultProxy.resume();
          return send(200, { paused: false });
        default:
          return send(404, { error: `no route ${req.method} ${req.url}` });
      }
    } catch (err) {
      return send(500, { error: err instanceof Error ? err.message : String(err) });
    }
  });
  await new Promise<void>((resolve) => server.listen(opts.port, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}
