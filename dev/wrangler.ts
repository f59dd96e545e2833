/**
 * One `wrangler dev` in its own process group (so stopping it stops workerd too), with its output kept
 * line by line: benches read the Worker's log lines, the crash drill waits for one and SIGKILLs the group.
 * Used by `npm run dev`, the bench and the browser tests (through dev/stack.ts or directly).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { freePort, portInUse, portInUseMessage } from "../dev/net.ts";

const OUTPUT_KEEP = 512 * 1024;
const READY_MS = 90_000;

export interface WranglerStart {
  vars: Record<string, string>;
  /** The Worker's entry instead of wrangler.toml's `main` (the bench runs bench/worker.ts). */
  script?: string;
  /** Durable Object state; wrangler's own config and logs go to `<persistTo>/config`. */
  persistTo: string;
  /** Default: a free port. */
  port?: number;
  /**
   * An assets directory of our own: others rebuilding dist/web must not make this wrangler reload.
   * Default: wrangler.toml's (dist/web).
   */
  assetsDir?: string;
  /** "log" shows the Worker's own console.log lines; "warn" keeps a busy bench quiet. */
  logLevel?: "log" | "info" | "warn" | "error";
  /** Also write everything wrangler prints here (npm run dev shows it on the terminal). */
  echo?: (chunk: string) => void;
  /** Run the cron this often, as the platform does every minute (wrangler dev runs it only on request). */
  cronEveryMs?: number;
  /** Start even when /healthz says 503 misconfigured (`health` has its problems); default: stop and throw them. */
  acceptMisconfigured?: boolean;
  /** Called when wrangler exits without stop() having been asked. */
  onUnexpectedExit?: (code: number | null) => void;
}

