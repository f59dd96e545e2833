// WebSocket ↔ TCP proxy standing in for Neon's wsproxy, so the Neon serverless driver
// (which only speaks Postgres inside WebSocket frames) can reach a local Postgres or PGlite.
//
//   ws://HOST:PORT/v1?address=pghost:pgport   — each binary message is written to the TCP
//   socket, every TCP chunk comes back as one binary message.
//
// Dev/test only: no TLS, no auth; bind it to loopback.
import { createServer, STATUS_CODES, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { WebSocketServer, WebSocket, type RawData } from "ws";

export type LogFn = (entry: Record<string, unknown>) => void;

export interface WsProxyOptions {
  host?: string;
  port?: number;
  /** Upstream hosts (or host:port) the proxy may dial; anything else gets 403. Default: any. */
  allowedHosts?: string[];
  /** Structured log sink; defaults to one JSON line per event on stderr. */
  log?: LogFn;
}

export interface WsProxy {
  port: number;
  url: string;
  close(): Promise<void>;
  /** Open client sessions (a session ends once both the WebSocket and the TCP socket are closed). */
  connections(): number;
  /** Refuse new connections and drop the current ones: simulates "Postgres unreachable". */
  pause(): void;
  resume(): void;
}

const stderrLog: LogFn = (entry) =>
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), component: "ws-proxy", ...entry }) + "\n");

// Untyped startup-phase request codes (Postgres protocol, "Message Formats").
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_V3_MAJOR = 3;
// A startup packet is a few hundred bytes; anything far larger means we are not looking at
// the plaintext protocol (e.g. a TLS ClientHello after the server accepted an SSLRequest).
const MAX_STARTUP_LENGTH = 10_000;
const TERMINATE = 0x58; // 'X'
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Watches the client→server byte stream for a Terminate message.
 *
 * Needed because the Neon driver never closes its WebSocket: it sends Terminate and waits
 * for the server to hang up, and PGlite's socket server never does. Only message headers are
 * kept (bodies are skipped by count), so large COPY/INSERT payloads cost nothing.
 * If the stream stops looking like plaintext Postgres, the watcher gives up ("opaque").
 */
export class TerminateWatcher {
  private phase: "startup" | "messages" | "opaque" = "startup";
  private head = Buffer.alloc(0);
  private skip = 0;

  /** Feed the next chunk; returns true once a Terminate message has been seen. */
  push(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length && this.phase !== "opaque") {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      // Startup packets: int32 length + int32 code. Regular messages: type byte + int32 length.
      const need = this.phase === "startup" ? 8 : 5;
      const take = Math.min(need - this.head.length, chunk.length - i);
      this.head = Buffer.concat([this.head, chunk.subarray(i, i + take)]);
      i += take;
      if (this.head.length < need) break;
      const head = this.head;
      this.head = Buffer.alloc(0);
      if (this.phase === "startup") {
        this.onStartupHeader(head.readInt32BE(0), head.readInt32BE(4));
      } else {
        const length = head.readInt32BE(1);
        if (length < 4) this.phase = "opaque";
        else if (head[0] === TERMINATE && length === 4) return true;
        else this.skip = length - 4;
      }
    }
    return false;
  }

  private onStartupHeader(length: number, code: number): void {
    if (length < 8 || length > MAX_STARTUP_LENGTH) {
      this.phase = "opaque";
    } else if ((code === SSL_REQUEST || code === GSSENC_REQUEST) && length === 8) {
      // The real startup packet follows (or TLS, which the length check above catches).
    } else if (code === CANCEL_REQUEST && length === 16) {
      this.skip = 8;
    } else if (code >>> 16 === PROTOCOL_V3_MAJOR) {
      this.skip = length - 8;
      this.phase = "messages";
    } else {
      this.phase = "opaque";
    }
  }
}

interface Session {
  ws: WebSocket;
  tcp: Socket;
}

