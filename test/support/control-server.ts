/**
 * A test-only HTTP server in Node: workerd tests call it to read Postgres through a second, independent
 * client (node `pg`, so a row seen here was really committed) and to cut or restore the fault proxy.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { z } from "zod";
import { Webhook } from "standardwebhooks";

interface FaultProxy {
  pause(): void;
  resume(): void;
}

/** One request the stand-in dialer received, as it arrived, and whether its signature verified. */
export interface ReceivedWebhook {
  webhookId: string;
  headers: Record<string, string>;
  body: string;
  verified: boolean;
  answered: number;
  at: number;
}

/**
 * A real webhook receiver, as a dialer would run one: verifies every request with the standardwebhooks
 * library and answers with the status a test scripted for that lead (default 200).
 */
function dialerReceiver(secret: string) {
  const received: ReceivedWebhook[] = [];
  const scripts = new Map<string, { statuses: number[]; otherwise: number; delayMs: number }>();
  const verifier = new Webhook(secret);
  return {
    receive(headers: http.IncomingHttpHeaders, body: string): number {
      const flat = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
      let verified = true;
      try {
        verifier.verify(body, flat);
      } catch {
        verified = false;
      }
      const webhookId = flat["webhook-id"] ?? "";
      const script = scripts.get(webhookId);
      const answered = !verified ? 401 : (script?.statuses.shift() ?? script?.otherwise ?? 200);
      received.push({ webhookId, headers: flat, body, verified, answered, at: Date.now() });
      return answered;
    },
    script(leadId: string, statuses: number[], otherwise = 200, delayMs = 0) {
      scripts.set(leadId, { statuses: [...statuses], otherwise, delayMs });
    },
    /** A slow dialer: how long to sit on this lead's request before answering. */
    delayFor: (leadId: string) => scripts.get(leadId)?.delayMs ?? 0,
    receivedFor: (leadId: string) => received.filter((r) => r.webhookId === leadId),
  };
}

export async function startControlServer(opts: { port: number; databaseUrl: string; faultProxy: FaultProxy; redisUrl: string; dialerSecret: string }) {
  const dialer = dialerReceiver(opts.dialerSecret);
  let hung = 0;
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
      const raw = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "http://control");
      if (req.method === "POST" && url.pathname === "/dialer/hook") {
        const delay = dialer.delayFor(String(req.headers["webhook-id"] ?? ""));
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        res.writeHead(dialer.receive(req.headers, raw), { "Content-Type": "application/json" });
        return res.end("{}");
      }
      // A service that takes requests and never answers (a hung Redis): counts what it swallowed.
      if (url.pathname.startsWith("/hang/") && url.pathname !== "/hang/seen") {
        hung += 1;
        req.on("close", () => undefined);
        return;
      }
      if (url.pathname === "/hang/seen") return send(200, { hung });
      if (req.method === "GET" && url.pathname === "/dialer/received") {
        return send(200, dialer.receivedFor(url.searchParams.get("leadId") ?? ""));
      }
      const body = z.record(z.string(), z.unknown()).parse(raw ? JSON.parse(raw) : {});
      switch (`${req.method} ${url.pathname}`) {
        case "POST /dialer/script":
          dialer.script(String(body.leadId), (body.statuses as number[]) ?? [], (body.otherwise as number | undefined) ?? 200, Number(body.delayMs ?? 0));
          return send(200, { ok: true });
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
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}
