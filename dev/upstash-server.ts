// An Upstash-compatible REST server over a real Redis, so `@upstash/redis` and
// `@upstash/ratelimit` run unchanged against a local Redis in dev and tests.
//
//   POST /            ["SET","k","v"]            → {"result": "OK"}   (Redis error: 400 {"error"})
//   POST /pipeline    [["SET","k","v"],["GET","k"]] → [{"result"}|{"error"}, …]
//   POST /multi-exec  same, run inside MULTI/EXEC (atomic)
//   GET|POST /set/k/v path-style command (a POST body becomes the last argument)
//
// Every request needs `Authorization: Bearer <token>`. Dev/test only: bind it to loopback.
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import IORedis, { type Pipeline } from "ioredis";

// Through the default export: named imports of this CommonJS package come out undefined when the
// module is evaluated by the Workers vitest project's module runner (global setup).
const { Command, Redis } = IORedis as unknown as typeof import("ioredis");

export type LogFn = (entry: Record<string, unknown>) => void;

export interface UpstashServerOptions {
  redisUrl?: string;
  token: string;
  host?: string;
  port?: number;
  /** Structured log sink; defaults to one JSON line per event on stderr. */
  log?: LogFn;
}

export interface UpstashServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

const stderrLog: LogFn = (entry) =>
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), component: "upstash-server", ...entry }) + "\n");

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const READY_WAIT_MS = 2_000;
const OK = Buffer.from("OK");

// All requests share one Redis connection, so commands that change connection state
// (or never return to request/reply mode) would leak into other requests.
const UNSUPPORTED = new Set([
  "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
  "monitor", "quit", "reset", "select", "multi", "exec", "discard", "watch", "unwatch",
]);

/** Keeps Redis's reply shape: ioredis would turn HGETALL into an object, Upstash clients want the flat array. */
class RawCommand extends Command {
  override transformReply(result: Buffer | Buffer[]): Buffer | Buffer[] {
    return result;
  }
}

class BadRequest extends Error {}

type Arg = string;

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === "ReplyError";
}

function describeReplyError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // EXECABORT only says "previous errors"; the queued command's own error is the useful part.
  const previous = (err as Error & { previousErrors?: Error[] }).previousErrors ?? [];
  return [err.message, ...previous.map((e) => e.message)].join(" ");
}

function toArgs(value: unknown): Arg[] {
  if (!Array.isArray(value) || value.length === 0) throw new BadRequest("ERR command must be a non-empty JSON array");
  return value.map((v) => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v)));
}

function toCommands(value: unknown): Arg[][] {
  if (!Array.isArray(value) || value.length === 0) throw new BadRequest("ERR body must be a non-empty array of commands");
  return value.map(toArgs);
}

// Upstash accepts `#!lua flags=allow-key-locking` (every @upstash/ratelimit script has it);
// Redis rejects unknown shebang flags, so strip the Upstash-only ones before Redis sees them.
const UPSTASH_ONLY_SCRIPT_FLAGS = new Set(["allow-key-locking"]);

function adaptScript(script: string): string {
  const shebang = /^#!lua[^\n]*/.exec(script);
  if (!shebang) return script;
  const line = shebang[0].replace(/\bflags=(\S*)/, (_, list: string) => {
    const kept = list.split(",").filter((flag) => flag && !UPSTASH_ONLY_SCRIPT_FLAGS.has(flag));
    return kept.length > 0 ? `flags=${kept.join(",")}` : "";
  });
  return line.trimEnd() + script.slice(shebang[0].length);
}

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

interface Prepared {
  command: RawCommand;
  /** Undoes what adapting a script changed in the reply (SCRIPT LOAD's sha). */
  fixReply: (reply: unknown) => unknown;
}

/**
 * Builds Redis commands from Upstash ones. A rewritten script has a different SHA1 than the
 * client computed, so remember client sha → Redis sha and translate EVALSHA/SCRIPT calls.
 */
