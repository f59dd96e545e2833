import { spawn } from "node:child_process";
import { canConnect, freePort } from "../../dev/net.ts";

/** The machine's Redis when it answers; else a throwaway redis-server if one is on PATH. */
export async function ensureRedis(url: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const u = new URL(url);
  if (await canConnect(u.hostname, Number(u.port || 6379))) return { url, stop: async () => {} };
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const failed = new Promise<never>((_, reject) => child.once("error", (e) => reject(new Error(`no Redis at ${url} and redis-server could not start: ${e.message}`))));
  const deadline = Date.now() + 10_000;
  while (!(await Promise.race([canConnect("127.0.0.1", port), failed]))) {
    if (Date.now() > deadline) throw new Error("redis-server did not start within 10 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGTERM");
    },
  };
}
