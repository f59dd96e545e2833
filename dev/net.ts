import net from "node:net";

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections at host:port. */
export function canConnect(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Whether `port` on `host` is taken: something accepts connections there, or it cannot be bound
 * (EADDRINUSE/EACCES: a listener on 0.0.0.0 or [::], or a port this user may not take).
 */
export async function portInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
  if (await canConnect(host, port)) return true;
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => resolve(true));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

/** The message `npm run dev` stops with when its port is taken (checked before anything starts). */
export function portInUseMessage(port: number): string {
  return `port ${port} is in use (another npm run dev?): stop it or set PORT=<free port>`;
}