function createPreparer() {
  const shaAliases = new Map<string, string>();
  const adapt = (script: string): { script: string; clientSha: string } => {
    const adapted = adaptScript(script);
    const clientSha = sha1(script);
    if (adapted !== script) shaAliases.set(clientSha, sha1(adapted));
    return { script: adapted, clientSha };
  };
  const alias = (sha: string) => shaAliases.get(sha.toLowerCase()) ?? sha;

  return (args: Arg[]): Prepared => {
    const name = args[0]!.toLowerCase();
    if (UNSUPPORTED.has(name)) throw new BadRequest(`ERR command is not supported by this server: ${args[0]}`);
    const rest = args.slice(1);
    let fixReply = (reply: unknown) => reply;
    const sub = rest[0]?.toLowerCase();
    if ((name === "eval" || name === "eval_ro") && rest[0] !== undefined) {
      rest[0] = adapt(rest[0]).script;
    } else if ((name === "evalsha" || name === "evalsha_ro") && rest[0] !== undefined) {
      rest[0] = alias(rest[0]);
    } else if (name === "script" && sub === "load" && rest[1] !== undefined) {
      const { script, clientSha } = adapt(rest[1]);
      rest[1] = script;
      fixReply = () => clientSha;
    } else if (name === "script" && sub === "exists") {
      for (let i = 1; i < rest.length; i++) rest[i] = alias(rest[i]!);
    }
    // Lower case: ioredis keys its per-command behaviour (flags, blocking timeouts) on it.
    return { command: new RawCommand(name, rest), fixReply };
  };
}

/**
 * Replies as JSON. With `Upstash-Encoding: base64` the client base64-decodes every string
 * except "OK", so encode all of them (from the raw bytes, which also keeps binary values intact).
 */
function encodeReply(value: unknown, base64: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value) || typeof value === "string") {
    const buf = Buffer.isBuffer(value) ? value : Buffer.from(value);
    if (!base64) return buf.toString("utf8");
    return buf.equals(OK) ? "OK" : buf.toString("base64");
  }
  if (Array.isArray(value)) return value.map((v) => encodeReply(v, base64));
  if (value instanceof Error) return value.message; // an error nested in an array reply (Lua)
  return value;
}

function tokensMatch(expected: string, header: string | undefined): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!m) return false;
  // Hash first so timingSafeEqual gets equal lengths.
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(expected), digest(m[1]!.trim()));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest("ERR request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new BadRequest("ERR body is not valid JSON");
  }
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

