/** JSON over HTTP to a local fieldpulse, with keep-alive (thousands of simulated phones share a few sockets). */
import http from "node:http";
import type { Reply } from "../../web/field/ingest-reply.ts";

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** The simulator, benchmarks and drills only ever talk to a local server: anything else is refused. */
export function assertLocalUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`not a URL: ${raw}`);
  }
  if (url.protocol !== "http:" || !LOCAL_HOSTS.has(url.hostname)) {
    throw new Error(`refusing ${raw}: only http://127.0.0.1 or http://localhost URLs are allowed`);
  }
  return url;
}

export interface TimedReply {
  reply: Reply;
  /** Request start to full response (ms); network errors included. */
  ms: number;
}

export interface Transport {
  readonly base: URL;
  post(path: string, token: string, body: string): Promise<TimedReply>;
  get(path: string, token?: string): Promise<TimedReply>;
  close(): void;
}

export function createTransport(baseUrl: string, opts: { maxSockets?: number; timeoutMs?: number } = {}): Transport {
  const base = assertLocalUrl(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64 });
  const timeoutMs = opts.timeoutMs ?? 10_000;

  function request(method: "GET" | "POST", path: string, token: string | undefined, body?: string): Promise<TimedReply> {
    const t0 = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const done = (reply: Reply) => {
        if (settled) return;
        settled = true;
        resolve({ reply, ms: performance.now() - t0 });
      };
      const headers: http.OutgoingHttpHeaders = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(body);
      }
      const req = http.request(
        { host: base.hostname.replace(/^\[|\]$/g, ""), port: base.port || 80, method, path, headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (e) => done({ kind: "network", error: e.message }));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = null;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {
              parsed = text;
            }
            const ra = res.headers["retry-after"];
            done({ kind: "http", status: res.statusCode ?? 0, body: parsed, retryAfter: Array.isArray(ra) ? ra[0] ?? null : ra ?? null });
          });
        },
      );
      // A request that outlives this is a network error to the phone: it retries, and the event id dedupes.
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
      req.on("error", (e) => done({ kind: "network", error: e.message }));
      req.end(body);
    });
  }

  return {
    base,
    post: (path, token, body) => request("POST", path, token, body),
    get: (path, token) => request("GET", path, token),
    close: () => agent.destroy(),
  };
}