function parseAddress(address: string | null): { host: string; port: number } | null {
  if (!address) return null;
  const m = /^(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})$/.exec(address);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function rejectUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.on("error", () => {});
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(reason) + 1}\r\n\r\n${reason}\n`,
  );
  // end() waits for the peer; don't let a silent client keep the socket (and close()) alive.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

export async function startWsProxy(options: WsProxyOptions = {}): Promise<WsProxy> {
  const { host = "127.0.0.1", port = 0, allowedHosts, log = stderrLog } = options;
  const sessions = new Set<Session>();
  let paused = false;
  let nextId = 1;

  const isAllowed = (target: { host: string; port: number }) =>
    !allowedHosts ||
    allowedHosts.includes(target.host) ||
    allowedHosts.includes(`${target.host}:${target.port}`);

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  const server = createServer((_req, res) => {
    res.writeHead(426, { "Content-Type": "text/plain" }).end("WebSocket upgrade required\n");
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (paused) return rejectUpgrade(socket, 503, "proxy paused");
    const target = parseAddress(new URL(req.url ?? "/", "http://proxy").searchParams.get("address"));
    if (!target) return rejectUpgrade(socket, 400, "expected ?address=host:port");
    if (!isAllowed(target)) {
      log({ level: "warn", event: "refused", target: `${target.host}:${target.port}` });
      return rejectUpgrade(socket, 403, "address not allowed");
    }
    wss.handleUpgrade(req, socket, head, (ws) => openSession(ws, target));
  });

  function openSession(ws: WebSocket, target: { host: string; port: number }): void {
    const id = nextId++;
    const tcp = connect({ host: target.host, port: target.port });
    tcp.setNoDelay(true);
    const session: Session = { ws, tcp };
    sessions.add(session);

    const watcher = new TerminateWatcher();
    const pending: Buffer[] = [];
    let tcpConnected = false;
    let terminated = false;
    let wsClosed = false;
    let tcpClosed = false;
    let bytesUp = 0;
    let bytesDown = 0;
    let upstreamError: string | undefined;

    log({ level: "info", event: "session_open", id, target: `${target.host}:${target.port}` });

    const finish = () => {
      if (!wsClosed || !tcpClosed || !sessions.delete(session)) return;
      log({ level: "info", event: "session_close", id, bytesUp, bytesDown, terminated, error: upstreamError });
    };

    const endTcp = () => {
      if (tcp.destroyed) return;
      tcp.end();
      // A server that ignores our FIN must not pin the session open.
      setTimeout(() => tcp.destroy(), 2_000).unref();
    };

    ws.on("message", (data) => {
      if (terminated) return;
      const chunk = toBuffer(data);
      bytesUp += chunk.length;
      terminated = watcher.push(chunk);
      if (tcpConnected) tcp.write(chunk);
      else pending.push(chunk);
      if (terminated) {
        // The client is done. Hang up on both sides ourselves: PGlite would not, and the
        // driver's end() only resolves once its WebSocket closes.
        if (tcpConnected) endTcp();
        if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      }
    });
    ws.on("error", (err) => log({ level: "warn", event: "ws_error", id, error: err.message }));
    ws.on("close", () => {
      wsClosed = true;
      // Before the upstream answered there is nothing worth flushing.
      if (tcpConnected) endTcp();
      else tcp.destroy();
      finish();
    });

    // Bound the dial: an unroutable address would otherwise hold the client for minutes.
    tcp.setTimeout(CONNECT_TIMEOUT_MS, () => tcp.destroy(new Error("upstream connect timeout")));
    tcp.on("connect", () => {
      tcpConnected = true;
      tcp.setTimeout(0);
      for (const chunk of pending.splice(0)) tcp.write(chunk);
      if (terminated || wsClosed) endTcp();
    });
    tcp.on("data", (chunk) => {
      bytesDown += chunk.length;
      if (ws.readyState === WebSocket.OPEN) ws.send(chunk, { binary: true });
    });
    tcp.on("error", (err) => {
      upstreamError = err.message;
    });
    tcp.on("close", () => {
      tcpClosed = true;
      // Without this the Neon driver's client.end() waits forever.
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        if (upstreamError) ws.close(1011, "upstream error");
        else ws.close(1000);
      }
      finish();
    });
  }

  const dropAll = () => {
    for (const { ws, tcp } of sessions) {
      ws.terminate();
      tcp.destroy();
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("ws-proxy: unexpected listen address");
  const url = `ws://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
  log({ level: "info", event: "listening", url });

  return {
    port: address.port,
    url,
    connections: () => sessions.size,
    pause() {
      paused = true;
      dropAll();
      log({ level: "info", event: "paused" });
    },
    resume() {
      paused = false;
      log({ level: "info", event: "resumed" });
    },
    async close() {
      paused = true;
      dropAll();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "5488" },
      allow: { type: "string" }, // comma-separated hosts or host:port
    },
  });
  const proxy = await startWsProxy({
    host: values.host,
    port: Number(values.port),
    allowedHosts: values.allow?.split(",").map((s) => s.trim()).filter(Boolean),
  });
  process.stdout.write(JSON.stringify({ event: "ready", component: "ws-proxy", url: proxy.url, port: proxy.port }) + "\n");
  const shutdown = () => void proxy.close().then(() => process.exit(0));
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    stderrLog({ level: "error", event: "fatal", error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
}