export async function startUpstashServer(options: UpstashServerOptions): Promise<UpstashServer> {
  const { redisUrl = "redis://127.0.0.1:6379", token, host = "127.0.0.1", port = 0, log = stderrLog } = options;
  if (!token) throw new Error("upstash-server: a token is required");

  // Fail fast instead of queueing: a request while Redis is down gets a 500, not a hang.
  const redis = new Redis(redisUrl, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    commandTimeout: 15_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let redisDown = false;
  redis.on("error", (err: Error) => {
    // ioredis reports every failed reconnect; log an outage once.
    if (redisDown) return;
    redisDown = true;
    log({ level: "warn", event: "redis_error", error: err.message });
  });
  redis.on("ready", () => {
    if (redisDown) log({ level: "info", event: "redis_ready" });
    redisDown = false;
  });

  // Commands are rejected while disconnected; give a (re)connect in progress a moment.
  const whenReady = () =>
    new Promise<void>((resolve, reject) => {
      if (redis.status === "ready") return resolve();
      if (redis.status === "end") return reject(new Error("Redis connection closed"));
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        redis.off("ready", onReady);
        reject(new Error(`Redis unavailable at ${redisUrl}`));
      }, READY_WAIT_MS);
      redis.once("ready", onReady);
    });

  const prepare = createPreparer();

  // What Upstash would bill: every command, one per pipeline or transaction entry. GET /__stats reads it.
  let commandsServed = 0;

  async function runOne(args: Arg[]): Promise<unknown> {
    commandsServed += 1;
    const { command, fixReply } = prepare(args);
    await whenReady();
    return fixReply(await redis.sendCommand(command));
  }

  async function runPipeline(commands: Arg[][]): Promise<({ result: unknown } | { error: string })[]> {
    commandsServed += commands.length;
    const prepared = commands.map(prepare);
    await whenReady();
    // Sent in one tick, so they reach Redis back to back and in order.
    return Promise.all(
      prepared.map(({ command, fixReply }) =>
        (redis.sendCommand(command) as Promise<unknown>).then(
          (result) => ({ result: fixReply(result) }),
          (err: unknown) => {
            if (isReplyError(err)) return { error: err.message };
            throw err;
          },
        ),
      ),
    );
  }

  async function runMultiExec(commands: Arg[][]): Promise<({ result: unknown } | { error: string })[]> {
    commandsServed += commands.length;
    const prepared = commands.map(prepare);
    await whenReady();
    const tx = redis.multi() as unknown as Pipeline;
    for (const { command } of prepared) tx.sendCommand(command);
    const replies = (await tx.exec()) ?? [];
    return replies.map(([err, result], i) => (err ? { error: err.message } : { result: prepared[i]!.fixReply(result) }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!tokensMatch(token, req.headers.authorization)) return send(res, 401, { error: "Unauthorized" });
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const url = new URL(req.url ?? "/", "http://upstash.local");
    const body = await readBody(req);
    const path = url.pathname.replace(/\/+$/, "");
    if (req.method === "GET" && path === "/__stats") return send(res, 200, { commands: commandsServed });

    if (req.method === "POST" && (path === "/pipeline" || path === "/multi-exec")) {
      const commands = toCommands(parseJson(body));
      const replies = path === "/pipeline" ? await runPipeline(commands) : await runMultiExec(commands);
      return send(
        res,
        200,
        replies.map((r) => ("error" in r ? r : { result: encodeReply(r.result, base64) })),
      );
    }

    let args: Arg[];
    if (path === "") {
      if (req.method !== "POST") throw new BadRequest("ERR expected POST with a JSON command array");
      args = toArgs(parseJson(body));
    } else {
      // Path style: /set/k/v?EX=10 ; a POST body is the final argument (the value).
      args = path.split("/").slice(1).map(decodeURIComponent);
      for (const [key, value] of url.searchParams) args.push(key, ...(value ? [value] : []));
      if (req.method === "POST" && body.length > 0) args.push(body.toString("utf8"));
    }
    send(res, 200, { result: encodeReply(await runOne(args), base64) });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      // Redis said no (wrong type, bad script, EXECABORT…): a client error, as on Upstash.
      if (err instanceof BadRequest || isReplyError(err)) return send(res, 400, { error: describeReplyError(err) });
      log({ level: "error", event: "request_failed", path: req.url, error: message });
      if (!res.headersSent) send(res, 500, { error: message });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("upstash-server: unexpected listen address");
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;

  // No waiting for Redis here: each request waits briefly for it, and answers 500 while it is down.
  log({ level: "info", event: "listening", url, redis: redisUrl });

  return {
    port: address.port,
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (redis.status === "ready") await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8079" },
      token: { type: "string", default: process.env.UPSTASH_REDIS_REST_TOKEN },
      redis: { type: "string", default: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" },
    },
  });
  if (!values.token) throw new Error("--token (or UPSTASH_REDIS_REST_TOKEN) is required");
  const server = await startUpstashServer({
    host: values.host,
    port: Number(values.port),
    token: values.token,
    redisUrl: values.redis,
  });
  process.stdout.write(JSON.stringify({ event: "ready", component: "upstash-server", url: server.url, port: server.port }) + "\n");
  const shutdown = () => void server.close().then(() => process.exit(0));
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    stderrLog({ level: "error", event: "fatal", error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
}
