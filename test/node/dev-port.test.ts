// A second `npm run dev` while its port is taken (deploy finding M4): it must stop at once with one line,
// before building or starting anything, and the readiness check must only believe its own wrangler.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT } from "../../dev/dev-vars.ts";
import { freePort, portInUse, portInUseMessage } from "../../dev/net.ts";
import { listensOn, WranglerDev } from "../../dev/wrangler.ts";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

/** An HTTP server answering 200 {"status":"ok"} to everything, like another instance's /healthz. */
async function occupy(host = "127.0.0.1"): Promise<number> {
  const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}'));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as AddressInfo).port;
}

describe("port check", () => {
  it("portInUse: taken on 127.0.0.1 or on every address; free once closed", async () => {
    const local = await occupy();
    expect(await portInUse(local)).toBe(true);
    const wildcard = await occupy("0.0.0.0");
    expect(await portInUse(wildcard)).toBe(true);
    await new Promise((r) => servers.pop()!.close(r));
    expect(await portInUse(wildcard)).toBe(false);
  });

  it("npm run dev with PORT taken: one line on stderr, exit 1, nothing built or started", async () => {
    const port = await occupy();
    const webIndex = path.join(ROOT, "dist/web/index.html");
    const before = fs.existsSync(webIndex) ? fs.statSync(webIndex).mtimeMs : null;
    const devVarsExisted = fs.existsSync(path.join(ROOT, ".dev.vars"));
    const t0 = Date.now();
    // Its own process group, so that if the check ever regressed, whatever it started is stopped below.
    const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), ["dev/dev.ts"], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PORT: String(port) } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    try {
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      expect(stderr).toBe(`${portInUseMessage(port)}\n`);
      expect(stderr).toBe(`port ${port} is in use (another npm run dev?): stop it or set PORT=<free port>\n`);
      expect(code).toBe(1);
      // No "postgres …" / "redis …" lines, no build, no .dev.vars written: it stopped before all of them.
      expect(stdout).toBe("");
      expect(fs.existsSync(webIndex) ? fs.statSync(webIndex).mtimeMs : null).toBe(before);
      expect(fs.existsSync(path.join(ROOT, ".dev.vars"))).toBe(devVarsExisted);
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone, as it should be.
      }
    }
  });

  it("npm run dev with a PORT that is no port number says so", async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(path.join(ROOT, "node_modules/.bin/tsx"), ["dev/dev.ts"], { cwd: ROOT, env: { ...process.env, PORT: "87x" } }, (err, _o, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr })),
    );
    expect(r).toEqual({ code: 2, stderr: "PORT=87x is not a port number (1-65535)\n" });
  });

  it("WranglerDev refuses a taken port before spawning wrangler", async () => {
    const port = await occupy();
    const w = new WranglerDev(ROOT);
    await expect(w.start({ vars: {}, persistTo: path.join(ROOT, ".fieldpulse/never"), port })).rejects.toThrow(portInUseMessage(port));
    expect(w.running()).toBe(false);
  });
});

describe("listensOn: whose socket answers on the port", () => {
  it("true for the process group holding the listener, false for another group", async () => {
    const child = spawn(process.execPath, ["-e", "require('http').createServer((q, r) => r.end()).listen(0, '127.0.0.1', function () { console.log(this.address().port) })"], {
      detached: true,
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const port = Number(await new Promise<string>((r) => child.stdout.once("data", (d) => r(String(d).trim()))));
      expect(await listensOn(child.pid!, port)).toBe(true);
      // This test's own group does not hold it (what a second npm run dev would see of the first one's port).
      const mine = await occupy();
      expect(await listensOn(child.pid!, mine)).toBe(false);
    } finally {
      process.kill(-child.pid!, "SIGKILL");
    }
  });
});

/**
 * A stand-in for node_modules/.bin/wrangler (WranglerDev runs `<root>/node_modules/.bin/wrangler`): it says
 * "started", then serves /healthz on --port itself when `listen` is set, else only waits (as a wrangler that
 * has not bound yet, or is about to fail to).
 */
function fakeRoot(listen: boolean): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "fp-fake-wrangler-"));
  fs.mkdirSync(path.join(root, "node_modules/.bin"), { recursive: true });
  const script = `#!${process.execPath}
const args = process.argv.slice(2);
const port = Number(args[args.indexOf("--port") + 1]);
console.log("started");
setTimeout(() => process.exit(0), 60_000); // never outlives a test that hung
${listen ? "require('http').createServer((q, r) => r.writeHead(200).end('{\"status\":\"ok\"}')).listen(port, '127.0.0.1');" : ""}
`;
  fs.writeFileSync(path.join(root, "node_modules/.bin/wrangler"), script, { mode: 0o755 });
  return root;
}

describe("WranglerDev readiness: only its own wrangler", () => {
  it("a /healthz 200 from whoever took the port meanwhile is not taken for ours", async () => {
    const root = fakeRoot(false);
    const port = await freePort();
    const w = new WranglerDev(root);
    let started!: () => void;
    const sawStart = new Promise<void>((r) => (started = r));
    const starting = w.start({ vars: {}, persistTo: path.join(root, "state"), port, echo: (c) => c.includes("started") && started() });
    let settled = false;
    const outcome = starting.then(() => "ready", (e: Error) => e.message).finally(() => (settled = true));
    try {
      await sawStart;
      // Another instance takes the port after the check, and answers /healthz 200.
      let asked = 0;
      const other = createServer((_q, res) => { asked += 1; res.writeHead(200).end('{"status":"ok"}'); });
      servers.push(other);
      await new Promise<void>((r) => other.listen(port, "127.0.0.1", r));
      // The readiness loop has had the other's 200 several times and still waits.
      while (asked < 3 && !settled) await new Promise((r) => setTimeout(r, 50));
      expect(await Promise.race([outcome, Promise.resolve("still waiting")])).toBe("still waiting");
      // Our wrangler then exits (as a real one does on EADDRINUSE): start() fails, it never says ready.
      await w.stop("SIGKILL");
      expect(await outcome).toMatch(/wrangler dev exited/);
    } finally {
      await w.stop("SIGKILL");
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("is ready once its own wrangler answers", async () => {
    const root = fakeRoot(true);
    const w = new WranglerDev(root);
    try {
      await w.start({ vars: {}, persistTo: path.join(root, "state"), port: await freePort() });
      expect(w.running()).toBe(true);
      expect(w.health).toEqual({ status: "ok" });
    } finally {
      await w.stop("SIGKILL");
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