export class WranglerDev {
  url = "";
  /** The /healthz body that made start() return. */
  health: { status?: unknown; problems?: unknown } | null = null;
  private child: ChildProcess | null = null;
  private text = "";
  private partial = "";
  private reloadCount = 0;
  private listeners: ((line: string) => void)[] = [];
  private cron: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly root: string) {}

  running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(opts: WranglerStart): Promise<void> {
    if (this.running()) throw new Error("wrangler dev is already running");
    const port = opts.port ?? (await freePort());
    // Taken already: wrangler would fail to bind while /healthz answered from whoever holds the port.
    if (opts.port !== undefined && (await portInUse(port))) throw new Error(portInUseMessage(port));
    this.stopping = false;
    this.text = "";
    this.partial = "";
    this.reloadCount = 0;
    const proc = spawn(
      path.join(this.root, "node_modules/.bin/wrangler"),
      ["dev", ...(opts.script ? [opts.script] : []), "--ip", "127.0.0.1", "--port", String(port), "--test-scheduled", "--show-interactive-dev-session=false",
        "--inspector-port", String(await freePort()), "--persist-to", opts.persistTo,
        ...(opts.assetsDir ? ["--assets", opts.assetsDir] : []), "--log-level", opts.logLevel ?? "warn", ...Object.entries(opts.vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])],
      {
        cwd: this.root,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", XDG_CONFIG_HOME: path.join(opts.persistTo, "config") },
      },
    );
    this.child = proc;
    const onData = (d: Buffer) => {
      const chunk = d.toString("utf8");
      opts.echo?.(chunk);
      this.take(chunk);
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    this.url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + READY_MS;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`wrangler dev exited (${proc.exitCode ?? proc.signalCode}):\n${this.text.slice(-4000)}`);
      const health = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(5_000) })
        .then(async (r) => ({ ok: r.ok, body: (await r.json().catch(() => null)) as { status?: unknown; problems?: unknown } | null }))
        .catch(() => null);
      const misconfigured = health?.body?.status === "misconfigured";
      // Ready only when the answer came from our own wrangler: its process group holds the listening socket
      // (someone else may have taken the port since the check above; then our wrangler exits, reported above).
      if ((health?.ok || misconfigured) && proc.pid !== undefined && (await listensOn(proc.pid, port)) !== false) {
        this.health = health!.body;
        if (!misconfigured || opts.acceptMisconfigured) break;
        await this.stop();
        const problems = Array.isArray(health!.body!.problems) ? health!.body!.problems.join("; ") : "";
        throw new Error(`the Worker says it is misconfigured (/healthz 503): ${problems}`);
      }
      if (Date.now() > deadline) {
        await this.stop("SIGKILL");
        throw new Error(`wrangler dev did not answer /healthz within ${READY_MS / 1000} s:\n${this.text.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    proc.once("exit", (code) => {
      clearInterval(this.cron);
      if (!this.stopping) opts.onUnexpectedExit?.(code);
    });
    if (opts.cronEveryMs) {
      this.cron = setInterval(() => void this.triggerCron().catch(() => undefined), opts.cronEveryMs);
      this.cron.unref();
    }
  }

  /** GET /__scheduled: run the Worker's `scheduled()` now (flush dirty teams, publish figures). */
  async triggerCron(timeoutMs = 60_000): Promise<void> {
    const res = await fetch(`${this.url}/__scheduled?cron=*+*+*+*+*`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.text();
  }

  /** Signal the whole process group and wait until every member is gone (SIGKILL after 8 s). */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const proc = this.child;
    this.stopping = true;
    clearInterval(this.cron);
    if (!proc?.pid || !this.running()) return;
    const exited = new Promise((r) => proc.once("exit", r));
    if (!signalGroup(proc.pid, signal)) return;
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 8_000))]);
    if (timedOut) {
      signalGroup(proc.pid, "SIGKILL");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
    }
    // workerd may outlive the wrangler node process by a moment.
    for (const until = Date.now() + 5_000; Date.now() < until && signalGroup(proc.pid, 0); ) await new Promise((r) => setTimeout(r, 100));
  }

  /** For the process' exit hook: no waiting possible there. */
  killNow(): void {
    if (this.child?.pid && this.running()) signalGroup(this.child.pid, "SIGKILL");
  }

  output(): string {
    return this.text;
  }

  /** Times wrangler rebuilt the Worker since it started: a source file changed under it. */
  reloads(): number {
    return this.reloadCount;
  }

  onOutputLine<T>(listener: (line: string) => void, result: () => T): { stop: () => T } {
    this.listeners.push(listener);
    return {
      stop: () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        return result();
      },
    };
  }

  /** The first line matching `pattern` printed from now on. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const sub = this.onOutputLine((line) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        sub.stop();
        resolve(line);
      }, () => undefined);
      const timer = setTimeout(() => {
        sub.stop();
        reject(new Error(`no line matching ${pattern} in wrangler's output within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  private take(chunk: string): void {
    this.text += chunk;
    if (this.text.length > OUTPUT_KEEP) this.text = this.text.slice(-OUTPUT_KEEP / 2);
    const lines = (this.partial + chunk).split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.includes("Reloading local server")) this.reloadCount += 1;
      for (const l of [...this.listeners]) l(line);
    }
  }
}

/**
 * Whether a process of group `pgid` holds the TCP socket listening on `port`: from /proc on Linux, else
 * `lsof`; null when neither can tell.
 */
export async function listensOn(pgid: number, port: number): Promise<boolean | null> {
  if (fs.existsSync("/proc/net/tcp")) {
    const inodes = new Set<string>();
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      let text = "";
      try {
        text = fs.readFileSync(table, "utf8");
      } catch {
        continue;
      }
      for (const row of text.split("\n").slice(1)) {
        const f = row.trim().split(/\s+/);
        // local_address is ADDR:PORT in hex; st 0A = LISTEN; the inode is field 9.
        if (f.length > 9 && f[3] === "0A" && parseInt(f[1]!.split(":").pop()!, 16) === port) inodes.add(f[9]!);
      }
    }
    if (inodes.size === 0) return false;
    for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) !== pgid) continue;
        for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
          const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: "utf8" });
          const m = /^socket:\[(\d+)\]$/.exec(target);
          if (m && inodes.has(m[1]!)) return true;
        }
      } catch {
        // Gone meanwhile, or not ours to read.
      }
    }
    return false;
  }
  return new Promise((resolve) => {
    execFile("lsof", ["-a", "-g", String(pgid), `-iTCP:${port}`, "-sTCP:LISTEN", "-t"], (err, stdout) => {
      // lsof exits 1 when nothing matched; ENOENT: no lsof.
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") resolve(null);
      else resolve(stdout.trim().length > 0);
    });
  });
}

/** kill(-pgid, signal); false when the group is gone. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
